"""The queue-depth sampler against the real RabbitMQ, Redis and channel layer: one lease per tick, depths per
node, a notice to the topology's group only when they change."""

from __future__ import annotations

import asyncio

import pika
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from processes import depths, events
from tests.processes.live_support import unique_channel_layers
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import names
from topology.runtime.spec import build_version

pytestmark = pytest.mark.django_db(transaction=True)


def _publish(queue: str, count: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.AMQP_URL))
    try:
        channel = connection.channel()
        for _ in range(count):
            channel.basic_publish(exchange=names.exchange(), routing_key=queue, body=b"{}")
    finally:
        connection.close()


def _receive(layer, channel: str, timeout: float):
    async def run():
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(run)()


def test_sampler_reads_depths_once_per_tick_and_notifies_changes(tenant_a, settings):
    settings.CHANNEL_LAYERS = unique_channel_layers()
    layer = get_channel_layer()
    with RuntimeEnv("depths"):
        nodes = {"start": "start.manual", "work": ("python", {"registry": "flowyard.noop"}), "end": "end"}
        version = make_runtime_version(tenant_a, nodes, ["start>work", "work>end"])
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(events.topology_group(tenant_a.pk, version.topology_id), channel)
        (queue,) = build_version(version).nodes["work"].queues()
        _publish(queue, 3)
        sampler = depths.DepthSampler()
        assert sampler._lease() is True
        assert sampler._lease() is False  # another recorder's sampler skips this tick
        try:
            sampler.sample_once()
            found, at = depths.read_depths(topology_id=version.topology_id)
            assert at is not None
            assert found["work"] == {"ready": 3, "in_flight": None}
            assert found["start"]["ready"] == 0
            notice = _receive(layer, channel, 15)
            assert notice is not None and notice["topology"] == version.topology_id and "depths" in notice["what"]
            # The same depths a second later: no notice.
            sampler.sample_once()
            assert _receive(layer, channel, 1) is None
        finally:
            sampler._close()
