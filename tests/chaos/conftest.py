from __future__ import annotations

from typing import Any

import pytest

from tests.chaos.books import FULL, REPORT, ROWS, table
from tests.chaos.servers import RabbitNode, RedisServer


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "chaos_full: a chaos scenario only `make chaos` runs (CI runs the short form)")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    # The short form (every CI run) leaves the longer scenarios out; `make chaos` (FLOWYARD_CHAOS=full) runs all.
    if FULL:
        return
    keep = [item for item in items if item.get_closest_marker("chaos_full") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ROWS:
        text = table(ROWS)
        terminalreporter.write_sep("=", "chaos: the books after each fault")
        terminalreporter.write_line(text)
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(text + "\n")


@pytest.fixture(scope="module")
def rabbit():
    """A RabbitMQ node of the module's own, which its scenarios may stop."""
    node = RabbitNode().start()
    yield node
    node.close()


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.close()
