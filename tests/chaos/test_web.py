"""kill -9 of the web process during webhook intake: every `202` answered becomes a finished process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests

from processes.models import Process, ProcessEvent
from tests.chaos.books import ROWS, Row
from tests.chaos.servers import free_port, wait_port
from tests.topology.runtime.harness import ROOT, RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime.spec import build_version
from topology.webhooks import webhook_urls

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.chaos_full]

REQUESTS = 600
CLIENTS = 6


def start_web(runtime: RuntimeEnv, port: int) -> subprocess.Popen[bytes]:
    log = (ROOT / "test-results").joinpath("chaos-web.log")
    log.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
        cwd=ROOT,
        env=runtime.env(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_port(port, up=True, timeout=60)
    return proc


def test_kill_9_web_during_webhook_intake(tenant_a):
    with RuntimeEnv("chaos-web") as runtime:
        runtime.start_engine()
        version = make_runtime_version(
            tenant_a,
            {"start": "start.webhook", "a": ("python", {"registry": "flowyard.noop"}), "end": "end"},
            ["start>a", "a>end"],
        )
        for node in build_version(version).nodes.values():
            runtime.wait_consumers(node.queues(), timeout=120)
        path = "/hooks/" + webhook_urls(topology=version.topology)["start"].rsplit("/hooks/", 1)[1]
        port = free_port()
        web = start_web(runtime, port)
        accepted: list[str] = []
        refused = [0]
        lock = threading.Lock()
        counter = iter(range(REQUESTS))

        def client() -> None:
            session = requests.Session()
            for n in counter:
                for _ in range(300):  # like a webhook sender: retry until answered
                    try:
                        response = session.post(f"http://127.0.0.1:{port}{path}", json={"n": n}, timeout=30)
                    except requests.RequestException:
                        with lock:
                            refused[0] += 1  # never answered: nothing was promised
                        time.sleep(0.2)
                        continue
                    with lock:
                        if response.status_code == 202:
                            accepted.append(response.json()["correlation_id"])
                        else:
                            refused[0] += 1
                    break

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(accepted) < REQUESTS // 3:
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.05)
        web.send_signal(signal.SIGKILL)
        web.wait()
        web = start_web(runtime, port)
        healed = time.monotonic()
        for thread in threads:
            thread.join()
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=20)
        processes = Process.objects.filter(correlation_id__in=accepted)
        recovery = None
        deadline = time.monotonic() + 180
        while processes.filter(status=Process.Status.IN_PROGRESS).exists() or processes.count() < len(accepted):
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.2)
        recovery = time.monotonic() - healed
        reached = set(
            ProcessEvent.objects.filter(process__in=processes, node_key="end").values_list("process_id", flat=True)
        )
        # Rows written before the kill whose first message never got its confirm: no 202 went out for them.
        orphans = Process.objects.filter(version=version, status=Process.Status.IN_PROGRESS).exclude(
            correlation_id__in=accepted
        )
        row: Any = Row(
            fault=f"kill -9 web in webhook intake ({refused[0]} retried, {orphans.count()} orphan rows)",
            processes=len(accepted),
            lost=len(accepted) - len(reached),
            stuck=processes.filter(status=Process.Status.IN_PROGRESS).count(),
            trashed=processes.filter(status=Process.Status.FAILED).count(),
            duplicates=sum(processes.values_list("duplicates", flat=True)),
            recovery=recovery,
        )
        ROWS.append(row)
    assert len(set(accepted)) == len(accepted)
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), row
