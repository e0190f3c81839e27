"""Process pages: the live list (search, bulk terminate, export), the live detail with its path and payloads,
terminate, manual start, the topology monitor and the tenant dashboard."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from admin_ui.errors import ServiceError
from admin_ui.ids import parse_id
from admin_ui.roles import Perm, role_has
from admin_ui.tenancy import current_tenant, tenant_required
from processes import selectors
from processes.filters import ProcessFilter
from processes.models import Process
from processes.services import enabled_version, process_start, process_terminate, processes_terminate
from topology.models import Node
from topology.selectors import topology_get, topology_list, version_enabled


@tenant_required(Perm.VIEW)
def process_list(request: HttpRequest) -> HttpResponse:
    """The live process list: htmx re-reads the rows (same filters) whenever the socket says something changed."""
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    filters = ProcessFilter(request.GET, queryset=selectors.process_list(tenant=tenant))
    page = Paginator(filters.qs, 50).get_page(request.GET.get("page"))
    keys = ("q", "topology", "status", "range", "since", "until")
    membership: Any = request.membership  # type: ignore[attr-defined]
    context = {
        "nav": "processes",
        "page": page,
        "processes": page.object_list,
        "topologies": topology_list(tenant=tenant),
        "statuses": Process.Status.choices,
        "ranges": list(selectors.RANGES),
        "f": {key: request.GET.get(key, "") for key in keys},
        "filter_errors": filters.errors if not filters.is_valid() else {},
        "filtered": any(request.GET.get(key) for key in keys),
        "can_operate": role_has(membership.role, Perm.OPERATE),
    }
    if getattr(request, "htmx", False):
        return render(request, "processes/htmx/process_rows.html", context)
    return render(request, "processes/list.html", context)


def _selected(request: HttpRequest) -> list[Process]:
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    ids = [i for i in (parse_id(v) for v in request.POST.getlist("ids")) if i is not None]
    return list(selectors.process_list_for_ids(tenant=tenant, ids=ids))


@tenant_required(Perm.VIEW)
@require_POST
def process_export(request: HttpRequest) -> HttpResponse:
    """The selected processes as CSV (a POST: a selection can be longer than a URL)."""
    processes = _selected(request)
    if not processes:
        messages.error(request, "Select at least one process to export.")
        return redirect("process_list")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="processes.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "correlation_id",
            "topology",
            "version",
            "status",
            "started_at",
            "finished_at",
            "total",
            "done",
            "failed",
            "trashed",
        ]
    )
    for p in processes:
        writer.writerow(
            [
                p.correlation_id,
                p.version.topology.name,
                p.version.number,
                p.status,
                p.started_at.isoformat(),
                p.finished_at.isoformat() if p.finished_at else "",
                p.total,
                p.done,
                p.failed,
                p.trashed,
            ]
        )
    return response


@tenant_required(Perm.OPERATE)
@require_POST
def process_bulk_terminate(request: HttpRequest) -> HttpResponse:
    processes = _selected(request)
    if not processes:
        messages.error(request, "Select at least one process to terminate.")
    else:
        count = processes_terminate(processes=processes, actor=request.user)
        skipped = len(processes) - count
        text = f"{count} process{'es' if count != 1 else ''} terminated."
        if skipped:
            text += f" {skipped} had already finished."
        messages.success(request, text)
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/processes/") else "process_list")


def _detail_context(request: HttpRequest, process: Process) -> dict[str, Any]:
    membership: Any = request.membership  # type: ignore[attr-defined]
    names = selectors.node_names(version_id=process.version_id)
    events = selectors.process_timeline(process=process)
    kept = selectors.process_payload_ids(process=process)
    for event in events:
        event.node_name = names.get(event.node_key, event.node_key)  # type: ignore[attr-defined]
        event.word = selectors.result_word(event.result_code)  # type: ignore[attr-defined]
        event.tone = selectors.result_tone(event.result_code)  # type: ignore[attr-defined]
        event.is_wait = event.result_code in selectors.WAIT_CODES  # type: ignore[attr-defined]
        event.has_payload = event.message_id in kept  # type: ignore[attr-defined]
    trash = selectors.process_trash(process=process)
    summary = selectors.process_node_summary(process=process)
    for row in summary:
        row["name"] = names.get(row["node_key"], row["node_key"])
    return {
        "nav": "processes",
        "process": process,
        "events": events,
        "summary": summary,
        "trash": trash,
        "progress": round(100 * process.done / process.total) if process.total else 0,
        "can_operate": role_has(membership.role, Perm.OPERATE),
        "socket": f"/ws/live/topologies/{process.version.topology_id}/",
        "xml_url": reverse("api_version_xml", args=(process.version.topology_id, process.version.number)),
    }


@tenant_required(Perm.VIEW)
def process_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A process's figures, diagram path and timeline; htmx re-reads the live part when notified."""
    process = selectors.process_get(tenant=current_tenant(request), pk=pk)
    context = _detail_context(request, process)
    if getattr(request, "htmx", False):
        return render(request, "processes/htmx/process_live.html", context)
    return render(request, "processes/detail.html", context)


@tenant_required(Perm.VIEW)
def process_payload(request: HttpRequest, pk: int, message_id: str) -> HttpResponse:
    """The kept input and outputs of one run (an htmx fragment, loaded on demand)."""
    process = selectors.process_get(tenant=current_tenant(request), pk=pk)
    payload = selectors.process_payload_get(process=process, message_id=message_id)
    return render(request, "processes/htmx/payload.html", {"payload": payload})


@tenant_required(Perm.VIEW)
def process_path_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The nodes a process visited, with runs, waits, failures and time: the diagram overlay's data."""
    process = selectors.process_get(tenant=current_tenant(request), pk=pk)
    return JsonResponse(selectors.process_path(process=process))


@tenant_required(Perm.OPERATE)
def process_terminate_view(request: HttpRequest, pk: int) -> HttpResponse:
    process = selectors.process_get(tenant=current_tenant(request), pk=pk)
    if request.method == "POST":
        try:
            process_terminate(process=process, actor=request.user)
        except ServiceError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Process terminated; its remaining messages are dropped.")
        return redirect("process_detail", pk=process.pk)
    return render(request, "processes/terminate.html", {"nav": "processes", "process": process})


@tenant_required(Perm.OPERATE)
def topology_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    topology = topology_get(tenant=current_tenant(request), pk=pk)
    version = version_enabled(topology=topology)
    payload = request.POST.get("payload", "{\n  \n}") if request.method == "POST" else "{\n  \n}"
    node_key = request.POST.get("node", "")
    error = ""
    if request.method == "POST":
        try:
            process = process_start(
                version=enabled_version(topology=topology),
                body=payload,
                actor=request.user,
                node_key=node_key or None,
                kinds=(Node.Kind.START_MANUAL,),
            )
        except ServiceError as exc:
            error = exc.detail
        else:
            messages.success(request, f"Process {process.correlation_id} started.")
            return redirect("process_detail", pk=process.pk)
    return render(
        request,
        "processes/start.html",
        {
            "nav": "topologies",
            "topology": topology,
            "version": version,
            "start_nodes": selectors.start_nodes(version=version),
            "payload": payload,
            "node_key": node_key,
            "error": error,
        },
        status=400 if error else 200,
    )


# ---- Topology monitor and tenant dashboard ------------------------------------------------------------------


def _enabled_version_of(topology: Any) -> Any:
    return version_enabled(topology=topology)


@tenant_required(Perm.VIEW)
def topology_monitor(request: HttpRequest, pk: int) -> HttpResponse:
    """The enabled version's diagram with a live overlay per node."""
    topology = topology_get(tenant=current_tenant(request), pk=pk)
    version = _enabled_version_of(topology)
    return render(
        request,
        "processes/monitor.html",
        {
            "nav": "topologies",
            "topology": topology,
            "version": version,
            "socket": f"/ws/live/topologies/{topology.pk}/",
        },
    )


@tenant_required(Perm.VIEW)
def topology_monitor_stats(request: HttpRequest, pk: int) -> JsonResponse:
    """Per-node figures of the enabled version (JSON, re-read by the monitor on every notice)."""
    topology = topology_get(tenant=current_tenant(request), pk=pk)
    version = _enabled_version_of(topology)
    if version is None:
        return JsonResponse({"nodes": {}, "depths_at": None, "detail": "No version is enabled."})
    return JsonResponse(selectors.topology_monitor(topology=topology, version=version))


@tenant_required(Perm.VIEW)
def topology_monitor_node(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """One node's recent runs and trash (an htmx fragment for the monitor's side panel)."""
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    topology = topology_get(tenant=current_tenant(request), pk=pk)
    version = _enabled_version_of(topology)
    node = version.nodes.filter(key=key).first() if version is not None else None
    if node is None:
        raise Http404("No such node.")
    recent = selectors.node_recent(tenant=tenant, version=version, node_key=key)
    for run in recent["runs"]:
        run.word = selectors.result_word(run.result_code)
        run.tone = selectors.result_tone(run.result_code)
    return render(
        request,
        "processes/htmx/monitor_node.html",
        {"topology": topology, "version": version, "node": node, **recent},
    )


@tenant_required(Perm.VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The tenant's throughput and errors per topology, top failing nodes, trash size and limiter saturation."""
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    data = selectors.dashboard(tenant=tenant, span=request.GET.get("span", "1h"))
    context = {
        "nav": "dashboard",
        "data": data,
        "spans": list(selectors.DASHBOARD_RANGES),
        **selectors.limiter_saturation(tenant=tenant),
    }
    if getattr(request, "htmx", False):
        return render(request, "processes/htmx/dashboard_body.html", context)
    return render(request, "processes/dashboard.html", context)
