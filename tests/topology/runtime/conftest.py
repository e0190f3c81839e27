from __future__ import annotations

import pytest

from tests.topology.runtime.harness import RuntimeEnv, Stub


@pytest.fixture(scope="module")
def runtime(request, django_db_setup, django_db_blocker):
    """One engine subprocess for the module, with broker names of its own; removed afterwards."""
    with RuntimeEnv(request.module.__name__.rsplit(".", 1)[-1].replace("_", "")) as env:
        for _ in range(getattr(request.module, "ENGINES", 1)):
            env.start_engine()
        yield env


@pytest.fixture(scope="module")
def stub():
    server = Stub()
    yield server
    server.close()
