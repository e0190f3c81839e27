"""Limit pages: everyone in the tenant reads usage and history; admins create, change and delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from admin_ui.errors import ServiceError
from admin_ui.roles import Perm, role_has
from admin_ui.tenancy import tenant_required
from limiter import selectors, services
from limiter.forms import LimitForm
from limiter.models import Limit


def _can_edit(request: HttpRequest, limit: Limit | None = None) -> bool:
    if not role_has(request.membership.role, Perm.MANAGE):  # type: ignore[attr-defined]
        return False
    return limit is None or not limit.is_group or bool(request.user.is_staff)


@tenant_required()
def limit_list(request: HttpRequest) -> HttpResponse:
    """Limits with live usage; `?fragment=usage` is the table alone, polled by htmx every two seconds."""
    rows = selectors.limit_usage(tenant=request.tenant)  # type: ignore[attr-defined]
    context = {
        "nav": "limits",
        "rows": rows,
        "can_manage": _can_edit(request),
        "is_staff": request.user.is_staff,
        "redis_down": bool(rows) and not rows[0].available,
    }
    if request.GET.get("fragment") == "usage":
        return render(request, "limiter/htmx/usage.html", context)
    return render(request, "limiter/list.html", context)


@tenant_required()
def limit_history(request: HttpRequest) -> JsonResponse:
    """Calls per second over the last hour, per limit: the chart's data."""
    return JsonResponse(selectors.limit_history(tenant=request.tenant))  # type: ignore[attr-defined]


def _form_page(request: HttpRequest, form: LimitForm, limit: Limit | None, status: int = 200) -> HttpResponse:
    return render(request, "limiter/form.html", {"nav": "limits", "form": form, "limit": limit}, status=status)


def _apply(form: LimitForm, exc: ServiceError) -> None:
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    for field, problems in errors.items():
        form.add_error(field if field in form.fields else None, problems)
    if not errors:
        form.add_error(None, exc.detail)


@require_http_methods(["GET", "POST"])
@tenant_required(Perm.MANAGE)
def limit_create(request: HttpRequest) -> HttpResponse:
    form = LimitForm(request.POST or None, staff=request.user.is_staff)
    if request.method == "POST" and form.is_valid():
        try:
            limit = services.limit_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                application=form.cleaned_data["application"],
                amount=form.cleaned_data["amount"],
                seconds=form.cleaned_data["seconds"],
                group=bool(form.cleaned_data.get("group")),
                actor=request.user,
            )
        except ServiceError as exc:
            _apply(form, exc)
        else:
            messages.success(request, f"Limit set: {limit}.")
            return redirect("limit_list")
    return _form_page(request, form, None, status=400 if request.method == "POST" else 200)


def _editable(request: HttpRequest, pk: int) -> Limit:
    limit = selectors.limit_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]
    if not _can_edit(request, limit):
        raise PermissionDenied("Only staff can change a limit shared by all tenants.")
    return limit


@require_http_methods(["GET", "POST"])
@tenant_required(Perm.MANAGE)
def limit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    limit = _editable(request, pk)
    initial = {"amount": limit.amount, "seconds": limit.seconds}
    form = LimitForm(request.POST or None, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.limit_update(
                limit=limit,
                amount=form.cleaned_data["amount"],
                seconds=form.cleaned_data["seconds"],
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=request.user,
            )
        except ServiceError as exc:
            limit.refresh_from_db()
            _apply(form, exc)
        else:
            messages.success(request, f"Limit saved: {limit}.")
            return redirect("limit_list")
    return _form_page(request, form, limit, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@tenant_required(Perm.MANAGE)
def limit_delete(request: HttpRequest, pk: int) -> HttpResponse:
    limit = _editable(request, pk)
    if request.method == "POST":
        services.limit_delete(limit=limit, tenant=request.tenant, actor=request.user)  # type: ignore[attr-defined]
        messages.success(request, f"Limit on {limit.application.name} deleted.")
        return redirect("limit_list")
    return render(request, "limiter/delete.html", {"nav": "limits", "limit": limit})
