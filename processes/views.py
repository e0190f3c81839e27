"""Process pages: list, detail with timeline, terminate, manual start."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from admin_ui.errors import ServiceError
from admin_ui.roles import Perm
from admin_ui.tenancy import current_tenant, tenant_required
from processes import selectors
from processes.filters import ProcessFilter
from processes.models import Process
from processes.services import enabled_version, process_start, process_terminate
from topology.models import Node
from topology.selectors import topology_get, topology_list, version_enabled


@tenant_required(Perm.VIEW)
def process_list(request: HttpRequest) -> HttpResponse:
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    filters = ProcessFilter(request.GET, queryset=selectors.process_list(tenant=tenant))
    page = Paginator(filters.qs, 50).get_page(request.GET.get("page"))
    keys = ("topology", "status", "range", "since", "until")
    return render(
        request,
        "processes/list.html",
        {
            "nav": "processes",
            "page": page,
            "processes": page.object_list,
            "topologies": topology_list(tenant=tenant),
            "statuses": Process.Status.choices,
            "ranges": list(selectors.RANGES),
            "f": {key: request.GET.get(key, "") for key in keys},
            "filter_errors": filters.errors if not filters.is_valid() else {},
            "filtered": any(request.GET.get(key) for key in keys),
        },
    )


@tenant_required(Perm.VIEW)
def process_detail(request: HttpRequest, pk: int) -> HttpResponse:
    process = selectors.process_get(tenant=current_tenant(request), pk=pk)
    membership: Any = request.membership  # type: ignore[attr-defined]
    from admin_ui.roles import role_has

    return render(
        request,
        "processes/detail.html",
        {
            "nav": "processes",
            "process": process,
            "events": selectors.process_timeline(process=process),
            "summary": selectors.process_node_summary(process=process),
            "progress": round(100 * process.done / process.total) if process.total else 0,
            "can_operate": role_has(membership.role, Perm.OPERATE),
        },
    )


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
