"""Trash writes: capture failed messages (recorder), edit with audit, resend, reject, try, bulk jobs, retention."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from pika.exceptions import AMQPError

from admin_ui.errors import Refusal, ServiceError
from admin_ui.ids import parse_id
from admin_ui.models import Tenant
from processes.models import Process
from topology.models import Node, TopologyVersion
from topology.runtime import headers as h
from trash import jsonpath
from trash.models import TrashBulkJob, TrashEdit, TrashMessage

_VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,}|\d+(\.\d+)?",
    re.IGNORECASE,
)
# Headers that tie a message to its tenant, process and place; an operator may not rewrite them.
PROTECTED_HEADERS = frozenset(
    {h.CORRELATION_ID, h.PROCESS_ID, h.PARENT_ID, h.TENANT, h.TOPOLOGY_ID, h.VERSION, h.NODE_ID, h.TRASH_ID}
)
# Node kinds "try" runs in the web process: pure computations with no side effect outside the result.
TRY_LOCAL_KINDS = frozenset({"python", "transform", "router", "fanout", "splitter", "end", "batch"})
TRY_REMOTE_KINDS = frozenset({"connector", "worker"})
BULK_CHUNK = 1000
REPORT_LIMIT = 200
# What a bulk chunk reads of each row; the version and node come from per-job caches, not per row.
BULK_FIELDS = (
    "id",
    "tenant_id",
    "version_id",
    "node_id",
    "node_key",
    "correlation_id",
    "headers",
    "body",
    "status",
    "revision",
)


_REFUSALS = {400: Refusal.INVALID, 404: Refusal.NOT_FOUND, 409: Refusal.CONFLICT, 503: Refusal.UNAVAILABLE}


class TrashError(ServiceError):
    """An action on the trash was refused; nothing was changed. `status` is the HTTP status pages answer with."""

    def __init__(self, detail: str, *, status: int = 400, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail, errors=errors or {}, reason=_REFUSALS.get(status, Refusal.INVALID))
        self.status = status
        self.errors: dict[str, Any] = errors or {}


def trash_signature(*, reason: str, node_key: str) -> str:
    """sha256 of the reason with ids and numbers blanked, plus the node: identical failures group together."""
    normalised = _VOLATILE.sub("#", reason.strip().lower())
    normalised = re.sub(r"\s+", " ", normalised)[:2000]
    return hashlib.sha256(f"{node_key}\n{normalised}".encode()).hexdigest()


@transaction.atomic
def trash_message_create(
    *,
    tenant_id: int,
    version_id: int,
    node_id: int | None,
    node_key: str,
    correlation_id: str,
    process_id: str,
    message_id: str,
    headers: dict[str, Any],
    body: str,
    reason: str,
) -> TrashMessage:
    """Store a failed message. A resent message failing again at the same node reopens its own row (attempts + 1,
    new reason); the same branch failing again unchanged bumps `attempts` on its open row."""
    signature = trash_signature(reason=reason, node_key=node_key)
    trash_id = parse_id(headers.get(h.TRASH_ID))
    if trash_id is not None:
        row = (
            TrashMessage.objects.select_for_update().filter(pk=trash_id, tenant_id=tenant_id, node_key=node_key).first()
        )
        if row is not None:
            return _trash_message_failed_again(
                row=row,
                version_id=version_id,
                node_id=node_id,
                headers=headers,
                body=body,
                reason=reason,
                signature=signature,
            )
    row = (
        TrashMessage.objects.select_for_update()
        .filter(
            tenant_id=tenant_id,
            node_key=node_key,
            status=TrashMessage.Status.OPEN,
            signature=signature,
            body=body,
            correlation_id=correlation_id,
            process_id=process_id,
        )
        .first()
    )
    if row is not None:
        TrashMessage.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1, updated_at=timezone.now(), headers=headers, message_id=message_id
        )
        row.refresh_from_db()
        return row
    return TrashMessage.objects.create(
        tenant_id=tenant_id,
        version_id=version_id,
        node_id=node_id,
        node_key=node_key,
        correlation_id=correlation_id,
        process_id=process_id,
        message_id=message_id,
        headers=headers,
        body=body,
        reason=reason,
        signature=signature,
    )


def _trash_message_failed_again(
    *,
    row: TrashMessage,
    version_id: int,
    node_id: int | None,
    headers: dict[str, Any],
    body: str,
    reason: str,
    signature: str,
) -> TrashMessage:
    stored = {k: v for k, v in headers.items() if k != h.TRASH_ID}
    # A resend may have gone to the enabled version's node: the row follows it there.
    TrashMessage.objects.filter(pk=row.pk).update(
        version_id=version_id,
        node_id=node_id,
        status=TrashMessage.Status.OPEN,
        attempts=F("attempts") + 1,
        revision=F("revision") + 1,
        reason=reason,
        signature=signature,
        headers=stored,
        body=body,
        updated_at=timezone.now(),
    )
    TrashEdit.objects.create(message=row, action=TrashEdit.Action.FAILED, note=reason, actor_label="engine")
    row.refresh_from_db()
    return row


# --- edits ------------------------------------------------------------------------------------------------------


def _actor_label(actor: Any) -> str:
    if actor is None:
        return ""
    return str(getattr(actor, "email", "") or actor)[:200]


def _actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None


def _audit(*, message: TrashMessage, actor: Any, action: str, before: Any = None, after: Any = None) -> None:
    from admin_ui.services import audit_log

    audit_log(tenant=message.tenant, actor=actor, action=action, obj=message, before=before, after=after)


def json_diff(before: Any, after: Any, path: str = "$") -> list[dict[str, Any]]:
    """Changes between two JSON values as [{path, op, before, after}], paths like `$.items[0].sku`."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in before.keys() | after.keys():
            sub = f"{path}.{key}"
            if key not in after:
                changes.append({"path": sub, "op": "remove", "before": before[key]})
            elif key not in before:
                changes.append({"path": sub, "op": "add", "after": after[key]})
            else:
                changes.extend(json_diff(before[key], after[key], sub))
        return sorted(changes, key=lambda c: c["path"])
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (b, a) in enumerate(zip(before, after, strict=True)) for c in json_diff(b, a, f"{path}[{i}]")]
    if before == after and type(before) is type(after):
        return []
    change: dict[str, Any] = {"path": path, "op": "replace", "before": before, "after": after}
    return [change]


def node_input_schema(*, node: Node | None) -> dict[str, Any] | None:
    """The JSON Schema a node declares for its input (`inputSchema` in its config), if any."""
    if node is None:
        return None
    schema = (node.config or {}).get("inputSchema")
    if isinstance(schema, str):
        if not schema.strip():
            return None
        try:
            schema = json.loads(schema)
        except ValueError:
            return None
    return schema if isinstance(schema, dict) and schema else None


def trash_body_errors(*, node: Node | None, body: str) -> list[dict[str, str]]:
    """Why `body` cannot be saved for this node: invalid JSON, or violations of the node's input schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        data = json.loads(body)
    except ValueError as exc:
        return [{"path": "$", "message": f"Invalid JSON: {exc}"}]
    schema = node_input_schema(node=node)
    if schema is None:
        return []
    try:
        validator = Draft202012Validator(schema)
    except SchemaError:
        return []  # a broken schema is the node's problem, reported in the editor; it must not block the trash
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        errors.append({"path": path, "message": error.message})
    return errors


def _clean_headers(headers: Any, *, current: dict[str, Any]) -> dict[str, str]:
    if not isinstance(headers, dict):
        raise TrashError("Headers must be an object of names to values.", errors={"headers": ["not an object"]})
    cleaned: dict[str, str] = {}
    for key, value in headers.items():
        name = str(key).strip().lower()
        if not name:
            raise TrashError("A header name is empty.", errors={"headers": ["empty header name"]})
        cleaned[name] = "" if value is None else str(value)
    changed = sorted(
        k
        for k in PROTECTED_HEADERS
        if str(cleaned.get(k, "")) != str(current.get(k, "")) and (k in cleaned or k in current)
    )
    changed = [k for k in changed if k != h.TRASH_ID]
    if changed:
        raise TrashError(
            f"These headers identify the message and cannot be changed: {', '.join(changed)}.",
            errors={"headers": [f"{k} is read-only" for k in changed]},
        )
    return cleaned


def _check_revision(message: TrashMessage, revision: int | None) -> None:
    if revision is not None and int(revision) != message.revision:
        raise TrashError(
            "Someone else changed this message meanwhile; reload it and apply your change again.", status=409
        )


def _lock(message: TrashMessage) -> TrashMessage:
    # `of=self`: PostgreSQL cannot lock the nullable side of the outer join to the node.
    return (
        TrashMessage.objects.select_for_update(of=("self",))
        .select_related("tenant", "version__topology", "node")
        .get(pk=message.pk, tenant_id=message.tenant_id)
    )


@transaction.atomic
def trash_message_edit(
    *,
    message: TrashMessage,
    actor: Any,
    body: str | None = None,
    headers: dict[str, Any] | None = None,
    revision: int | None = None,
) -> TrashMessage:
    """Save a new body and/or headers of an open message; refuses invalid JSON and schema violations."""
    row = _lock(message)
    _check_revision(row, revision)
    if row.status != TrashMessage.Status.OPEN:
        raise TrashError(f"The message is already {row.get_status_display().lower()}.", status=409)
    new_body = row.body if body is None else body
    new_headers = row.headers if headers is None else _clean_headers(headers, current=row.headers)
    errors = trash_body_errors(node=row.node, body=new_body)
    if errors:
        raise TrashError(
            "The body does not match what the node accepts; nothing was saved."
            if not errors[0]["message"].startswith("Invalid JSON")
            else "The body is not valid JSON; nothing was saved.",
            errors={"body": errors},
        )
    before = {"body": _loads_or_text(row.body), "headers": row.headers}
    after = {"body": _loads_or_text(new_body), "headers": new_headers}
    diff = json_diff(before, after)
    if not diff:
        return row
    row.body, row.headers = new_body, new_headers
    row.revision += 1
    row.save(update_fields=["body", "headers", "revision", "updated_at"])
    TrashEdit.objects.create(
        message=row,
        actor=_actor_user(actor),
        actor_label=_actor_label(actor),
        action=TrashEdit.Action.EDIT,
        before=before,
        after=after,
        diff=diff,
    )
    _audit(message=row, actor=actor, action="trash.edit", before={"diff": diff}, after=None)
    return row


def _loads_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


# --- resend -------------------------------------------------------------------------------------------------------


@dataclass
class ResendTarget:
    """Where a resend goes: the node of the same version (enabled or draining) or of the enabled one."""

    version: TopologyVersion | None
    node_key: str
    warning: str = ""
    error: str = ""
    node_name: str = ""

    @property
    def label(self) -> str:
        """ "<node name> of v<n>", for pages and history notes."""
        return f"{self.node_name or self.node_key} of v{self.version.number}" if self.version else ""


def trash_resend_target(*, message: TrashMessage) -> ResendTarget:
    """The failed node of the same version while it runs (enabled or draining), else the enabled version's node."""
    version = message.version
    draining = (
        version.enabled_at is not None
        and Process.objects.filter(version=version, status=Process.Status.IN_PROGRESS).exists()
    )
    same = version.nodes.filter(key=message.node_key).first() if (version.enabled or draining) else None
    if same is not None:
        return ResendTarget(version=version, node_key=message.node_key, node_name=same.name)
    current = (
        TopologyVersion.objects.filter(topology_id=version.topology_id, enabled=True).select_related("topology").first()
    )
    if current is None:
        return ResendTarget(
            version=None,
            node_key=message.node_key,
            error=f"{version.topology.name} has no enabled version; enable one to resend.",
        )
    node = current.nodes.filter(key=message.node_key).first()
    if node is None:
        return ResendTarget(
            version=None,
            node_key=message.node_key,
            error=f"The node {message.node_name} ({message.node_key}) no longer exists in the enabled "
            f"v{current.number}; this message cannot be resent there.",
        )
    return ResendTarget(
        version=current,
        node_key=message.node_key,
        node_name=node.name,
        warning=f"v{version.number} no longer runs: the message goes to {node.name or node.key} of v{current.number}.",
    )


@dataclass
class _Prepared:
    """One message ready to resend: the row with its new body and headers, and where it goes."""

    row: TrashMessage
    body: str
    headers: dict[str, str]
    target: ResendTarget
    note: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)


class _Targets:
    """Resend targets and node specs, cached per (version, node) for bulk jobs."""

    def __init__(self) -> None:
        self._targets: dict[tuple[int, str], ResendTarget] = {}
        self._specs: dict[int, Any] = {}
        self._nodes: dict[int | None, Node | None] = {None: None}

    def target(self, row: TrashMessage) -> ResendTarget:
        key = (row.version_id, row.node_key)
        if key not in self._targets:
            self._targets[key] = trash_resend_target(message=row)
        return self._targets[key]

    def node(self, row: TrashMessage) -> Node | None:
        """The failed node (for its input schema), fetched once per node rather than once per row."""
        if row.node_id is not None and row.node_id not in self._nodes:
            self._nodes[row.node_id] = Node.objects.filter(pk=row.node_id).first()
        return self._nodes[row.node_id]

    def node_spec(self, version: TopologyVersion, node_key: str) -> Any:
        from topology.runtime.spec import build_version

        if version.pk not in self._specs:
            self._specs[version.pk] = build_version(version)
        return self._specs[version.pk].nodes[node_key]


def _outgoing(item: _Prepared, targets: _Targets) -> Any:
    from topology.runtime.broker import Outgoing

    version = item.target.version
    assert version is not None
    spec = targets.node_spec(version, item.target.node_key)
    headers = h.strip_answers(item.headers)
    headers.update(
        {
            h.TRASH_ID: str(item.row.pk),
            h.NODE_ID: item.target.node_key,
            h.VERSION: str(version.number),
            h.TOPOLOGY_ID: str(version.topology_id),
            h.PUBLISHED_AT: str(h.now_ms()),
        }
    )
    body = item.body.encode()
    # A new message id: the recorder counts each id once per process, and this is a new run of the node.
    return Outgoing(routing_key=spec.routing_key(body), body=body, headers=headers, message_id=h.new_id())


def _resend(items: list[_Prepared], *, actor: Any, targets: _Targets, job: TrashBulkJob | None = None) -> None:
    """Mark rows resent, reopen their processes and publish, all in the caller's transaction: if the broker
    refuses, the transaction rolls back and nothing looks resent."""
    from topology.runtime.start_publisher import start_publisher

    if not items:
        return
    now = timezone.now()
    outgoing = [_outgoing(item, targets) for item in items]
    for item in items:
        item.row.status = TrashMessage.Status.RESENT
        item.row.body = item.body
        item.row.headers = item.headers
        item.row.revision += 1
        item.row.updated_at = now
    _write_rows([i.row for i in items], now=now)
    _write_history(
        [
            (
                item.row,
                item.note or f"to {item.target.label}" + (f" ({item.target.warning})" if item.target.warning else ""),
                item.diff,
            )
            for item in items
        ],
        action=TrashEdit.Action.RESEND,
        actor=actor,
        job=job,
        now=now,
    )
    _reopen_processes(Counter(item.row.correlation_id for item in items), tenant_id=items[0].row.tenant_id)
    try:
        # One confirmed round on the process's long-lived channel (pipelined confirms, no connection per call).
        start_publisher.publish([outgoing], timeout=60)
    except (AMQPError, OSError) as exc:
        raise TrashError(f"The message broker is unavailable; nothing was resent ({exc}).", status=503) from exc


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _json_param(model: Any, field: str, value: Any) -> Any:
    return model._meta.get_field(field).get_db_prep_save(value, connection)


# Bulk jobs write thousands of rows: prepared statements through executemany cost a fraction of Django's
# bulk_update (a CASE per field and row) and of one ORM update per process, which dominated a job's time.
def _write_rows(rows: list[TrashMessage], *, now: dt.datetime) -> None:
    """Store the new status, body, headers and revision of rows already checked under the job's lock."""
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {_table(TrashMessage)} SET status = %s, body = %s, headers = %s, revision = %s, "
            "updated_at = %s WHERE id = %s",
            [
                (
                    row.status,
                    row.body,
                    _json_param(TrashMessage, "headers", row.headers),
                    row.revision,
                    connection.ops.adapt_datetimefield_value(now),
                    row.pk,
                )
                for row in rows
            ],
        )


def _write_history(
    entries: list[tuple[TrashMessage, str, list[dict[str, Any]]]],
    *,
    action: str,
    actor: Any,
    job: TrashBulkJob | None,
    now: dt.datetime,
) -> None:
    """One history entry (note, diff) per row, inserted with one prepared statement."""
    user, label = _actor_user(actor), _actor_label(actor)
    empty = _json_param(TrashEdit, "before", {})
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_table(TrashEdit)} (message_id, actor_id, actor_label, action, note, before, after, diff, "
            "bulk_job_id, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    row.pk,
                    user.pk if user is not None else None,
                    label,
                    action,
                    note,
                    empty,
                    empty,
                    _json_param(TrashEdit, "diff", diff),
                    job.pk if job is not None else None,
                    connection.ops.adapt_datetimefield_value(now),
                )
                for row, note, diff in entries
            ],
        )


def _reopen_processes(counts: Counter[str], *, tenant_id: int) -> None:
    """Each resent message is one more message of its process, and one fewer in the trash.

    Committed in the same transaction as the publish, before the engine's report of the new run can be recorded,
    so the process cannot look finished (done == total) between the two.
    """
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {_table(Process)} SET total = total + %s, "
            "trashed = CASE WHEN trashed >= %s THEN trashed - %s ELSE 0 END, status = %s, finished_at = NULL "
            "WHERE tenant_id = %s AND correlation_id = %s",
            [
                (count, count, count, Process.Status.IN_PROGRESS, tenant_id, correlation_id)
                for correlation_id, count in counts.items()
            ],
        )


def _refuse_terminated(row: TrashMessage) -> str:
    status = (
        Process.objects.filter(tenant_id=row.tenant_id, correlation_id=row.correlation_id)
        .values_list("status", flat=True)
        .first()
    )
    if status == Process.Status.TERMINATED:
        return "Its process was terminated; a terminated process takes no more messages."
    return ""


@transaction.atomic
def trash_message_resend(
    *,
    message: TrashMessage,
    actor: Any,
    body: str | None = None,
    headers: dict[str, Any] | None = None,
    revision: int | None = None,
) -> TrashMessage:
    """Publish the message (optionally edited first) to its node again; it keeps its correlation id."""
    if body is not None or headers is not None:
        message = trash_message_edit(message=message, actor=actor, body=body, headers=headers, revision=revision)
        revision = None
    row = _lock(message)
    _check_revision(row, revision)
    if row.status != TrashMessage.Status.OPEN:
        raise TrashError(f"The message is already {row.get_status_display().lower()}.", status=409)
    targets = _Targets()
    target = targets.target(row)
    if target.error:
        raise TrashError(target.error, status=409)
    refused = _refuse_terminated(row)
    if refused:
        raise TrashError(refused, status=409)
    _resend([_Prepared(row=row, body=row.body, headers=dict(row.headers), target=target)], actor=actor, targets=targets)
    _audit(
        message=row,
        actor=actor,
        action="trash.resend",
        after={"version": target.version.number, "node": target.node_key},  # type: ignore[union-attr]
    )
    return row


@transaction.atomic
def trash_message_reject(
    *, message: TrashMessage, actor: Any, reason: str, revision: int | None = None
) -> TrashMessage:
    """Give up on an open message, with the operator's reason; it stays for the record until retention."""
    reason = (reason or "").strip()
    if not reason:
        raise TrashError("Say why the message is rejected.", errors={"reason": ["This field is required."]})
    row = _lock(message)
    _check_revision(row, revision)
    if row.status != TrashMessage.Status.OPEN:
        raise TrashError(f"The message is already {row.get_status_display().lower()}.", status=409)
    row.status = TrashMessage.Status.REJECTED
    row.revision += 1
    row.save(update_fields=["status", "revision", "updated_at"])
    TrashEdit.objects.create(
        message=row,
        actor=_actor_user(actor),
        actor_label=_actor_label(actor),
        action=TrashEdit.Action.REJECT,
        note=reason[:2000],
    )
    _audit(message=row, actor=actor, action="trash.reject", after={"reason": reason[:500]})
    return row


# --- try ------------------------------------------------------------------------------------------------------------


def _is_remote(node_spec: Any) -> bool:
    return node_spec.kind in TRY_REMOTE_KINDS or bool(node_spec.config.get("url"))


def trash_message_try(
    *, message: TrashMessage, body: str | None = None, headers: dict[str, Any] | None = None, confirm: bool = False
) -> dict[str, Any]:
    """Run the failed node on the (edited) message and return what it would do; nothing is published or saved."""
    from topology.runtime.executor import execute
    from topology.runtime.spec import RuntimeSpec

    body = message.body if body is None else body
    errors = trash_body_errors(node=message.node, body=body)
    if errors:
        raise TrashError("Fix the body first.", errors={"body": errors})
    clean = message.headers if headers is None else _clean_headers(headers, current=message.headers)
    targets = _Targets()
    target = targets.target(message)
    version = target.version or message.version
    if not version.nodes.filter(key=message.node_key).exists():
        raise TrashError(target.error or "The node no longer exists.", status=409)
    spec = targets.node_spec(version, message.node_key)
    remote = _is_remote(spec)
    if spec.kind not in TRY_LOCAL_KINDS | TRY_REMOTE_KINDS:
        raise TrashError(f"Trying is not available for {spec.kind} nodes.", status=409)
    if remote and not confirm:
        raise TrashError(
            "This node calls a remote system for real; confirm to make the call.",
            status=409,
            errors={"confirm": ["required for connector and remote worker nodes"]},
        )
    runtime = RuntimeSpec(versions={spec.version.id: spec.version})
    started = time.perf_counter()
    outcome = execute(
        runtime, spec, h.strip_answers({str(k): str(v) for k, v in clean.items()}), body.encode(), h.new_id()
    )
    return {
        "code": outcome.code,
        "message": outcome.message,
        "trashed": outcome.trash is not None,
        "remote": remote,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "outputs": [
            {
                "node": output.headers.get(h.NODE_ID, ""),
                "body": output.body.decode("utf-8", errors="replace"),
                "headers": output.headers,
            }
            for output in outcome.outputs
        ],
    }


# --- bulk -----------------------------------------------------------------------------------------------------------


def _patch_ops(patch: Any) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not patch:
        raise TrashError("A patch needs at least one operation.", errors={"patch": ["empty"]})
    ops = []
    for op in patch:
        if not isinstance(op, dict) or op.get("op") not in ("set", "delete") or not isinstance(op.get("path"), str):
            raise TrashError(
                'Each patch operation is {"op": "set"|"delete", "path": "a.b[0]", "value": ...}.',
                errors={"patch": [str(op)[:200]]},
            )
        try:
            jsonpath.parse(op["path"])
        except ValueError as exc:
            raise TrashError(f"Bad path {op['path']!r}: {exc}", errors={"patch": [str(exc)]}) from exc
        if op["op"] == "set" and "value" not in op:
            raise TrashError("A set operation needs a value.", errors={"patch": [op["path"]]})
        ops.append({"op": op["op"], "path": op["path"], **({"value": op["value"]} if op["op"] == "set" else {})})
    return ops


def trash_bulk_job_create(
    *,
    tenant: Tenant,
    actor: Any,
    action: str,
    messages: Iterable[TrashMessage] | Any,
    group_key: str = "selection",
    description: str = "",
    reason: str = "",
    patch: Any = None,
    throttle: int = 0,
) -> TrashBulkJob:
    """Snapshot the open messages to work on and queue the Celery task; one active job per tenant and group."""
    from trash.tasks import trash_bulk_run

    if action not in TrashBulkJob.Action.values:
        raise TrashError(f"Unknown bulk action {action!r}.", errors={"action": [action]})
    params: dict[str, Any] = {"throttle": max(0, int(throttle or 0))}
    if action == TrashBulkJob.Action.REJECT:
        if not (reason or "").strip():
            raise TrashError("Say why the messages are rejected.", errors={"reason": ["This field is required."]})
        params["reason"] = reason.strip()[:2000]
    if action == TrashBulkJob.Action.PATCH_RESEND:
        params["patch"] = _patch_ops(patch)
    rows = messages.filter(tenant=tenant, status=TrashMessage.Status.OPEN) if hasattr(messages, "filter") else messages
    snapshot = {
        str(pk): revision
        for pk, revision in (
            rows.values_list("pk", "revision")
            if hasattr(rows, "values_list")
            else [(m.pk, m.revision) for m in rows if m.tenant_id == tenant.pk and m.status == TrashMessage.Status.OPEN]
        )
    }
    if not snapshot:
        raise TrashError("No open messages match; nothing to do.", errors={"messages": ["none"]})
    try:
        with transaction.atomic():
            job = TrashBulkJob.objects.create(
                tenant=tenant,
                actor=_actor_user(actor),
                actor_label=_actor_label(actor),
                action=action,
                group_key=group_key[:80],
                description=description[:300],
                params=params,
                snapshot=snapshot,
                total=len(snapshot),
            )
    except IntegrityError as exc:
        raise TrashError(
            "A bulk job is already running on these messages; wait for it or cancel it.", status=409
        ) from exc
    from admin_ui.services import audit_log

    audit_log(
        tenant=tenant,
        actor=actor,
        action=f"trash.bulk.{action}",
        obj=job,
        after={"messages": len(snapshot), "group": group_key, **params},
    )
    transaction.on_commit(lambda: trash_bulk_run.delay(job.pk))
    return job


def trash_bulk_job_cancel(*, job: TrashBulkJob, actor: Any) -> TrashBulkJob:
    """Ask a running job to stop after its current chunk; a job not started yet is cancelled at once."""
    if not job.is_active:
        raise TrashError(f"The job is already {job.get_status_display().lower()}.", status=409)
    TrashBulkJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    TrashBulkJob.objects.filter(pk=job.pk, status=TrashBulkJob.Status.QUEUED).update(
        status=TrashBulkJob.Status.CANCELLED,
        finished_at=timezone.now(),
        report={"untouched": job.total, "cancelled_by": _actor_label(actor)},
    )
    job.refresh_from_db()
    return job


def trash_bulk_job_run(*, job_id: int, resume: bool = False) -> TrashBulkJob | None:
    """Work through a job's snapshot in chunks at the throttle's pace, skipping rows changed meanwhile.

    `resume`: the task was redelivered because its worker died mid-job; the job starts over, counting the rows it
    had already handled as done (their revision moved on because of this very job) rather than as skipped."""
    states = [TrashBulkJob.Status.QUEUED, TrashBulkJob.Status.RUNNING] if resume else [TrashBulkJob.Status.QUEUED]
    claimed = TrashBulkJob.objects.filter(pk=job_id, status__in=states).update(
        status=TrashBulkJob.Status.RUNNING, processed=0, succeeded=0, skipped=0, failed=0
    )
    TrashBulkJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    job = TrashBulkJob.objects.select_related("tenant", "actor").filter(pk=job_id).first()
    if job is None or not claimed:
        return job
    actor = job.actor
    ids = sorted(int(pk) for pk in job.snapshot)
    rate = int(job.params.get("throttle") or 0)
    # Throttled jobs work in ~4 small chunks a second: progress moves smoothly, locks stay short, and a chunk's
    # fixed cost (a transaction, a confirmed publish) does not eat into the rate the operator chose.
    chunk = max(1, min(BULK_CHUNK, rate // 4)) if rate else BULK_CHUNK
    targets = _Targets()
    report: dict[str, Any] = {"skipped": [], "failed": []}
    started = time.monotonic()
    done = 0
    status = TrashBulkJob.Status.DONE
    for start in range(0, len(ids), chunk):
        if TrashBulkJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
            status = TrashBulkJob.Status.CANCELLED
            report["untouched"] = len(ids) - start
            break
        part = ids[start : start + chunk]
        try:
            counts = _bulk_chunk(job=job, ids=part, actor=actor, targets=targets, report=report)
        except TrashError as exc:
            status = TrashBulkJob.Status.FAILED
            report["error"] = exc.detail
            report["untouched"] = len(ids) - start
            break
        TrashBulkJob.objects.filter(pk=job.pk).update(
            processed=F("processed") + len(part),
            succeeded=F("succeeded") + counts["ok"],
            skipped=F("skipped") + counts["skipped"],
            failed=F("failed") + counts["failed"],
        )
        done += len(part)
        if rate:
            wait = started + done / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    report["skipped"] = report["skipped"][:REPORT_LIMIT]
    report["failed"] = report["failed"][:REPORT_LIMIT]
    report["seconds"] = round(time.monotonic() - started, 2)
    TrashBulkJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), report=report)
    job.refresh_from_db()
    return job


def _bulk_chunk(
    *, job: TrashBulkJob, ids: list[int], actor: Any, targets: _Targets, report: dict[str, Any]
) -> dict[str, int]:
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    with transaction.atomic():
        rows = list(
            TrashMessage.objects.select_for_update()
            .filter(tenant_id=job.tenant_id, pk__in=ids)
            .only(*BULK_FIELDS)
            .order_by("pk")
        )
        found = {row.pk for row in rows}
        for pk in ids:
            if pk not in found:
                counts["skipped"] += 1
                report["skipped"].append({"id": pk, "reason": "deleted meanwhile"})
        prepared: list[_Prepared] = []
        rejected: list[TrashMessage] = []
        terminated = _terminated(rows)
        moved = [row.pk for row in rows if row.revision != job.snapshot.get(str(row.pk))]
        mine = set(TrashEdit.objects.filter(bulk_job=job, message_id__in=moved).values_list("message_id", flat=True))
        for row in rows:
            if row.pk in mine:
                counts["ok"] += 1  # handled by this job before its worker died
                continue
            if row.revision != job.snapshot.get(str(row.pk)) or row.status != TrashMessage.Status.OPEN:
                counts["skipped"] += 1
                report["skipped"].append(
                    {"id": row.pk, "reason": f"changed meanwhile (now {row.get_status_display().lower()})"}
                )
                continue
            if job.action == TrashBulkJob.Action.REJECT:
                rejected.append(row)
                continue
            problem, body = "", row.body
            diff: list[dict[str, Any]] = []
            target = targets.target(row)
            if target.error:
                problem = target.error
            elif row.correlation_id in terminated:
                problem = "its process was terminated"
            elif job.action == TrashBulkJob.Action.PATCH_RESEND:
                problem, body, diff = _patched(row, job.params["patch"], node=targets.node(row))
            if problem:
                counts["failed"] += 1
                report["failed"].append({"id": row.pk, "reason": problem})
                continue
            prepared.append(
                _Prepared(
                    row=row, body=body, headers=dict(row.headers), target=target, diff=diff, note=f"bulk job #{job.pk}"
                )
            )
        if rejected:
            _bulk_reject(rejected, job=job, actor=actor)
        _resend(prepared, actor=actor, targets=targets, job=job)
        counts["ok"] += len(prepared) + len(rejected)
    return counts


def _terminated(rows: list[TrashMessage]) -> set[str]:
    corrs = {row.correlation_id for row in rows}
    return set(
        Process.objects.filter(correlation_id__in=corrs, status=Process.Status.TERMINATED).values_list(
            "correlation_id", flat=True
        )
    )


def _patched(
    row: TrashMessage, ops: list[dict[str, Any]], *, node: Node | None
) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        data = json.loads(row.body)
    except ValueError:
        return "the body is not JSON", row.body, []
    before = json.loads(row.body)
    try:
        for op in ops:
            if op["op"] == "set":
                data = jsonpath.set_value(data, op["path"], op["value"])
            else:
                data = jsonpath.delete_value(data, op["path"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return f"patch does not apply: {exc}", row.body, []
    body = json.dumps(data, ensure_ascii=False)
    errors = trash_body_errors(node=node, body=body)
    if errors:
        return f"patched body violates the node's schema at {errors[0]['path']}: {errors[0]['message']}", row.body, []
    return "", body, json_diff({"body": before}, {"body": data})


def _bulk_reject(rows: list[TrashMessage], *, job: TrashBulkJob, actor: Any) -> None:
    now = timezone.now()
    for row in rows:
        row.status = TrashMessage.Status.REJECTED
        row.revision += 1
    _write_rows(rows, now=now)
    note = str(job.params.get("reason", ""))
    _write_history([(row, note, []) for row in rows], action=TrashEdit.Action.REJECT, actor=actor, job=job, now=now)


# --- retention ------------------------------------------------------------------------------------------------------


def trash_retention_purge(*, days: int, now: dt.datetime | None = None) -> int:
    """Delete resent and rejected messages (and finished bulk jobs) untouched for `days` days; open ones stay."""
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted, _ = TrashMessage.objects.filter(
        status__in=[TrashMessage.Status.RESENT, TrashMessage.Status.REJECTED], updated_at__lt=cutoff
    ).delete()
    TrashBulkJob.objects.exclude(status__in=TrashBulkJob.ACTIVE).filter(created_at__lt=cutoff).delete()
    return int(deleted)
