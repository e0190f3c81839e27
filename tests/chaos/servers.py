"""Servers a chaos scenario starts for itself (own ports, own directories) so it may stop them at will.

The machine's shared RabbitMQ, Redis and database are never stopped: a scenario that breaks a server breaks one
of these.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, *, up: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            listening = sock.connect_ex(("127.0.0.1", port)) == 0
        if listening == up:
            return
        time.sleep(0.1)
    raise AssertionError(f"port {port} still {'closed' if up else 'open'} after {timeout} s")


class RabbitNode:
    """A RabbitMQ node of our own: own node name, AMQP and distribution ports, data and log directories."""

    def __init__(self, cookie: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fychaos-rabbit-"))
        self.name = f"fychaos{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopped = False  # its app stopped by the scenario
        (self.dir / "enabled_plugins").write_text("[].\n")  # no management plugin, no extra ports
        if cookie is not None:
            # Nodes of one cluster (and the CLI talking to them) must share the Erlang cookie.
            path = self.dir / ".erlang.cookie"
            path.write_text(cookie)
            path.chmod(0o400)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.dir),  # the Erlang cookie lives here, shared by the server and our rabbitmqctl calls
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq"),
            RABBITMQ_PID_FILE=str(self.dir / "pid"),
        )
        return env

    def start(self, timeout: float = 90) -> RabbitNode:
        self.launch()
        wait_port(self.port, up=True, timeout=timeout)
        return self

    def launch(self) -> None:
        """Start the server without waiting for its port (nodes of a cluster boot side by side)."""
        log = (self.dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            cwd=self.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode:
            raise AssertionError(f"rabbitmqctl {' '.join(args)}: {done.returncode}\n{done.stdout!r}\n{done.stderr!r}")
        return done.stdout.decode()

    def stop_app(self) -> None:
        self.ctl("stop_app")
        self.stopped = True
        wait_port(self.port, up=False, timeout=30)

    def start_app(self) -> None:
        self.ctl("start_app")
        self.stopped = False
        wait_port(self.port, up=True, timeout=60)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctl("stop", timeout=30)
                self.proc.wait(timeout=30)
            except (subprocess.SubprocessError, OSError):
                pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class RabbitCluster:
    """Three RabbitMQ nodes of our own, clustered: one Erlang cookie, own node names, ports and directories."""

    def __init__(self, size: int = 3) -> None:
        cookie = uuid.uuid4().hex.upper()
        self.nodes = [RabbitNode(cookie) for _ in range(size)]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated, as `AMQP_URL` takes a cluster."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> RabbitCluster:
        first, *others = self.nodes
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            wait_port(node.port, up=True, timeout=120)
        for node in others:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
            wait_port(node.port, up=True, timeout=60)
        running = json.loads(first.ctl("cluster_status", "--formatter", "json"))["running_nodes"]
        assert sorted(running) == sorted(n.name for n in self.nodes), running
        return self

    def leaders(self, prefix: str) -> dict[str, str]:
        """The leader node of every quorum queue whose name starts with `prefix`."""
        running = [node for node in self.nodes if not node.stopped]
        rows = json.loads(running[0].ctl("list_queues", "name", "leader", "--formatter", "json"))
        return {row["name"]: row["leader"] for row in rows if row["name"].startswith(prefix)}

    def node(self, name: str) -> RabbitNode:
        return next(node for node in self.nodes if node.name == name)

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class RedisServer:
    """A redis-server of our own on its own port, without persistence: a restart comes back empty."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fychaos-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, up=True, timeout=20)
        redis.Redis.from_url(self.url).ping()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        wait_port(self.port, up=False, timeout=10)

    def freeze(self, seconds: float) -> None:
        """Unreachable for `seconds`: the server is paused, connections hang until clients time out."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        time.sleep(seconds)
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def lock_sqlite(path: str, seconds: float) -> threading.Thread:
    """Hold SQLite's write lock for `seconds` in a thread: writers wait (or fail) as if the database were down."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            ready.set()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(30), "could not take the SQLite write lock"
    return thread
