"""Live monitoring sockets against the real ASGI application (AllowedHostsOriginValidator, AuthMiddlewareStack,
URLRouter, Redis channel layer): who may connect, and who hears which notices."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from admin_ui.models import Role
from processes import events
from tests.factories import make_member
from tests.processes.live_support import communicator, session_cookie, unique_channel_layers
from tests.topology.runtime_factories import make_runtime_version

COVERED_URL_NAMES = {"ws_live", "ws_live_topology"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _own_channel_layer(settings):
    settings.CHANNEL_LAYERS = unique_channel_layers()
    events.notifier._version_cache.clear()  # ids are reused after the test database is flushed


@pytest.fixture
def topologies(tenant_a, tenant_b):
    nodes, edges = {"start": "start.manual", "end": "end"}, ["start>end"]
    mine = make_runtime_version(tenant_a, nodes, edges, name="mine", enable=False)
    mine2 = make_runtime_version(tenant_a, nodes, edges, name="mine2", enable=False)
    theirs = make_runtime_version(tenant_b, nodes, edges, name="theirs", enable=False)
    return mine.topology, mine2.topology, theirs.topology


async def _connect(path, **kwargs):
    comm = communicator(path, **kwargs)
    connected, code = await comm.connect()
    return comm, connected, code


def _try(path, user=None, **kwargs):
    if user is not None:
        kwargs["cookie"] = session_cookie(user)

    async def run():
        comm, connected, code = await _connect(path, **kwargs)
        await comm.disconnect()
        return connected, code

    return async_to_sync(run)()


def test_anonymous_is_refused(topologies):
    mine, _, _ = topologies
    assert _try("/ws/live/") == (False, 4403)
    assert _try(f"/ws/live/topologies/{mine.pk}/") == (False, 4403)


def test_user_without_tenant_is_refused(charlie, topologies):
    assert _try("/ws/live/", user=charlie) == (False, 4403)


def test_other_tenants_topology_is_refused(alice, topologies):
    mine, _, theirs = topologies
    assert _try(f"/ws/live/topologies/{theirs.pk}/", user=alice) == (False, 4404)
    assert _try("/ws/live/topologies/999999/", user=alice) == (False, 4404)
    assert _try(f"/ws/live/topologies/{mine.pk}/", user=alice) == (True, None)


def test_foreign_origin_is_refused(alice, topologies):
    connected, _ = _try("/ws/live/", user=alice, origin=b"http://evil.example")
    assert connected is False
    assert _try("/ws/live/", user=alice) == (True, None)


def test_member_hears_own_topology_only(alice, bob, topologies):
    mine, mine2, _theirs = topologies
    viewer = make_member(alice.memberships.first().tenant, Role.VIEWER, "viewer@example.com")
    cookies = {u.pk: session_cookie(u) for u in (alice, bob, viewer)}
    version_id = mine.versions.get().pk

    async def run():
        on_mine, ok1, _ = await _connect(f"/ws/live/topologies/{mine.pk}/", cookie=cookies[viewer.pk])
        on_mine2, ok2, _ = await _connect(f"/ws/live/topologies/{mine2.pk}/", cookie=cookies[alice.pk])
        tenant_wide, ok3, _ = await _connect("/ws/live/", cookie=cookies[alice.pk])
        other_tenant, ok4, _ = await _connect("/ws/live/", cookie=cookies[bob.pk])
        assert ok1 and ok2 and ok3 and ok4
        # What the recorder's hook does after a commit: mark a version's topology, then the sender flushes.
        events.notifier.versions_changed(version_ids={version_id})
        await _flush()
        notice = await on_mine.receive_json_from(timeout=15)
        assert notice["type"] == "changed" and notice["topology"] == mine.pk and "processes" in notice["what"]
        wide = await tenant_wide.receive_json_from(timeout=15)
        assert wide["topologies"] == [mine.pk]
        assert await on_mine2.receive_nothing(timeout=0.3)
        assert await other_tenant.receive_nothing(timeout=0.1)
        for comm in (on_mine, on_mine2, tenant_wide, other_tenant):
            await comm.disconnect()

    async def _flush():
        from asgiref.sync import sync_to_async

        await sync_to_async(events.notifier.flush_now, thread_sensitive=False)()

    async_to_sync(run)()


def test_notices_coalesce(alice, topologies):
    mine, _, _ = topologies
    cookie, version_id = session_cookie(alice), mine.versions.get().pk

    async def run():
        comm, ok, _ = await _connect(f"/ws/live/topologies/{mine.pk}/", cookie=cookie)
        assert ok
        from asgiref.sync import sync_to_async

        def burst():
            for _ in range(200):
                events.notifier.versions_changed(version_ids={version_id})

        await sync_to_async(burst, thread_sensitive=False)()
        first = await comm.receive_json_from(timeout=15)
        assert first["topology"] == mine.pk
        # 200 marks inside one coalescing window make one or two notices, not 200.
        extra = 0
        while not await comm.receive_nothing(timeout=0.6):
            await comm.receive_json_from()
            extra += 1
        assert extra <= 2
        await comm.disconnect()

    async_to_sync(run)()


def test_notices_off(alice, topologies, settings):
    settings.FLOWYARD_LIVE_NOTICES = False
    mine, _, _ = topologies
    cookie, version_id = session_cookie(alice), mine.versions.get().pk

    async def run():
        comm, ok, _ = await _connect(f"/ws/live/topologies/{mine.pk}/", cookie=cookie)
        assert ok
        events.notifier.versions_changed(version_ids={version_id})
        assert await comm.receive_nothing(timeout=0.6)
        await comm.disconnect()

    async_to_sync(run)()
