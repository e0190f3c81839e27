"""Starting and terminating processes: manual, REST, webhook, cron and event starts all end in `process_start`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pika.exceptions import AMQPError

from admin_ui.errors import Refusal, ServiceError
from admin_ui.json_input import json_object_loads
from admin_ui.models import Tenant
from admin_ui.services import audit_log
from processes.models import Process
from processes.selectors import START_KINDS, start_nodes
from topology.models import Node, Topology, TopologyVersion
from topology.runtime import control, state
from topology.runtime import headers as h
from topology.runtime.broker import Outgoing, publish_batch, publisher
from topology.runtime.spec import build_version
from topology.webhooks import SIGNATURE_HEADER, webhook_for_token, webhook_signature_ok

log = logging.getLogger(__name__)


def _refuse_large(size: int) -> None:
    if size > settings.FLOWYARD_MAX_PAYLOAD_BYTES:
        message = f"Payload is larger than {settings.FLOWYARD_MAX_PAYLOAD_BYTES} bytes."
        raise ServiceError(message, errors={"body": [message]}, reason=Refusal.TOO_LARGE)


def payload_bytes(body: Any) -> bytes:
    """Validate and encode a start payload: a JSON object (empty means {}), at most FLOWYARD_MAX_PAYLOAD_BYTES.

    The REST API, the webhook, the start page, cron and event starts all pass here, so they refuse alike.
    """
    if isinstance(body, bytes | bytearray | str):
        # Length first: nothing parses a body that is too large anyway.
        _refuse_large(len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body))
        if not body.strip():
            return b"{}"
        json_object_loads(body if isinstance(body, str) else bytes(body))
        # A str passed the check, so it holds no lone surrogate and encodes.
        return body.encode() if isinstance(body, str) else bytes(body)
    raw = json.dumps(body).encode()
    _refuse_large(len(raw))
    json_object_loads(raw)  # the same rules as a body that arrives as text (object, no NUL, depth)
    return raw


def enabled_version(*, topology: Topology) -> TopologyVersion:
    version = topology.versions.filter(enabled=True).select_related("topology").first()
    if version is None:
        raise ServiceError(f"Topology {topology.name!r} has no enabled version.", reason=Refusal.CONFLICT)
    return version


def start_node(*, version: TopologyVersion, node_key: str | None = None, kinds: Iterable[str] = ()) -> Node:
    """The node a start enters at: the named one, else the first start node of the preferred kinds."""
    nodes = start_nodes(version=version)
    if node_key is not None:
        for node in nodes:
            if node.key == node_key:
                return node
        raise ServiceError(f"Node {node_key!r} is not a start node of this version.", reason=Refusal.NOT_FOUND)
    for kind in [*kinds, *START_KINDS]:
        for node in nodes:
            if node.kind == kind:
                return node
    raise ServiceError("This version has no start node.", reason=Refusal.CONFLICT)


def process_start(
    *,
    version: TopologyVersion,
    body: Any,
    headers: Mapping[str, str] | None = None,
    actor: Any = None,
    node_key: str | None = None,
    kinds: Iterable[str] = (Node.Kind.START_MANUAL,),
) -> Process:
    """Create the Process (in progress, total 1) and publish its first message to the start node's queue."""
    return process_start_many(
        version=version, bodies=[body], headers=headers, actor=actor, node_key=node_key, kinds=kinds
    )[0]


def process_start_many(
    *,
    version: TopologyVersion,
    bodies: Iterable[Any],
    headers: Mapping[str, str] | None = None,
    actor: Any = None,
    node_key: str | None = None,
    kinds: Iterable[str] = (Node.Kind.START_MANUAL,),
) -> list[Process]:
    """Start one process per body (bulk insert, one confirmed publish each); used by benchmarks and imports."""
    if not version.enabled:
        raise ServiceError(
            f"Version {version.number} of {version.topology.name!r} is not enabled.", reason=Refusal.CONFLICT
        )
    payloads = [payload_bytes(body) for body in bodies]
    node = start_node(version=version, node_key=node_key, kinds=kinds)
    node_spec = build_version(version).nodes[node.key]
    user = str(getattr(actor, "pk", "") or "")
    now = timezone.now()
    processes = [
        Process(
            tenant_id=version.topology.tenant_id,
            version=version,
            correlation_id=h.new_id(),
            status=Process.Status.IN_PROGRESS,
            started_at=now,
            total=1,
        )
        for _ in payloads
    ]
    # Committed before publishing: the recorder must find the row when the engine reports the first run.
    with transaction.atomic():
        Process.objects.bulk_create(processes)

    def publish() -> None:
        outgoing = [
            Outgoing(
                routing_key=node_spec.routing_key(payload),
                body=payload,
                headers=h.start_headers(
                    correlation_id=process.correlation_id,
                    tenant_id=version.topology.tenant_id,
                    topology_id=version.topology_id,
                    version=version.number,
                    node_key=node.key,
                    user=user,
                    extra=headers,
                ),
                message_id=process.correlation_id,
            )
            for process, payload in zip(processes, payloads, strict=True)
        ]
        if len(outgoing) == 1:
            # One start (UI, REST, webhook): the long-lived publisher avoids a connection per request.
            message = outgoing[0]
            publisher.publish(
                routing_key=message.routing_key,
                body=message.body,
                headers=message.headers,
                message_id=message.message_id,
            )
        else:
            publish_batch(outgoing)

    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(publish)
        return processes
    try:
        publish()
    except (AMQPError, OSError) as exc:
        log.error("start of %s failed: %s", version, exc)
        Process.objects.filter(pk__in=[p.pk for p in processes]).delete()
        raise ServiceError(
            "The message broker is unavailable; nothing was started.", reason=Refusal.UNAVAILABLE
        ) from exc
    return processes


def topology_start(
    *,
    tenant: Tenant,
    name: str,
    body: Any,
    actor: Any = None,
    headers: Mapping[str, str] | None = None,
    node_key: str | None = None,
) -> Process:
    """Start the enabled version of the tenant's topology called `name` (the REST start)."""
    topology = Topology.objects.filter(tenant=tenant, name=name, deleted_at__isnull=True).first()
    if topology is None:
        raise ServiceError(f"Unknown topology {name!r}.", reason=Refusal.NOT_FOUND)
    version = enabled_version(topology=topology)
    return process_start(version=version, body=body, headers=headers, actor=actor, node_key=node_key)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


# Webhook callers are anonymous: their answers name no topology, node or version.
WEBHOOK_REFUSALS = {
    Refusal.NOT_FOUND: "Unknown or revoked webhook.",
    Refusal.CONFLICT: "This webhook cannot start a process now.",
}


def webhook_start(
    *,
    token: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    signature: str | None = None,
    content_type: str = "application/json",
) -> Process:
    """Start the topology behind a webhook token at its webhook start node (signature checked when required)."""
    webhook = webhook_for_token(token)
    if webhook is None:
        raise ServiceError(WEBHOOK_REFUSALS[Refusal.NOT_FOUND], reason=Refusal.NOT_FOUND)
    if not webhook_signature_ok(webhook=webhook, body=body, signature=signature):
        message = f"Missing or wrong {SIGNATURE_HEADER} header (sha256=HMAC of the body)."
        raise ServiceError(message, reason=Refusal.UNAUTHENTICATED)
    if not _is_json(content_type):
        message = "Webhooks take a JSON body: send Content-Type: application/json."
        raise ServiceError(message, reason=Refusal.UNSUPPORTED_MEDIA)
    try:
        version = enabled_version(topology=webhook.topology)
        return process_start(
            version=version, body=body, headers=headers, node_key=webhook.node_key, kinds=(Node.Kind.START_WEBHOOK,)
        )
    except ServiceError as exc:
        if exc.reason in WEBHOOK_REFUSALS:
            raise ServiceError(WEBHOOK_REFUSALS[exc.reason], reason=exc.reason) from exc
        raise


def process_terminate(*, process: Process, actor: Any = None) -> Process:
    """Mark a running process terminated; engines drop its remaining messages."""
    if process.status != Process.Status.IN_PROGRESS:
        raise ServiceError(f"The process is already {process.get_status_display().lower()}.", reason=Refusal.CONFLICT)
    updated = Process.objects.filter(pk=process.pk, status=Process.Status.IN_PROGRESS).update(
        status=Process.Status.TERMINATED, finished_at=timezone.now()
    )
    if not updated:
        raise ServiceError("The process has just finished.", reason=Refusal.CONFLICT)
    try:
        state.terminated_add(process.correlation_id)
    except redis.RedisError as exc:
        # The row is the record: engines merge terminated rows from the database, the broadcast reaches them now.
        log.warning("terminated set not updated in Redis: %s", exc)
    control.broadcast({"type": "terminate", "correlation_id": process.correlation_id})
    process.refresh_from_db()
    from processes import events as live

    live.topology_changed(tenant_id=process.tenant_id, topology_id=process.version.topology_id)
    audit_log(
        tenant=process.tenant,
        actor=actor,
        action="process.terminate",
        obj=process,
        before={"status": "in_progress"},
        after={"status": process.status},
    )
    return process


def processes_terminate(*, processes: list[Process], actor: Any = None) -> int:
    """Terminate every still running process of a selection (bulk action); finished ones are left alone."""
    count = 0
    for process in processes:
        if process.status != Process.Status.IN_PROGRESS:
            continue
        try:
            process_terminate(process=process, actor=actor)
        except ServiceError:
            continue  # it finished meanwhile
        count += 1
    return count
