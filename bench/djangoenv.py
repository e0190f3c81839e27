"""A dedicated Django environment for the Flowyard benchmarks: its own database and broker names.

`configure()` must run before Django is imported: it points DATABASE_URL at a benchmark database (a SQLite file
under bench/results/, or `BENCH_DB_NAME` (`flowyard_bench`) on the PostgreSQL server of DATABASE_URL when one is
set; two engineers on one server give theirs different names, as the database is dropped and recreated) and gives the
exchange, queues, Redis keys and channel groups a prefix that carries the run id, so the benchmarks never touch
anyone else's data and clean-up can find everything they created. The same variables reach every child process
(engines, Daphne) through os.environ."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import RESULTS_DIR, ROOT, RUN_ID

# BENCH_DB_NAME: a name of its own for each checkout running benchmarks against one shared PostgreSQL server.
BENCH_DB_NAME = os.environ.get("BENCH_DB_NAME") or "flowyard_bench"
SQLITE_PATH = RESULTS_DIR / "bench.sqlite3"
_configured = False
_ready = False


def configure() -> None:
    """Set the environment of the benchmark database and broker names (idempotent, before django.setup())."""
    global _configured
    if _configured:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DB_NAME}"))
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_PATH}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "admin_ui.settings",
            "FLOWYARD_EXCHANGE": f"{RUN_ID}.flowyard",
            "FLOWYARD_QUEUE_PREFIX": f"{RUN_ID}.fy",
            "FLOWYARD_REDIS_PREFIX": f"{RUN_ID}",
            "CHANNELS_PREFIX": f"{RUN_ID}",
            # Any control task a service enqueues goes to a queue no other engineer's worker consumes.
            "CELERY_QUEUE": f"{RUN_ID}.celery.control",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain sync code.
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
            # The stub servers are loopback, which the engine's egress policy refuses unless allowed.
            "FLOWYARD_EGRESS_ALLOW": "127.0.0.1/32",
            # Benchmarks run the web process without DEBUG on the development keys, on purpose.
            "FLOWYARD_ALLOW_DEV_KEYS": "true",
        }
    )
    _configured = True


def _recreate_postgres() -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB_NAME}"')


def setup() -> None:
    """Create a fresh benchmark database, migrate it and set Django up (once per run)."""
    global _ready
    if _ready:
        return
    configure()
    if os.environ["DATABASE_URL"].startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            path = SQLITE_PATH.with_name(SQLITE_PATH.name + suffix)
            if path.exists():
                path.unlink()
    else:
        _recreate_postgres()
    import sys

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    _ready = True


def bench_owner() -> tuple[Any, Any]:
    """The benchmark tenant and its owner (created once)."""
    from django.contrib.auth import get_user_model

    from admin_ui.models import Membership, Role, Tenant

    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username="bench@flowyard.local", defaults={"email": "bench@flowyard.local"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    tenant, _ = Tenant.objects.get_or_create(slug=f"bench-{RUN_ID}", defaults={"name": "Bench"})
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.OWNER})
    return tenant, user


def child_env() -> dict[str, str]:
    """Environment for child processes (they inherit os.environ, which configure() already set)."""
    configure()
    return {key: os.environ[key] for key in ("DATABASE_URL", "FLOWYARD_EXCHANGE", "FLOWYARD_QUEUE_PREFIX")}
