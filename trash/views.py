"""Trash pages: list and groups, the message workbench (edit, try, resend, reject, history), bulk jobs."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from admin_ui.ids import parse_id
from admin_ui.roles import Perm, role_has
from admin_ui.tenancy import tenant_required
from topology.selectors import topology_list
from trash import selectors, services
from trash.models import TrashBulkJob, TrashMessage

THROTTLES = [0, 10, 50, 100, 500]


def _tenant(request: HttpRequest) -> Any:
    return request.tenant  # type: ignore[attr-defined]


def _can_operate(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and role_has(membership.role, Perm.OPERATE)


@tenant_required(Perm.VIEW)
def trash_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.trash_filters(request.GET)
    grouped = request.GET.get("view") == "groups"
    tenant = _tenant(request)
    rows: Any = (
        selectors.trash_group_list(tenant=tenant, filters=filters)
        if grouped
        else selectors.trash_message_list(tenant=tenant, filters=filters)
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "trash/list.html",
        {
            "nav": "trash",
            "page_obj": page,
            "grouped": grouped,
            "filters": filters,
            "statuses": TrashMessage.Status.choices,
            "ranges": list(selectors.RANGES),
            "sorts": list(selectors.SORTS),
            "topologies": topology_list(tenant=tenant),
            "jobs": selectors.trash_bulk_job_list(tenant=tenant, limit=5),
            "can_operate": _can_operate(request),
            "throttles": THROTTLES,
        },
    )


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _detail(request: HttpRequest, message: TrashMessage, *, status: int = 200, **extra: Any) -> HttpResponse:
    process = selectors.trash_process(message=message)
    target = services.trash_resend_target(message=message)
    context = {
        "nav": "trash",
        "message": message,
        "tab": request.GET.get("tab", "message"),
        "pretty_body": _pretty(message.body),
        "process": process,
        "timeline": selectors.trash_timeline(process=process, message=message),
        "node_names": selectors.trash_node_names(message=message),
        "history": selectors.trash_history(message=message),
        "target": target,
        "schema": services.node_input_schema(node=message.node),
        "protected": sorted(services.PROTECTED_HEADERS),
        "can_operate": _can_operate(request) and message.status == TrashMessage.Status.OPEN,
        "editor_config": {
            "bpmnXml": message.version.bpmn_xml,
            "node": message.node_key,
            "schema": services.node_input_schema(node=message.node),
        },
        **extra,
    }
    return render(request, "trash/detail.html", context, status=status)


@tenant_required(Perm.VIEW)
def trash_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.trash_message_get(tenant=_tenant(request), pk=pk)
    return _detail(request, message)


def _posted_headers(request: HttpRequest) -> dict[str, str] | None:
    """The headers table as posted; None when the form had no table (headers stay as they are)."""
    if "header_name" not in request.POST:
        return None
    names = request.POST.getlist("header_name")
    values = request.POST.getlist("header_value")
    return {n.strip(): v for n, v in zip(names, values, strict=False) if n.strip()}


def _revision(request: HttpRequest) -> int | None:
    return parse_id(request.POST.get("revision", ""), minimum=0)


def _refused(request: HttpRequest, message: TrashMessage, exc: services.TrashError) -> HttpResponse:
    """Show the form again with the operator's input and the reasons; nothing was saved."""
    message.body = request.POST.get("body", message.body)
    message.headers = _posted_headers(request) or message.headers
    return _detail(
        request,
        message,
        status=400 if exc.status < 409 else exc.status,
        error=exc.detail,
        body_errors=exc.errors.get("body") or [],
        posted_body=request.POST.get("body"),
    )


@require_POST
@tenant_required(Perm.OPERATE)
def trash_edit(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.trash_message_get(tenant=_tenant(request), pk=pk)
    action = request.POST.get("action", "save")
    try:
        if action == "resend":
            message = services.trash_message_resend(
                message=message,
                actor=request.user,
                body=request.POST.get("body"),
                headers=_posted_headers(request),
                revision=_revision(request),
            )
            flash.success(request, "Resent. The process is back in progress.")
        else:
            services.trash_message_edit(
                message=message,
                actor=request.user,
                body=request.POST.get("body"),
                headers=_posted_headers(request),
                revision=_revision(request),
            )
            flash.success(request, "Saved.")
    except services.TrashError as exc:
        return _refused(request, message, exc)
    return redirect("trash_detail", pk=message.pk)


@require_POST
@tenant_required(Perm.OPERATE)
def trash_reject(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.trash_message_get(tenant=_tenant(request), pk=pk)
    try:
        services.trash_message_reject(
            message=message, actor=request.user, reason=request.POST.get("reason", ""), revision=_revision(request)
        )
    except services.TrashError as exc:
        return _refused(request, message, exc)
    flash.success(request, "Rejected.")
    return redirect("trash_detail", pk=message.pk)


@require_POST
@tenant_required(Perm.OPERATE)
def trash_try(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the node on the edited message and show the result as a fragment; nothing is published."""
    message = selectors.trash_message_get(tenant=_tenant(request), pk=pk)
    try:
        result = services.trash_message_try(
            message=message,
            body=request.POST.get("body"),
            headers=_posted_headers(request),
            confirm=request.POST.get("confirm") == "1",
        )
    except services.TrashError as exc:
        return render(
            request,
            "trash/htmx/try_result.html",
            {"error": exc.detail, "errors": exc.errors, "needs_confirm": "confirm" in exc.errors},
        )
    for output in result["outputs"]:
        output["body"] = _pretty(output["body"])
    return render(request, "trash/htmx/try_result.html", {"result": result})


@require_POST
@tenant_required(Perm.OPERATE)
def trash_bulk_create(request: HttpRequest) -> HttpResponse:
    """Start a bulk job on the picked rows, on everything matching the filter, or on one group."""
    tenant = _tenant(request)
    scope = request.POST.get("scope", "selected")
    if scope == "group":
        qs, group, description = selectors.trash_selection(tenant=tenant, signature=request.POST.get("signature", ""))
    elif scope == "filter":
        qs, group, description = selectors.trash_selection(tenant=tenant, filters=selectors.trash_filters(request.POST))
    else:
        ids = [i for i in (parse_id(v) for v in request.POST.getlist("ids")) if i is not None]
        qs, group, description = selectors.trash_selection(tenant=tenant, ids=ids)
    action = request.POST.get("action", "")
    patch = None
    if action == TrashBulkJob.Action.PATCH_RESEND:
        patch = _posted_patch(request)
    throttle = request.POST.get("throttle", "0")
    try:
        job = services.trash_bulk_job_create(
            tenant=tenant,
            actor=request.user,
            action=action,
            messages=qs,
            group_key=group,
            description=description,
            reason=request.POST.get("reason", ""),
            patch=patch,
            throttle=parse_id(throttle, minimum=0) or 0,
        )
    except services.TrashError as exc:
        flash.error(request, exc.detail)
        return redirect(request.POST.get("next") or reverse("trash_list"))
    return redirect("trash_bulk_detail", pk=job.pk)


def _posted_patch(request: HttpRequest) -> list[dict[str, Any]]:
    op = request.POST.get("patch_op", "set")
    path = request.POST.get("patch_path", "")
    if op == "delete":
        return [{"op": "delete", "path": path}]
    raw = request.POST.get("patch_value", "")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # a bare word is meant as a string
    return [{"op": "set", "path": path, "value": value}]


@tenant_required(Perm.VIEW)
def trash_bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job page; htmx polls the same URL for the progress fragment while the job runs."""
    job = selectors.trash_bulk_job_get(tenant=_tenant(request), pk=pk)
    context = {"nav": "trash", "job": job, "can_operate": _can_operate(request)}
    if getattr(request, "htmx", False):
        return render(request, "trash/htmx/bulk_progress.html", context)
    return render(request, "trash/bulk_detail.html", context)


@require_POST
@tenant_required(Perm.OPERATE)
def trash_bulk_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.trash_bulk_job_get(tenant=_tenant(request), pk=pk)
    try:
        services.trash_bulk_job_cancel(job=job, actor=request.user)
    except services.TrashError as exc:
        flash.error(request, exc.detail)
    return redirect("trash_bulk_detail", pk=job.pk)
