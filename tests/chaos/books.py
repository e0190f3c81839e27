"""Chaos scenarios' bookkeeping: counted processes through real engines, a fault, then the books checked.

Every scenario pushes a linear topology (start > a > b > end) and a parallel one (start > fork > left, right >
join > end), injects its fault mid-run, heals it, and waits. The books: every process finished (`stuck` counts
those still running), every `success` reached its end node (`lost` counts the ones that did not, and rows that
vanished), `trashed` the failed ones, `duplicates` the redelivered runs the recorder recognised, and `recovery`
the seconds from the fault's end until processes finished again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Sum

from processes.models import Process, ProcessEvent
from processes.services import process_start_many
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.models import TopologyVersion
from topology.runtime.spec import build_version

FULL = os.environ.get("FLOWYARD_CHAOS", "") == "full"
# CI's short form keeps counts small (2 shared cores); `make chaos` pushes more.
LINEAR = 1500 if FULL else 200
PARALLEL = 500 if FULL else 100
FINISH_TIMEOUT = 420.0 if FULL else 240.0
REPORT = Path(__file__).resolve().parents[2] / "test-results" / "chaos.txt"


@dataclass
class Row:
    """One line of the chaos table."""

    fault: str
    processes: int
    lost: int
    stuck: int
    trashed: int
    duplicates: int
    recovery: float | None

    def cells(self) -> list[str]:
        recovery = "-" if self.recovery is None else f"{self.recovery:.1f}"
        return [
            self.fault,
            *(str(v) for v in (self.processes, self.lost, self.stuck, self.trashed)),
            str(self.duplicates),
            recovery,
        ]


ROWS: list[Row] = []
HEADER = ["fault", "processes", "lost", "stuck", "trashed", "duplicates", "recovery s"]


def table(rows: list[Row]) -> str:
    lines = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = [
        " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    ]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def linear_version(tenant: Any, **extra: Any) -> TopologyVersion:
    return make_runtime_version(
        tenant,
        {
            "start": "start.manual",
            "a": ("python", {"registry": "flowyard.noop"}, extra),
            "b": ("python", {"registry": "flowyard.echo"}, extra),
            "end": "end",
        },
        ["start>a", "a>b", "b>end"],
    )


def parallel_version(tenant: Any) -> TopologyVersion:
    return make_runtime_version(
        tenant,
        {
            "start": "start.manual",
            "fork": "fanout",
            "left": ("python", {"registry": "flowyard.noop"}),
            "right": ("python", {"registry": "flowyard.echo"}),
            "join": "join",
            "end": "end",
        },
        ["start>fork", "fork>left", "fork>right", "left>join", "right>join", "join>end"],
    )


class Scenario:
    """Counted processes through the engines of `runtime`, one fault, and the books afterwards."""

    def __init__(self, runtime: RuntimeEnv, tenant: Any, fault: str, *, linear: int = LINEAR, parallel: int = PARALLEL):
        self.runtime = runtime
        self.fault = fault
        self.counts: dict[str, int] = {"linear": linear, "parallel": parallel}
        self.versions: dict[str, TopologyVersion | None] = {
            "linear": linear_version(tenant) if linear else None,
            "parallel": parallel_version(tenant) if parallel else None,
        }
        self.heal_time: float | None = None
        self.finished_at_heal = 0
        self.recovery: float | None = None

    def add(self, name: str, version: TopologyVersion, count: int) -> None:
        """Another topology to push `count` processes through (e.g. one calling a remote stub)."""
        self.versions[name] = version
        self.counts[name] = count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def processes(self) -> Any:
        return Process.objects.filter(version__in=[v for v in self.versions.values() if v is not None])

    def finished(self) -> int:
        return int(self.processes().exclude(status=Process.Status.IN_PROGRESS).count())

    def wait_ready(self, engines: int = 1, timeout: float = 120) -> None:
        for version in self.versions.values():
            if version is not None:
                for node in build_version(version).nodes.values():
                    self.runtime.wait_consumers(node.queues(), minimum=engines, timeout=timeout)

    def push(self) -> None:
        for kind, version in self.versions.items():
            if version is not None:
                process_start_many(
                    version=version, bodies=[{"n": i, "pad": "x" * 100} for i in range(self.counts[kind])]
                )

    def wait_finished(self, fraction: float, timeout: float = 120) -> None:
        """Until `fraction` of the processes finished: the fault then hits a run in full flow."""
        deadline = time.monotonic() + timeout
        while self.finished() < self.total * fraction:
            assert time.monotonic() < deadline, f"{self.fault}: no progress before the fault\n{self.runtime.log_tail()}"
            time.sleep(0.05)

    def healed(self) -> None:
        self.heal_time = time.monotonic()
        self.finished_at_heal = self.finished()

    def finish(self, timeout: float = FINISH_TIMEOUT) -> Row:
        """Wait until every process finished (or the timeout), measuring recovery, then check the books."""
        if self.heal_time is None:
            self.healed()
        assert self.heal_time is not None
        deadline = time.monotonic() + timeout
        while True:
            done = self.finished()
            if self.recovery is None and (done > self.finished_at_heal or done >= self.total):
                self.recovery = 0.0 if self.finished_at_heal >= self.total else time.monotonic() - self.heal_time
            if done >= self.total or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        # The last finish may land just before counters of duplicates from late redeliveries: let those settle.
        time.sleep(1)
        return self.books()

    def books(self) -> Row:
        processes = self.processes()
        rows = processes.count()
        success = processes.filter(status=Process.Status.SUCCESS)
        reached = set(
            ProcessEvent.objects.filter(process__in=success, node_key="end", result_code=0)
            .values_list("process_id", flat=True)
            .distinct()
        )
        early = success.exclude(pk__in=reached).count()
        row = Row(
            fault=self.fault,
            processes=self.total,
            lost=(self.total - rows) + early,
            stuck=processes.filter(status=Process.Status.IN_PROGRESS).count(),
            trashed=processes.filter(status=Process.Status.FAILED).count(),
            duplicates=int(processes.aggregate(n=Sum("duplicates"))["n"] or 0),
            recovery=self.recovery,
        )
        ROWS.append(row)
        return row

    def report(self, row: Row) -> str:
        return f"{table([row])}\n{self.runtime.log_tail(20)}"
