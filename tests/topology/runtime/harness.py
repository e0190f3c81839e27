"""Test harness for the runtime: unique broker names per module, engine subprocesses, a stub HTTP server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pika
import requests
from django.conf import settings
from django.db import connection
from django.test import override_settings

from processes.models import Process, ProcessEvent
from topology.runtime.spec import build_version

ROOT = Path(__file__).resolve().parents[3]
DELAY_TIERS = "100,500,2000"
# The local stub server is loopback, which the egress policy refuses unless a deployment allows it.
EGRESS_ALLOW = "127.0.0.1/32"


def database_url() -> str:
    """The URL of the test database this process uses, for engine subprocesses."""
    sd = connection.settings_dict
    if sd["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{sd['NAME']}"
    auth = sd["USER"] + (f":{sd['PASSWORD']}" if sd.get("PASSWORD") else "")
    return f"postgres://{auth}@{sd['HOST'] or '127.0.0.1'}:{sd['PORT'] or 5432}/{sd['NAME']}"


class RuntimeEnv:
    """Unique exchange/prefix for one test module, the engines it runs, and cleanup of everything it made."""

    def __init__(self, name: str, *, amqp_url: str | None = None, redis_url: str | None = None) -> None:
        suffix = f"{name}-{uuid.uuid4().hex[:8]}"
        self.exchange = f"fytest-{suffix}"
        self.prefix = f"fytest-{suffix}"
        self.redis_prefix = f"fytest-{suffix}"
        self.engines: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        # Chaos scenarios point engines and this process at servers of their own, which they may stop.
        self.servers = {"AMQP_URL": amqp_url or settings.AMQP_URL, "REDIS_URL": redis_url or settings.REDIS_URL}
        self._override = override_settings(
            **self.servers,
            FLOWYARD_EXCHANGE=self.exchange,
            FLOWYARD_QUEUE_PREFIX=self.prefix,
            FLOWYARD_REDIS_PREFIX=self.redis_prefix,
            FLOWYARD_DELAY_TIERS_MS=[int(v) for v in DELAY_TIERS.split(",")],
            FLOWYARD_NODE_MODULES=["tests.topology.runtime.nodes_for_tests"],
            FLOWYARD_EGRESS_ALLOW=[EGRESS_ALLOW],
        )

    def __enter__(self) -> RuntimeEnv:
        self._override.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_engines()
        self.cleanup_broker()
        self.cleanup_redis()
        self._override.disable()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            **self.servers,
            DATABASE_URL=database_url(),
            FLOWYARD_EXCHANGE=self.exchange,
            FLOWYARD_QUEUE_PREFIX=self.prefix,
            FLOWYARD_REDIS_PREFIX=self.redis_prefix,
            FLOWYARD_DELAY_TIERS_MS=DELAY_TIERS,
            FLOWYARD_NODE_MODULES="tests.topology.runtime.nodes_for_tests",
            FLOWYARD_LIMITER_AUDIT="1",  # admission times, to check the limiter apart from OS scheduling jitter
            FLOWYARD_EGRESS_ALLOW=EGRESS_ALLOW,
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        return env

    def start_engine(
        self, *args: str, env: dict[str, str] | None = None, supervised: bool = False
    ) -> subprocess.Popen[bytes]:
        """An engine subprocess; `supervised` runs it under admin_ui.supervise, which restarts it when it dies."""
        log = Path(f"/tmp/{self.prefix}-engine{len(self.engines)}.log")
        handle = log.open("wb")
        supervisor = [sys.executable, "-m", "admin_ui.supervise"] if supervised else []
        proc = subprocess.Popen(
            [*supervisor, sys.executable, str(ROOT / "manage.py"), "engine", *args],
            cwd=ROOT,
            env={**self.env(), **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        self.engines.append(proc)
        self.logs.append(log)
        return proc

    def stop_engines(self) -> None:
        for proc in self.engines:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.engines:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.engines = []

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            if log.exists():
                out.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def channel(self) -> tuple[pika.BlockingConnection, Any]:
        # A cluster's URLs are comma-separated: any node that answers will do.
        urls = [url for url in self.servers["AMQP_URL"].split(",") if url]
        conn = pika.BlockingConnection([pika.URLParameters(url) for url in urls])
        return conn, conn.channel()

    def consumers(self, queue: str) -> int:
        conn, ch = self.channel()
        try:
            return int(ch.queue_declare(queue=queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if conn.is_open:
                conn.close()

    def wait_consumers(self, queues: list[str], minimum: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        for queue in queues:
            while self.consumers(queue) < minimum:
                assert time.monotonic() < deadline, f"no consumer on {queue}\n{self.log_tail()}"
                time.sleep(0.1)

    def cleanup_broker(self) -> None:
        from tests.topology.runtime_factories import DECLARED_QUEUES
        from topology.runtime import names

        queues = [q for q in DECLARED_QUEUES if q.startswith(self.prefix + ".")]
        queues += [names.events_queue()] + [names.delay_queue(ms) for ms in names.delay_tiers()]
        exchanges = [names.exchange(), names.control_exchange(), names.events_exchange()]
        exchanges += [names.delay_exchange(ms) for ms in names.delay_tiers()]
        conn, ch = self.channel()
        for queue in queues:
            ch.queue_delete(queue=queue)
        for exchange in exchanges:
            ch.exchange_delete(exchange=exchange)
        conn.close()
        from topology.runtime.broker import publisher
        from topology.runtime.start_publisher import start_publisher

        publisher.close()
        start_publisher.close()

    def cleanup_redis(self) -> None:
        from topology.runtime import state

        client = state.client()
        keys = list(client.scan_iter(f"{self.redis_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


def celery_worker_argv(queue: str) -> list[str]:
    """A solo Celery worker on its own queue, quiet towards the other workers on this machine."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "admin_ui",
        "worker",
        "-Q",
        queue,
        "--pool=solo",
        # A node name of its own: the remote-control queue is exclusive per node name, and any other
        # worker on this machine (another test run, `make run`) is celery@<host> too.
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def ready(runtime: RuntimeEnv, version: Any, *, timeout: float = 20) -> Any:
    """Wait until every queue of the version's nodes has a consumer; returns the version."""
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), timeout=timeout)
    return version


def runs(process: Process, node_key: str) -> list[ProcessEvent]:
    """The node's runs in this process, in the order they started."""
    return list(ProcessEvent.objects.filter(process=process, node_key=node_key).order_by("started_at", "id"))


def wait_process(correlation_id: str, *, timeout: float = 30, env: RuntimeEnv | None = None) -> Process:
    """Poll until the process has finished (success, failed or terminated).

    Webhook and REST starts write no row: the recorder creates it from the start's events, so wait for it too.
    """
    deadline = time.monotonic() + timeout
    while True:
        process = Process.objects.filter(correlation_id=correlation_id).first()
        if process is not None and process.status != Process.Status.IN_PROGRESS:
            return process
        if time.monotonic() > deadline:
            tail = env.log_tail() if env else ""
            state = f"done={process.done} total={process.total}" if process else "no row"
            raise AssertionError(f"process still in progress: {state}\n{tail}")
        time.sleep(0.1)


class Stub:
    """A local HTTP server standing in for remote APIs and workers; routes map a path to a handler."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {}
        self.calls: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    data = json.loads(raw) if raw else None
                except ValueError:
                    data = raw.decode(errors="replace")
                path = self.path.split("?")[0]
                call = {
                    "path": path,
                    "method": self.command,
                    "json": data,
                    "headers": dict(self.headers),
                    "at": time.time(),
                }
                stub.calls.append(call)
                handler = stub.routes.get(path)
                # A handler answers (status, body) or (status, body, extra response headers).
                status, body, *extra = handler(call) if handler else (404, {"error": "no route"})
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path: str) -> int:
        return sum(1 for c in self.calls if c["path"] == path)

    def close(self) -> None:
        self.server.shutdown()


class SdkWorker:
    """A remote worker on Orchesty's Node.js SDK (tests/orchesty_worker), run with node on a free port."""

    DIR = ROOT / "tests" / "orchesty_worker"

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = Path(f"/tmp/fytest-sdk-worker-{port}.log")
        env = dict(os.environ, APP_PORT=str(port), APP_ENV="prod")
        self.proc = subprocess.Popen(
            ["node", "worker.js"], cwd=self.DIR, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/custom-node/list", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                assert self.proc.poll() is None, self.log.read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "the SDK worker did not start"
                time.sleep(0.2)

    def calls(self, node: str | None = None) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = requests.get(f"{self.url}/test/calls", timeout=5).json()
        return [c for c in calls if node is None or c["node"] == node]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
