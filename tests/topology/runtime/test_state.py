"""Durable join state and the terminated set's recovery, against the real database and Redis (no engine)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone

from processes.models import JoinState, Process
from tests.chaos.servers import lock_sqlite
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import headers as h
from topology.runtime import names, state
from topology.runtime.executor import execute
from topology.runtime.results import STATE_RETRY
from topology.runtime.spec import RuntimeSpec, build_version

pytestmark = pytest.mark.django_db(transaction=True)


def test_join_arrivals_are_idempotent_and_complete_once():
    key = uuid.uuid4().hex
    first = state.join_arrive(key=key, source="left", body={"l": 1}, expected=2, message_id="m1")
    assert first == ({"left": {"l": 1}}, [], False)
    # A redelivered first arrival changes nothing and still waits.
    assert state.join_arrive(key=key, source="left", body={"l": 9}, expected=2, message_id="m1").emit is False
    arrivals = state.join_arrive(key=key, source="right", body={"r": 2}, expected=2, message_id="m2")
    assert arrivals.emit is True and arrivals.bodies == {"left": {"l": 1}, "right": {"r": 2}}
    # The completing arrival redelivered emits again (a recognisable duplicate); a stray late copy does not.
    assert state.join_arrive(key=key, source="right", body={"r": 2}, expected=2, message_id="m2").emit is True
    assert state.join_arrive(key=key, source="right", body={"r": 3}, expected=2, message_id="m3").emit is False
    assert JoinState.objects.get(key=key).completed_by == "m2"


def test_skip_arrivals_complete_the_set_without_a_body():
    key = uuid.uuid4().hex
    assert state.join_arrive(key=key, source="a", body=None, expected=2, message_id="s1", skipped=True) == (
        {},
        ["a"],
        False,
    )
    # A redelivered skip counts once; a late real arrival from the same source changes nothing either.
    assert state.join_arrive(key=key, source="a", body=None, expected=2, message_id="s1", skipped=True).emit is False
    assert state.join_arrive(key=key, source="a", body={"x": 1}, expected=2, message_id="m9").emit is False
    done = state.join_arrive(key=key, source="b", body={"b": 2}, expected=2, message_id="m2")
    assert done == ({"b": {"b": 2}}, ["a"], True)


def test_concurrent_last_arrivals_emit_exactly_once():
    key = uuid.uuid4().hex
    sources = [f"b{i}" for i in range(6)]
    results: list[bool] = []

    def arrive(source: str) -> None:
        try:
            results.append(
                state.join_arrive(key=key, source=source, body=source, expected=len(sources), message_id=source).emit
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=arrive, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def _join_node(tenant):
    version = make_runtime_version(
        tenant,
        {
            "start": "start.manual",
            "fork": "fanout",
            "a": ("transform", {"expression": "@"}),
            "b": ("transform", {"expression": "@"}),
            "join": "join",
            "end": "end",
        },
        ["start>fork", "fork>a", "fork>b", "a>join", "b>join", "join>end"],
        enable=False,
    )
    return build_version(version).nodes["join"]


def _locked(seconds: float):
    """Hold the database's write lock from another connection; this connection gives up after 0.2 s."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 200")
        return lock_sqlite(connection.settings_dict["NAME"], seconds)
    ready = threading.Event()

    def hold() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(f"LOCK TABLE {JoinState._meta.db_table} IN ACCESS EXCLUSIVE MODE")
                ready.set()
                threading.Event().wait(seconds)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(30)
    return thread


def test_unreachable_join_state_delays_the_arrival_instead_of_trashing_it(tenant_a):
    node = _join_node(tenant_a)
    headers = {h.CORRELATION_ID: "c1", h.PROCESS_ID: "p1", h.PREVIOUS_NODE_ID: "a"}
    holder = _locked(3)
    before = h.now_ms()
    try:
        outcome = execute(RuntimeSpec(), node, headers, b'{"x": 1}', "mid-1")
    finally:
        holder.join()
        connection.close()  # drops the short lock timeout
    assert outcome.code == STATE_RETRY and not outcome.failed and outcome.trash is None
    [retry] = outcome.outputs
    assert retry.headers[h.STATE_ATTEMPT] == "1" and retry.routing_key == node.queues()[0]
    assert int(retry.headers[h.DUE_AT]) >= before + 1000  # backoff starts at 1 s
    # Once the database answers again, the same arrival is recorded.
    again = execute(RuntimeSpec(), node, retry.headers, retry.body, retry.message_id)
    assert again.code == 0 and again.message.startswith("join waiting (1/2)")


def test_terminated_set_is_restored_from_the_database_after_redis_lost_it(tenant_a, settings):
    settings.FLOWYARD_REDIS_PREFIX = f"fytest-state-{uuid.uuid4().hex[:8]}"
    version = make_runtime_version(tenant_a, {"start": "start.manual", "end": "end"}, ["start>end"], enable=False)
    process = Process.objects.create(
        tenant=tenant_a,
        version=version,
        correlation_id=uuid.uuid4().hex,
        status=Process.Status.TERMINATED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    client = state.client()
    try:
        assert process.correlation_id in state.terminated_all()
        assert client.exists(names.redis_key("terminated", "loaded"))
        client.delete(names.terminated_key(), names.redis_key("terminated", "loaded"))  # Redis restarted empty
        assert process.correlation_id in state.terminated_all()
        assert client.zscore(names.terminated_key(), process.correlation_id) is not None
    finally:
        for key in client.scan_iter(f"{settings.FLOWYARD_REDIS_PREFIX}:*"):
            client.delete(key)
