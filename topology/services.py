"""Writes of topologies and their versions: create, rename, clone, delete, save, publish, enable, import."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from admin_ui.errors import Refusal, ServiceError, refuse_control_characters
from admin_ui.lookup_cache import lookups_changed
from admin_ui.models import ApplicationInstall, Tenant
from admin_ui.services import audit_log
from topology import selectors
from topology.bpmn.build import build_bpmn
from topology.bpmn.parse import ParsedBpmn, decode_xml, parse_bpmn
from topology.bpmn.validate import validate
from topology.cron import cron_sync
from topology.models import Edge, Node, Topology, TopologyVersion
from topology.runtime import control
from topology.runtime.origin import install_base_url
from topology.runtime.registry import registry
from topology.webhooks import webhook_ensure


def _user(actor: Any) -> Any:
    # API tokens act without a user row; audit and created_by then record no user.
    return actor if isinstance(actor, get_user_model()) else None


def _audit(*, tenant: Tenant, actor: Any, action: str, obj: Any, before: Any = None, after: Any = None) -> None:
    audit_log(tenant=tenant, actor=actor, action=action, obj=obj, before=before, after=after)


def _version_state(version: TopologyVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "status": version.status,
        "enabled": version.enabled,
        "content_hash": version.content_hash,
    }


def _clean_name(*, tenant: Tenant, name: str, exclude_pk: int | None = None) -> str:
    name = refuse_control_characters((name or "").strip())
    if not name:
        raise ServiceError("Give the topology a name.", errors={"name": ["This field is required."]})
    if len(name) > 100:
        raise ServiceError("The name is too long.", errors={"name": ["At most 100 characters."]})
    taken = Topology.objects.filter(tenant=tenant, name=name, deleted_at__isnull=True)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ServiceError(
            f"A topology named {name!r} already exists.", errors={"name": ["A topology with this name exists."]}
        )
    return name


def _free_name(*, tenant: Tenant, name: str) -> str:
    # A name read from the BPMN may hold line breaks; a name typed by someone is refused for them instead.
    base = " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in name or "").split())
    base = base[:90] or "Imported topology"
    candidate, counter = base, 2
    while Topology.objects.filter(tenant=tenant, name=candidate, deleted_at__isnull=True).exists():
        candidate, counter = f"{base} ({counter})", counter + 1
    return candidate


def starter_bpmn() -> str:
    """The diagram of a new topology: one manual start, so the editor opens on something to extend."""
    return build_bpmn([{"id": "StartEvent_1", "kind": "start.manual", "name": "Start"}], [])


NODE_FIELDS = ("name", "kind", "config", "install_id", "ordered", "prefetch", "retry")


def _node_values(parsed_node: Any, tenant_installs: set[int]) -> tuple[Any, ...]:
    """The NODE_FIELDS of a parsed node's row, in order."""
    install_id = parsed_node.install_id if parsed_node.install_id in tenant_installs else None
    return (
        parsed_node.name[:200],
        parsed_node.kind[:32],
        parsed_node.config,
        install_id,
        parsed_node.ordered,
        # The column is small and unsigned; out-of-range values are reported by validation.
        min(max(parsed_node.prefetch, 1), 100),
        parsed_node.retry,
    )


def _derive_rows(*, version: TopologyVersion, parsed: ParsedBpmn, tenant: Tenant) -> None:
    """Bring the version's Node and Edge rows in line with the parsed diagram, touching only what changed.

    An editor save usually changes one node of hundreds: rows are matched by BPMN id and compared as plain values,
    and only new, changed and removed ones are written, in bulk (unchanged rows keep their ids, so nothing that
    points at them moves).
    """
    install_ids = {n.install_id for n in parsed.nodes if n.install_id is not None}
    tenant_installs = set(
        ApplicationInstall.objects.filter(tenant=tenant, pk__in=install_ids).values_list("pk", flat=True)
    )
    wanted: dict[str, tuple[Any, ...]] = {}
    for parsed_node in parsed.nodes:
        key = parsed_node.key[:100]
        if not key or key in wanted:
            continue  # duplicate or missing ids are validation errors; one row per id keeps the constraint
        wanted[key] = _node_values(parsed_node, tenant_installs)
    existing: dict[str, tuple[int, tuple[Any, ...]]] = {
        key: (pk, tuple(values))
        for pk, key, *values in Node.objects.filter(version=version).values_list("pk", "key", *NODE_FIELDS)
    }
    gone = [pk for key, (pk, _values) in existing.items() if key not in wanted]
    if gone:
        Node.objects.filter(pk__in=gone).delete()  # their edges go with them

    def row(key: str, values: tuple[Any, ...], pk: int | None = None) -> Node:
        return Node(pk=pk, version=version, key=key, **dict(zip(NODE_FIELDS, values, strict=True)))

    changed = [
        row(key, values, existing[key][0])
        for key, values in wanted.items()
        if key in existing and existing[key][1] != values
    ]
    if changed:
        Node.objects.bulk_update(changed, NODE_FIELDS, batch_size=500)
    node_ids = {key: existing[key][0] for key in wanted if key in existing}
    created = Node.objects.bulk_create([row(key, values) for key, values in wanted.items() if key not in existing])
    node_ids.update((node.key, node.pk) for node in created)
    _derive_edges(version=version, parsed=parsed, node_ids=node_ids)


def _derive_edges(*, version: TopologyVersion, parsed: ParsedBpmn, node_ids: dict[str, int]) -> None:
    """Edges are small rows compared whole: those no longer in the diagram are deleted, new ones created."""
    # (key, source id, target id, condition, is_default, name) -> ids of the stored edges that look like that
    existing: dict[tuple[Any, ...], list[int]] = {}
    for pk, *fields in Edge.objects.filter(version=version).values_list(
        "pk", "key", "source_id", "target_id", "condition", "is_default", "name"
    ):
        existing.setdefault(tuple(fields), []).append(pk)
    new: list[Edge] = []
    for edge in parsed.edges:
        source, target = node_ids.get(edge.source[:100]), node_ids.get(edge.target[:100])
        if source is None or target is None:
            continue
        values = (edge.key[:100], source, target, edge.condition, edge.is_default, edge.name[:200])
        same = existing.get(values)
        if same:
            same.pop()  # this stored edge stays
        else:
            new.append(
                Edge(
                    version=version,
                    key=values[0],
                    source_id=source,
                    target_id=target,
                    condition=edge.condition,
                    is_default=edge.is_default,
                    name=values[5],
                )
            )
    stale = [pk for pks in existing.values() for pk in pks]
    if stale:
        Edge.objects.filter(pk__in=stale).delete()
    Edge.objects.bulk_create(new)


def _next_number(topology: Topology) -> int:
    return (TopologyVersion.objects.filter(topology=topology).aggregate(n=Max("number"))["n"] or 0) + 1


def bpmn_validate(*, parsed: ParsedBpmn, tenant: Tenant) -> list[dict[str, str]]:
    """The pure validation, given what exists for this tenant now: its installs and the registered Python nodes."""
    wanted = {n.install_id for n in parsed.nodes if n.install_id is not None}
    installs = dict(ApplicationInstall.objects.filter(tenant=tenant, pk__in=wanted).values_list("pk", "settings"))
    return validate(
        parsed,
        installs=set(installs),
        python_nodes=set(registry.names()),
        without_base_url={pk for pk, settings in installs.items() if not install_base_url(settings)},
    )


def _create_version(*, topology: Topology, bpmn_xml: str, actor: Any, process_id: str = "") -> TopologyVersion:
    parsed = parse_bpmn(bpmn_xml, process_id=process_id)
    version = TopologyVersion.objects.create(
        topology=topology,
        number=_next_number(topology),
        bpmn_xml=bpmn_xml,
        process_id=parsed.process_id,
        content_hash=parsed.content_hash,
        errors=bpmn_validate(parsed=parsed, tenant=topology.tenant),
        unsupported=parsed.unsupported,
        created_by=_user(actor),
    )
    _derive_rows(version=version, parsed=parsed, tenant=topology.tenant)
    return version


@transaction.atomic
def topology_create(
    *,
    tenant: Tenant,
    name: str,
    actor: Any,
    description: str = "",
    bpmn_xml: str | None = None,
    process_id: str = "",
) -> Topology:
    """Create a topology with a first draft version (a starter diagram unless XML is given)."""
    topology = Topology.objects.create(
        tenant=tenant, name=_clean_name(tenant=tenant, name=name), description=description.strip()
    )
    version = _create_version(
        topology=topology, bpmn_xml=bpmn_xml or starter_bpmn(), actor=actor, process_id=process_id
    )
    _audit(tenant=tenant, actor=actor, action="topology.create", obj=topology, after={"name": topology.name})
    _audit(tenant=tenant, actor=actor, action="topology.version.create", obj=version, after=_version_state(version))
    return topology


@transaction.atomic
def topology_rename(*, topology: Topology, name: str, actor: Any, description: str | None = None) -> Topology:
    """Rename a topology (and optionally change its description)."""
    before = {"name": topology.name, "description": topology.description}
    topology.name = _clean_name(tenant=topology.tenant, name=name, exclude_pk=topology.pk)
    if description is not None:
        topology.description = description.strip()
    topology.save(update_fields=["name", "description", "updated_at"])
    after = {"name": topology.name, "description": topology.description}
    _audit(tenant=topology.tenant, actor=actor, action="topology.rename", obj=topology, before=before, after=after)
    lookups_changed()
    return topology


@transaction.atomic
def topology_clone(*, topology: Topology, name: str, actor: Any) -> Topology:
    """Copy the latest diagram of a topology into a new topology as its first draft."""
    latest = selectors.version_latest(topology=topology)
    clone = topology_create(
        tenant=topology.tenant,
        name=name,
        actor=actor,
        description=topology.description,
        bpmn_xml=latest.bpmn_xml if latest else None,
        process_id=latest.process_id if latest else "",
    )
    _audit(
        tenant=topology.tenant,
        actor=actor,
        action="topology.clone",
        obj=clone,
        before={"source": topology.pk, "version": latest.number if latest else None},
        after={"name": clone.name},
    )
    return clone


def topology_delete(*, topology: Topology, actor: Any, force: bool = False) -> Topology:
    """Soft-delete a topology; refused while its processes run unless forced. Its enabled version is disabled."""
    running = selectors.topology_in_progress_count(topology=topology)
    if running and not force:
        raise ServiceError(
            f"{running} process(es) of this topology are still in progress. Wait for them or force the deletion.",
            errors={"force": ["Processes are in progress."]},
            reason=Refusal.CONFLICT,
        )
    with transaction.atomic():
        locked = Topology.objects.select_for_update().get(pk=topology.pk)
        enabled = TopologyVersion.objects.filter(topology=locked, enabled=True).first()
        if enabled is not None:
            enabled.enabled = False
            enabled.save(update_fields=["enabled", "updated_at"])
            transaction.on_commit(lambda: version_after_disable(enabled))
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at", "updated_at"])
        _audit(
            tenant=locked.tenant,
            actor=actor,
            action="topology.delete",
            obj=locked,
            before={"name": locked.name, "enabled_version": enabled.number if enabled else None},
            after={"deleted": True, "forced": bool(force and running), "in_progress": running},
        )
    topology.deleted_at = locked.deleted_at
    lookups_changed()
    return topology


def topology_version_save(*, version: TopologyVersion, bpmn_xml: str, actor: Any) -> TopologyVersion:
    """Store edited XML: a draft is updated in place, a published version gets a new draft; same XML is a no-op.

    Raises BpmnError (nothing stored) when the XML cannot be parsed; validation errors are stored, not raised.
    """
    parsed = parse_bpmn(bpmn_xml, process_id=version.process_id)
    if parsed.content_hash == version.content_hash:
        return version
    topology = version.topology
    errors = bpmn_validate(parsed=parsed, tenant=topology.tenant)
    with transaction.atomic():
        # Lock the topology: version numbers and the draft/published switch must not race with publish.
        Topology.objects.select_for_update().get(pk=topology.pk)
        current = TopologyVersion.objects.get(pk=version.pk)
        if current.status == TopologyVersion.Status.DRAFT:
            before = _version_state(current)
            current.bpmn_xml = bpmn_xml
            current.process_id = parsed.process_id
            current.content_hash = parsed.content_hash
            current.errors = errors
            current.unsupported = parsed.unsupported
            current.save(
                update_fields=["bpmn_xml", "process_id", "content_hash", "errors", "unsupported", "updated_at"]
            )
            target, action = current, "topology.version.save"
        else:
            before = {"from_version": current.number}
            target = TopologyVersion.objects.create(
                topology=topology,
                number=_next_number(topology),
                bpmn_xml=bpmn_xml,
                process_id=parsed.process_id,
                content_hash=parsed.content_hash,
                errors=errors,
                unsupported=parsed.unsupported,
                created_by=_user(actor),
            )
            action = "topology.version.create"
        _derive_rows(version=target, parsed=parsed, tenant=topology.tenant)
        Topology.objects.filter(pk=topology.pk).update(updated_at=timezone.now())
        after = {**_version_state(target), "errors": len(errors), "unsupported": len(parsed.unsupported)}
        _audit(tenant=topology.tenant, actor=actor, action=action, obj=target, before=before, after=after)
    return target


def topology_version_publish(*, version: TopologyVersion, actor: Any) -> TopologyVersion:
    """Freeze a draft so it can be enabled; refused while the diagram has validation errors."""
    if version.status == TopologyVersion.Status.PUBLISHED:
        return version
    topology = version.topology
    # Re-validate: installs or registered nodes may have changed since the draft was saved.
    parsed = parse_bpmn(version.bpmn_xml, process_id=version.process_id)
    errors = bpmn_validate(parsed=parsed, tenant=topology.tenant)
    if errors != version.errors:
        TopologyVersion.objects.filter(pk=version.pk).update(errors=errors)
        version.errors = errors
    if errors:
        raise ServiceError(f"Fix {len(errors)} problem(s) before publishing.", errors=errors)
    with transaction.atomic():
        Topology.objects.select_for_update().get(pk=topology.pk)
        current = TopologyVersion.objects.get(pk=version.pk)
        if current.content_hash != version.content_hash:
            raise ServiceError("The version changed meanwhile; reload and try again.", reason=Refusal.CONFLICT)
        if current.status == TopologyVersion.Status.PUBLISHED:
            return current
        current.status = TopologyVersion.Status.PUBLISHED
        current.published_at = timezone.now()
        current.save(update_fields=["status", "published_at", "updated_at"])
        _audit(
            tenant=topology.tenant,
            actor=actor,
            action="topology.version.publish",
            obj=current,
            before={"status": "draft"},
            after=_version_state(current),
        )
        transaction.on_commit(lambda: webhook_ensure(version=current))
    return current


def topology_version_enable(*, version: TopologyVersion, actor: Any) -> TopologyVersion:
    """Make this published version the one that runs; the previously enabled one is disabled atomically."""
    if version.status != TopologyVersion.Status.PUBLISHED:
        raise ServiceError("Publish the version before enabling it.")
    topology = version.topology
    with transaction.atomic():
        Topology.objects.select_for_update().get(pk=topology.pk)
        current = TopologyVersion.objects.get(pk=version.pk)
        if current.enabled:
            return current
        previous = TopologyVersion.objects.filter(topology=topology, enabled=True).first()
        if previous is not None:
            # Disable first: the partial unique constraint allows one enabled row per topology at any moment.
            previous.enabled = False
            previous.save(update_fields=["enabled", "updated_at"])
        current.enabled = True
        current.enabled_at = timezone.now()
        current.save(update_fields=["enabled", "enabled_at", "updated_at"])
        _audit(
            tenant=topology.tenant,
            actor=actor,
            action="topology.version.enable",
            obj=current,
            before={"enabled_version": previous.number if previous else None},
            after={"enabled_version": current.number},
        )
        transaction.on_commit(lambda: version_after_enable(current))
    return current


def topology_version_disable(*, version: TopologyVersion, actor: Any) -> TopologyVersion:
    """Stop a version's starts; in-flight messages drain."""
    topology = version.topology
    with transaction.atomic():
        Topology.objects.select_for_update().get(pk=topology.pk)
        current = TopologyVersion.objects.get(pk=version.pk)
        if not current.enabled:
            return current
        current.enabled = False
        current.save(update_fields=["enabled", "updated_at"])
        _audit(
            tenant=topology.tenant,
            actor=actor,
            action="topology.version.disable",
            obj=current,
            before={"enabled": True},
            after={"enabled": False},
        )
        transaction.on_commit(lambda: version_after_disable(current))
    return current


def topology_import(
    *, tenant: Tenant, name: str, bpmn_xml: str | bytes, actor: Any, process_id: str = ""
) -> TopologyVersion:
    """Create a topology from a BPMN file of any modeler; the XML is kept unchanged, unsupported parts reported.

    Bytes are decoded as the file declares. `process_id` picks the process to run when the file has several;
    by default the one with the most runnable nodes runs.
    """
    refuse_control_characters(name)
    text = decode_xml(bpmn_xml) if isinstance(bpmn_xml, bytes) else bpmn_xml
    parsed = parse_bpmn(text, process_id=process_id)  # refuse bad XML before creating anything
    if process_id and parsed.process_id != process_id:
        known = ", ".join(p["id"] for p in parsed.processes) or "none"
        raise ServiceError(
            f"The file has no process with id {process_id!r}; its processes: {known}.",
            errors={"process_id": ["No such process in the file."]},
        )
    with transaction.atomic():
        topology = topology_create(
            tenant=tenant,
            name=_free_name(tenant=tenant, name=name or parsed.process_name),
            actor=actor,
            bpmn_xml=text,
            process_id=parsed.process_id,
        )
        version = TopologyVersion.objects.get(topology=topology, number=1)
        _audit(
            tenant=tenant,
            actor=actor,
            action="topology.import",
            obj=topology,
            after={"errors": len(version.errors), "unsupported": len(version.unsupported)},
        )
    return version


def version_after_enable(version: TopologyVersion) -> None:
    """Runtime side of enabling (after commit): webhooks, queues, engines, cron rows."""
    # After commit: engines reading the database must already see the version as enabled.
    lookups_changed()
    webhook_ensure(version=version)
    control.version_started(version)
    cron_sync(topology=version.topology)


def version_after_disable(version: TopologyVersion) -> None:
    """Runtime side of disabling (after commit): cron rows removed, web workers' start caches and engines told."""
    lookups_changed()
    cron_sync(topology=version.topology)
    control.version_stopped(version)
