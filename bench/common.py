"""Shared pieces of the benchmarks: results, percentiles, child processes, payloads, broker clean-up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# One id per `bench/run.py` invocation: every queue, exchange, Redis key and database the run creates carries it, so
# nothing collides with the other engineers' tests on the shared broker and clean-up can find everything.
RUN_ID = os.environ.get("BENCH_RUN_ID") or f"bench{os.getpid()}{uuid.uuid4().hex[:6]}"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def queue_type() -> str:
    """The queue type the baselines declare; quorum by default, like Flowyard's node queues (DESIGN.md §5)."""
    return os.environ.get("BENCH_QUEUE_TYPE", "quorum")


@dataclass
class Metric:
    """One figure of one benchmark; `target` with `higher_is_better` decides PASS/MISS."""

    benchmark: str
    metric: str
    value: float | None
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if self.value is None:
            return "MISS"
        ok = self.value >= self.target if self.higher_is_better else self.value < self.target
        return "PASS" if ok else "MISS"


@dataclass
class BenchResult:
    """What one benchmark module returns: its metrics, free-form details, and an error if it failed."""

    name: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def add(self, metric: str, value: float | None, unit: str, **kwargs: Any) -> Metric:
        item = Metric(self.name, metric, value, unit, **kwargs)
        self.metrics.append(item)
        return item

    def get(self, metric: str) -> float | None:
        for item in self.metrics:
            if item.metric == metric:
                return item.value
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": [{**asdict(m), "verdict": m.verdict} for m in self.metrics],
            "details": self.details,
            "error": self.error,
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def add_throughput(
    result: BenchResult, *, count: int, seconds: float, latencies_ms: Sequence[float], unit: str
) -> None:
    """Record the standard trio: rate, p50 and p99 end-to-end latency."""
    result.add("throughput", count / seconds if seconds > 0 else None, unit)
    result.add("latency p50", percentile(latencies_ms, 50), "ms", higher_is_better=False)
    result.add("latency p99", percentile(latencies_ms, 99), "ms", higher_is_better=False)
    result.details.update({"count": count, "seconds": round(seconds, 3)})


def payload(index: int, size: int = 1024) -> bytes:
    """A ~1 KB JSON document, different per message so nothing can be cached."""
    doc: dict[str, Any] = {"id": index, "order": f"ORD-{index:08d}", "customer": {"name": "Ada Lovelace", "tier": 3}}
    doc["items"] = [{"sku": f"SKU-{index % 97}-{i}", "qty": i + 1, "price": 9.99 + i} for i in range(5)]
    base = len(json.dumps(doc).encode())
    doc["note"] = "x" * max(0, size - base - len(', "note": ""'))
    return json.dumps(doc).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"child {process.args!r} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; every wait in the benchmarks is bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Children:
    """Child processes of one benchmark, each in its own session so stopping it also stops its own children
    (Celery's pool, an engine's workers) without touching anything this run did not start."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], *, env: dict[str, str] | None = None, log_name: str) -> subprocess.Popen[bytes]:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log = (RESULTS_DIR / f"{log_name}.log").open("ab")
        try:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # A graceful leader can exit before its pool; the session id is the leader's pid, and is ours.
        _signal_group(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                print(f"  warning: could not stop pid {proc.pid}: {exc}", file=sys.stderr)
        self.procs.clear()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextmanager
def children() -> Iterator[Children]:
    group = Children()
    try:
        yield group
    finally:
        group.stop_all()


def rss_kb(pid: int) -> int | None:
    """Resident set size of `pid` in kB, from /proc (psutil is not a dependency)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by `pid` (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def tree_pids(pid: int) -> list[int]:
    """`pid` and its descendants (an engine may run workers in child processes)."""
    found = [pid]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.extend(tree_pids(int(proc.name)))
    return found


# --- broker clean-up ---------------------------------------------------------------------------------------------


def _rabbitmqctl(*args: str) -> list[str]:
    try:
        out = subprocess.run(
            ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split("\t")[0].strip() for line in out.splitlines() if line.strip()]


def broker_names_with(marker: str) -> tuple[list[str], list[str]]:
    """Queues and exchanges whose name contains `marker` (via rabbitmqctl when it is usable)."""
    queues = [name for name in _rabbitmqctl("list_queues", "name") if marker in name]
    exchanges = [name for name in _rabbitmqctl("list_exchanges", "name") if marker in name]
    return queues, exchanges


def consumer_count(queue: str) -> int:
    """Consumers on `queue` right now (0 when it does not exist)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.consumer_count)
    except Exception:
        return 0
    finally:
        if conn.is_open:
            conn.close()


def delete_broker_objects(queues: Sequence[str] = (), exchanges: Sequence[str] = (), marker: str = RUN_ID) -> int:
    """Delete the named queues/exchanges plus any other whose name carries `marker`; returns how many went."""
    import pika

    found_q, found_x = broker_names_with(marker) if marker else ([], [])
    all_q = sorted(set(queues) | set(found_q))
    all_x = sorted(set(exchanges) | set(found_x))
    deleted = 0
    if not all_q and not all_x:
        return 0
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        for name in all_q:
            ch = conn.channel()
            try:
                ch.queue_delete(name)
                deleted += 1
            except Exception:  # already gone: the channel is closed by the broker, open a new one
                pass
            finally:
                if ch.is_open:
                    ch.close()
        for name in all_x:
            ch = conn.channel()
            try:
                ch.exchange_delete(name)
                deleted += 1
            except Exception:
                pass
            finally:
                if ch.is_open:
                    ch.close()
    finally:
        conn.close()
    return deleted


# --- a slow HTTP stub -------------------------------------------------------------------------------------------


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog (5) refuses connections when an engine opens 20 at once.
    request_queue_size = 128


class StubServer:
    """A threaded local HTTP server that answers every request after `delay` seconds with a JSON echo."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.hits = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One segment per answer, sent at once, as production servers do: with the default unbuffered writer
            # the headers and the body went out as two writes, and Nagle's algorithm held the body back until the
            # client's delayed ACK of the headers (up to 40 ms per call on Linux).
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b"{}"
                time.sleep(stub.delay)
                with stub._lock:
                    stub.hits += 1
                out = body if body.strip().startswith((b"{", b"[")) else b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _StubHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="stub-http", daemon=True)

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
