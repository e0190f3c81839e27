"""Topology pages: list, create, detail, rename, clone, delete, versions, diff, editor, import, export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from admin_ui.errors import ServiceError
from admin_ui.roles import Perm, role_has
from admin_ui.tenancy import current_tenant, tenant_required
from topology import kinds, selectors, services
from topology.bpmn.parse import BpmnError, parse_bpmn
from topology.export import bpmn_response
from topology.filters import TopologyFilter
from topology.forms import CloneForm, DeleteForm, DiffForm, ImportForm, TopologyForm
from topology.models import Topology, TopologyVersion
from topology.runtime.registry import registry
from topology.webhooks import (
    webhook_get,
    webhook_list,
    webhook_revoke,
    webhook_rotate,
    webhook_signing_set,
    webhook_urls,
)


def _can_edit(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and role_has(membership.role, Perm.EDIT)


def _can_operate(request: HttpRequest) -> bool:
    """Operators and above see webhook URLs: a URL starts processes, so it is an operator's credential."""
    membership = getattr(request, "membership", None)
    return membership is not None and role_has(membership.role, Perm.OPERATE)


def _topology_context(request: HttpRequest, topology: Topology, **extra: Any) -> dict[str, Any]:
    return {"topology": topology, "nav": "topologies", "can_edit": _can_edit(request), **extra}


@tenant_required()
def topology_list(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]  # tenant_required guarantees one
    filters = TopologyFilter(request.GET, queryset=selectors.topology_list(tenant=tenant))
    page = Paginator(filters.qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "topology/list.html",
        {
            "page": page,
            "topologies": page.object_list,
            "q": filters.form.cleaned_data.get("q", "") if filters.is_valid() else "",
            "filters": filters,
            "nav": "topologies",
            "can_edit": _can_edit(request),
        },
    )


@tenant_required(Perm.EDIT)
def topology_create(request: HttpRequest) -> HttpResponse:
    form = TopologyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            topology = services.topology_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
        except ServiceError as exc:
            form.add_error("name" if "name" in exc.errors else None, exc.detail)
        else:
            messages.success(request, f"Topology “{topology.name}” created.")
            return redirect("topology_editor", pk=topology.pk, number=1)
    return render(request, "topology/form.html", {"form": form, "nav": "topologies", "title": "New topology"})


@tenant_required()
def topology_detail(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    versions = list(selectors.version_list(topology=topology)[:10])
    latest = versions[0] if versions else None
    enabled = next((v for v in versions if v.enabled), None) or selectors.version_enabled(topology=topology)
    return render(
        request,
        "topology/detail.html",
        _topology_context(
            request,
            topology,
            versions=versions,
            latest=latest,
            latest_errors=selectors.version_errors(version=latest) if latest else [],
            enabled_version=enabled,
            in_progress=selectors.topology_in_progress_count(topology=topology),
            webhooks=webhook_list(topology=topology) if _can_operate(request) else [],
            can_operate=_can_operate(request),
        ),
    )


@tenant_required(Perm.EDIT)
def topology_rename(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    form = TopologyForm(request.POST or None, initial={"name": topology.name, "description": topology.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.topology_rename(
                topology=topology,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
        except ServiceError as exc:
            form.add_error("name" if "name" in exc.errors else None, exc.detail)
        else:
            messages.success(request, "Topology renamed.")
            return redirect("topology_detail", pk=topology.pk)
    return render(
        request, "topology/form.html", _topology_context(request, topology, form=form, title=f"Rename {topology.name}")
    )


@tenant_required(Perm.EDIT)
def topology_clone(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    form = CloneForm(request.POST or None, initial={"name": f"{topology.name} (copy)"[:100]})
    if request.method == "POST" and form.is_valid():
        try:
            clone = services.topology_clone(topology=topology, name=form.cleaned_data["name"], actor=request.user)
        except ServiceError as exc:
            form.add_error("name", getattr(exc, "detail", str(exc)))
        else:
            messages.success(request, f"Copied to “{clone.name}”.")
            return redirect("topology_detail", pk=clone.pk)
    return render(
        request, "topology/form.html", _topology_context(request, topology, form=form, title=f"Copy {topology.name}")
    )


@tenant_required(Perm.EDIT)
def topology_delete(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    form = DeleteForm(request.POST or None)
    in_progress = selectors.topology_in_progress_count(topology=topology)
    if request.method == "POST" and form.is_valid():
        try:
            services.topology_delete(topology=topology, actor=request.user, force=form.cleaned_data["force"])
        except ServiceError as exc:
            form.add_error("force", exc.detail)
        else:
            messages.success(request, f"Topology “{topology.name}” deleted.")
            return redirect("topology_list")
    return render(
        request, "topology/delete.html", _topology_context(request, topology, form=form, in_progress=in_progress)
    )


@tenant_required()
def topology_versions(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    versions = list(selectors.version_list(topology=topology))
    numbers = [v.number for v in versions]
    initial = {"a": numbers[1], "b": numbers[0]} if len(numbers) > 1 else {}
    form = DiffForm(initial=initial, numbers=numbers)
    return render(
        request, "topology/versions.html", _topology_context(request, topology, versions=versions, diff_form=form)
    )


@tenant_required()
def topology_version_diff(request: HttpRequest, pk: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    numbers = list(selectors.version_list(topology=topology).values_list("number", flat=True))
    form = DiffForm(request.GET or None, numbers=numbers)
    diff = None
    if form.is_valid():
        diff = selectors.version_compare(topology=topology, a=form.cleaned_data["a"], b=form.cleaned_data["b"])
    return render(request, "topology/diff.html", _topology_context(request, topology, diff_form=form, diff=diff))


def editor_config(request: HttpRequest, version: TopologyVersion) -> dict[str, Any]:
    """What the bpmn-js editor needs: ids, URLs of its API calls, and the version's problems."""
    topology = version.topology
    args = [topology.pk, version.number]
    return {
        "topologyId": topology.pk,
        "topologyName": topology.name,
        "versionNumber": version.number,
        "versionStatus": version.status,
        "enabled": version.enabled,
        # Published versions stay editable: saving them creates a new draft. Only roles without edit read.
        "readOnly": not _can_edit(request),
        "xmlUrl": reverse("api_version_xml", args=args),
        "saveUrl": reverse("api_version_xml", args=args),
        "publishUrl": reverse("api_version_publish", args=args),
        "enableUrl": reverse("api_version_enable", args=args),
        "disableUrl": reverse("api_version_disable", args=args),
        "exportUrl": reverse("topology_version_export", args=args),
        "importUrl": reverse("api_topology_import"),
        "registryUrl": reverse("api_node_registry"),
        # The same payload as the registry API, in the page: opening the editor waits for no extra round trip.
        "registry": kinds.registry_payload(registry.describe()),
        "installsUrl": reverse("install_options"),
        "historyUrl": reverse("topology_versions", args=[topology.pk]),
        "detailUrl": reverse("topology_detail", args=[topology.pk]),
        "processId": version.process_id,
        "errors": version.errors,
        "unsupported": version.unsupported,
        "webhookUrls": webhook_urls(topology=topology) if _can_operate(request) else {},
    }


@tenant_required()
def topology_editor(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    version = selectors.version_get(topology=topology, number=number)
    return render(
        request,
        "topology/editor.html",
        {
            "topology": topology,
            "version": version,
            "nav": "topologies",
            "editor_config": editor_config(request, version),
        },
    )


@tenant_required()
def topology_version_export(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    return bpmn_response(selectors.version_get(topology=topology, number=number), attachment=True)


def _version_action(request: HttpRequest, pk: int, number: int, action: str) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    version = selectors.version_get(topology=topology, number=number)
    try:
        if action == "publish":
            services.topology_version_publish(version=version, actor=request.user)
            messages.success(request, f"Version {number} published.")
        elif action == "enable":
            services.topology_version_enable(version=version, actor=request.user)
            messages.success(request, f"Version {number} enabled.")
        elif action == "disable":
            services.topology_version_disable(version=version, actor=request.user)
            messages.success(request, f"Version {number} disabled.")
        else:
            raise Http404
    except ServiceError as exc:
        messages.error(request, exc.detail)
    target = request.POST.get("next", "")
    # Only our own pages: never bounce to an arbitrary URL taken from the form.
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("topology_detail", pk=topology.pk)


@require_POST
@tenant_required(Perm.EDIT)
def topology_version_publish(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    return _version_action(request, pk, number, "publish")


@require_POST
@tenant_required(Perm.EDIT)
def topology_version_enable(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    return _version_action(request, pk, number, "enable")


@require_POST
@tenant_required(Perm.EDIT)
def topology_version_disable(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    return _version_action(request, pk, number, "disable")


@tenant_required(Perm.EDIT)
def topology_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    result: TopologyVersion | None = None
    processes: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        name = form.cleaned_data["name"] or upload.name.rsplit(".", 1)[0]
        try:
            result = services.topology_import(
                tenant=request.tenant,  # type: ignore[attr-defined]
                name=name,
                bpmn_xml=upload.read(),
                actor=request.user,
                process_id=form.cleaned_data["process_id"],
            )
        except BpmnError as exc:
            form.add_error("file", exc.message)
        except ServiceError as exc:
            picked_wrong = isinstance(exc.errors, dict) and "process_id" in exc.errors
            form.add_error("process_id" if picked_wrong else None, exc.detail)
        else:
            processes = parse_bpmn(result.bpmn_xml, process_id=result.process_id).processes
            messages.success(request, f"Imported “{result.topology.name}”.")
    context = {"form": form, "result": result, "processes": processes, "nav": "topologies"}
    return render(request, "topology/import.html", context)


@require_POST
@tenant_required(Perm.OPERATE)
def topology_webhook_rotate(request: HttpRequest, pk: int, webhook_id: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    webhook = webhook_rotate(webhook=webhook_get(topology=topology, pk=webhook_id), actor=request.user)
    messages.success(request, f"New URL for {webhook.node_key}; the old one no longer starts anything.")
    return redirect("topology_detail", pk=topology.pk)


@require_POST
@tenant_required(Perm.OPERATE)
def topology_webhook_revoke(request: HttpRequest, pk: int, webhook_id: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    webhook = webhook_revoke(webhook=webhook_get(topology=topology, pk=webhook_id), actor=request.user)
    messages.success(request, f"Webhook of {webhook.node_key} revoked; enabling a version creates a new one.")
    return redirect("topology_detail", pk=topology.pk)


@require_POST
@tenant_required(Perm.OPERATE)
def topology_webhook_signing(request: HttpRequest, pk: int, webhook_id: int) -> HttpResponse:
    topology = selectors.topology_get(tenant=current_tenant(request), pk=pk)
    signed = request.POST.get("signed") == "on"
    webhook_signing_set(webhook=webhook_get(topology=topology, pk=webhook_id), signed=signed, actor=request.user)
    messages.success(request, "Signature required." if signed else "Signature no longer required.")
    return redirect("topology_detail", pk=topology.pk)
