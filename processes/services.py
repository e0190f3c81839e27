"""Starting and terminating processes: manual, REST, webhook, cron and event starts all end in `process_start`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pika.exceptions import AMQPError

from admin_ui.errors import Refusal, ServiceError
from admin_ui.json_input import json_object_loads
from admin_ui.lookup_cache import LookupCache
from admin_ui.models import Tenant
from admin_ui.services import audit_log
from processes import events as live
from processes.models import Process
from processes.selectors import START_KINDS, start_nodes
from topology.models import Node, Topology, TopologyVersion
from topology.runtime import control, state
from topology.runtime.spec import VersionSpec, cached_version_spec
from topology.runtime.start_publisher import start_publisher
from topology.runtime.starts import StartPlan, plan_start, publish_rounds
from topology.webhooks import (
    SIGNATURE_HEADER,
    hash_token,
    signature_matches,
    webhook_for_token,
    webhook_signing_secret,
)

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


@dataclass(frozen=True)
class Accepted:
    """A start the broker has confirmed; its Process row is written by the recorder from the start's events."""

    correlation_id: str
    status: str = Process.Status.IN_PROGRESS


def process_start(
    *,
    version: TopologyVersion,
    body: Any,
    headers: Mapping[str, str] | None = None,
    actor: Any = None,
    node_key: str | None = None,
    kinds: Iterable[str] = (Node.Kind.START_MANUAL,),
) -> Process:
    """Create the Process (in progress, total 1) and publish its first messages; for callers that show the row."""
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
    """Start one process per body: bulk insert of the rows, then all messages published with pipelined confirms."""
    plans = _plan(version=version, bodies=bodies, headers=headers, actor=actor, node_key=node_key, kinds=kinds)
    now = timezone.now()
    processes = [
        Process(
            tenant_id=version.topology.tenant_id,
            version=version,
            correlation_id=plan.correlation_id,
            status=Process.Status.IN_PROGRESS,
            started_at=now,
            total=1,
        )
        for plan in plans
    ]
    # Committed before publishing, so the recorder finds the row (and does not create its own) for the first run.
    with transaction.atomic():
        Process.objects.bulk_create(processes)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _publish(plans))
        return processes
    try:
        _publish(plans)
    except ServiceError:
        Process.objects.filter(pk__in=[p.pk for p in processes]).delete()
        raise
    return processes


def _plan(
    *,
    version: TopologyVersion,
    bodies: Iterable[Any],
    headers: Mapping[str, str] | None,
    actor: Any,
    node_key: str | None,
    kinds: Iterable[str],
) -> list[StartPlan]:
    if not version.enabled:
        raise ServiceError(
            f"Version {version.number} of {version.topology.name!r} is not enabled.", reason=Refusal.CONFLICT
        )
    payloads = [payload_bytes(body) for body in bodies]
    node = start_node(version=version, node_key=node_key, kinds=kinds)
    spec = cached_version_spec(version)
    user = str(getattr(actor, "pk", "") or "")
    return [
        plan_start(version=spec, node=spec.nodes[node.key], body=payload, user=user, extra_headers=headers)
        for payload in payloads
    ]


def _publish(plans: list[StartPlan]) -> None:
    """Publish the plans' events, then (once confirmed) their messages; refused as unavailable if the broker fails."""
    try:
        start_publisher.publish(publish_rounds(plans))
    except (AMQPError, OSError) as exc:
        raise _unavailable(len(plans), exc) from exc


def _unavailable(count: int, exc: Exception) -> ServiceError:
    log.error("start of %d processes failed: %s", count, exc)
    return ServiceError("The message broker is unavailable; nothing was started.", reason=Refusal.UNAVAILABLE)


@dataclass(frozen=True)
class RestTarget:
    """Where a REST start by topology name enters: the enabled version's spec and start node, or why it cannot.

    A start node refusal (`refusal`: detail, reason) is answered after the body's check, as the start always did.
    """

    spec: VersionSpec | None = None
    node_key: str = ""
    refusal: tuple[str, Refusal] | None = None


# (tenant id, topology name, start node key or None) -> its target; an unknown or disabled topology is not cached.
REST_CACHE_SECONDS = 5.0
_rest_targets: LookupCache[tuple[int, str, str | None], RestTarget] = LookupCache(REST_CACHE_SECONDS)


def _rest_target_load(tenant_id: int, name: str, node_key: str | None) -> RestTarget:
    topology = Topology.objects.filter(tenant_id=tenant_id, name=name, deleted_at__isnull=True).first()
    if topology is None:
        raise ServiceError(f"Unknown topology {name!r}.", reason=Refusal.NOT_FOUND)
    version = enabled_version(topology=topology)
    try:
        node = start_node(version=version, node_key=node_key, kinds=(Node.Kind.START_MANUAL,))
    except ServiceError as exc:
        return RestTarget(refusal=(exc.detail, exc.reason))
    return RestTarget(spec=cached_version_spec(version), node_key=node.key)


def _rest_plan(target: RestTarget, *, body: Any, actor: Any, headers: Mapping[str, str] | None) -> StartPlan:
    payload = payload_bytes(body)  # before the node: a bad body is a 400 whatever the node
    if target.refusal is not None:
        detail, reason = target.refusal
        raise ServiceError(detail, reason=reason)
    assert target.spec is not None
    user = str(getattr(actor, "pk", "") or "")
    return plan_start(
        version=target.spec, node=target.spec.nodes[target.node_key], body=payload, user=user, extra_headers=headers
    )


def topology_start(
    *,
    tenant: Tenant,
    name: str,
    body: Any,
    actor: Any = None,
    headers: Mapping[str, str] | None = None,
    node_key: str | None = None,
) -> Accepted:
    """Start the enabled version of the tenant's topology called `name` (the REST start): no database access while
    the name's target is cached (a few seconds; enable, disable, rename and delete in this process drop it)."""
    target = _rest_targets.load((tenant.pk, name, node_key), lambda: _rest_target_load(tenant.pk, name, node_key))
    plan = _rest_plan(target, body=body, actor=actor, headers=headers)
    _publish([plan])
    return Accepted(correlation_id=plan.correlation_id)


async def atopology_start(
    *,
    tenant: Tenant,
    name: str,
    body: bytes,
    actor: Any = None,
    headers: Mapping[str, str] | None = None,
    node_key: str | None = None,
) -> Accepted:
    """`topology_start` on the event loop (the REST start's lane): the target's lookup, when not cached, on the
    database thread and shared by concurrent misses; returns once RabbitMQ confirmed, as `webhook_start` does."""
    target = await _rest_targets.aload(
        (tenant.pk, name, node_key), lambda: _rest_target_load(tenant.pk, name, node_key)
    )
    plan = _rest_plan(target, body=body, actor=actor, headers=headers)
    await _apublish(plan)
    return Accepted(correlation_id=plan.correlation_id)


async def _apublish(plan: StartPlan) -> None:
    try:
        await start_publisher.apublish(publish_rounds([plan]))
    except (AMQPError, OSError) as exc:
        raise _unavailable(1, exc) from exc


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


# Webhook callers are anonymous: their answers name no topology, node or version.
WEBHOOK_REFUSALS = {
    Refusal.NOT_FOUND: "Unknown or revoked webhook.",
    Refusal.CONFLICT: "This webhook cannot start a process now.",
}


@dataclass(frozen=True)
class WebhookTarget:
    """Where a webhook token starts processes: looked up once, then cached by the web worker for a few seconds.

    `refusal` is set (and `spec` None) when the webhook exists but cannot start now (no enabled version).
    """

    secret: str
    version_pk: int | None = None
    spec: VersionSpec | None = None
    node_key: str = ""
    refusal: Refusal | None = None


# Hashed token -> its target, or None for an unknown token (see `admin_ui.lookup_cache` for the invalidation).
WEBHOOK_CACHE_SECONDS = 5.0
_webhook_targets: LookupCache[str, WebhookTarget | None] = LookupCache(WEBHOOK_CACHE_SECONDS)


def _webhook_target_load(token: str) -> WebhookTarget | None:
    webhook = webhook_for_token(token)
    if webhook is None:
        return None
    secret = webhook_signing_secret(webhook)
    try:
        version = enabled_version(topology=webhook.topology)
        node = start_node(version=version, node_key=webhook.node_key, kinds=(Node.Kind.START_WEBHOOK,))
    except ServiceError as exc:
        return WebhookTarget(secret=secret, refusal=exc.reason)
    spec = cached_version_spec(version)
    return WebhookTarget(secret=secret, version_pk=version.pk, spec=spec, node_key=node.key)


async def webhook_start(
    *,
    token: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    signature: str | None = None,
    content_type: str = "application/json",
) -> Accepted:
    """The webhook intake: signature and content type checked, no database write, returns once RabbitMQ confirmed.

    Runs on the web server's event loop: concurrent requests share the process's start publisher, so their
    confirms pipeline; the token lookup is cached, and the recorder writes the Process row from the start's events.
    """
    target = await _webhook_targets.aload(hash_token(token), lambda: _webhook_target_load(token))
    if target is None:
        raise ServiceError(WEBHOOK_REFUSALS[Refusal.NOT_FOUND], reason=Refusal.NOT_FOUND)
    if not signature_matches(secret=target.secret, body=body, signature=signature):
        message = f"Missing or wrong {SIGNATURE_HEADER} header (sha256=HMAC of the body)."
        raise ServiceError(message, reason=Refusal.UNAUTHENTICATED)
    if not _is_json(content_type):
        message = "Webhooks take a JSON body: send Content-Type: application/json."
        raise ServiceError(message, reason=Refusal.UNSUPPORTED_MEDIA)
    if target.spec is None:
        reason = target.refusal or Refusal.CONFLICT
        raise ServiceError(WEBHOOK_REFUSALS.get(reason, WEBHOOK_REFUSALS[Refusal.CONFLICT]), reason=reason)
    plan = plan_start(
        version=target.spec, node=target.spec.nodes[target.node_key], body=payload_bytes(body), extra_headers=headers
    )
    await _apublish(plan)
    return Accepted(correlation_id=plan.correlation_id)


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
