"""Process pages: list, detail with timeline, terminate, manual start, and the public webhook endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.timezone import get_current_timezone, is_naive, make_aware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from admin_ui.roles import Perm
from admin_ui.tenancy import current_tenant, tenant_required
from processes import selectors
from processes.models import Process
from processes.services import START_KINDS, StartError, enabled_version, process_start, process_terminate, webhook_start
from topology.models import Node
from topology.selectors import topology_get, topology_list
from topology.webhooks import SIGNATURE_HEADER


def _when(value: str) -> dt.datetime | None:
    parsed = parse_datetime(value) if value else None
    if parsed is not None and is_naive(parsed):
        parsed = make_aware(parsed, get_current_timezone())
    return parsed


@tenant_required(Perm.VIEW)
def process_list(request: HttpRequest) -> HttpResponse:
    tenant: Any = request.tenant  # type: ignore[attr-defined]
    topology = request.GET.get("topology", "")
    status = request.GET.get("status", "")
    time_range = request.GET.get("range", "")
    since = selectors.range_start(time_range) or _when(request.GET.get("since", ""))
    until = _when(request.GET.get("until", ""))
    qs = selectors.process_list(
        tenant=tenant,
        topology_id=int(topology) if topology.isdigit() else None,
        status=status,
        since=since,
        until=until,
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    filtered = bool(topology or status or time_range or since or until)
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
            "f": {
                "topology": topology,
                "status": status,
                "range": time_range,
                "since": request.GET.get("since", ""),
                "until": request.GET.get("until", ""),
            },
            "filtered": filtered,
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
        except StartError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Process terminated; its remaining messages are dropped.")
        return redirect("process_detail", pk=process.pk)
    return render(request, "processes/terminate.html", {"nav": "processes", "process": process})


@tenant_required(Perm.OPERATE)
def topology_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    topology = topology_get(tenant=current_tenant(request), pk=pk)
    version = topology.versions.filter(enabled=True).first()
    start_nodes = list(version.nodes.filter(kind__in=START_KINDS).order_by("id")) if version else []
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
        except StartError as exc:
            error = exc.detail
            if exc.errors:
                error += " " + "; ".join(str(e) for errs in exc.errors.values() for e in errs)
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
            "start_nodes": start_nodes,
            "payload": payload,
            "node_key": node_key,
            "error": error,
        },
        status=400 if error else 200,
    )


@csrf_exempt
@require_POST
def webhook_start_view(request: HttpRequest, token: str) -> HttpResponse:
    """Public endpoint: the token is the credential; answers 202 with the correlation id."""
    headers = {"webhook-content-type": request.content_type or ""}
    try:
        process = webhook_start(
            token=token,
            body=request.body,
            headers=headers,
            signature=request.headers.get(SIGNATURE_HEADER),
            content_type=request.content_type or "",
        )
    except StartError as exc:
        return JsonResponse({"detail": exc.detail, "errors": exc.errors or {}}, status=exc.status)
    return JsonResponse({"correlation_id": process.correlation_id, "status": process.status}, status=202)
