"""The current tenant of a request, and the checks every tenant page and endpoint goes through."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from admin_ui.models import Membership, Tenant
from admin_ui.roles import Perm, role_has

SESSION_KEY = "tenant_id"


class TenantMiddleware:
    """Sets request.tenant and request.membership from the session's chosen tenant (or the first one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = current_membership(user, request.session.get(SESSION_KEY))
            if membership is not None:
                request.tenant = membership.tenant  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
        return self.get_response(request)


def current_membership(user: Any, tenant_id: int | None) -> Membership | None:
    memberships = Membership.objects.select_related("tenant").filter(user=user)
    if tenant_id is not None:
        chosen = memberships.filter(tenant_id=tenant_id).first()
        if chosen is not None:
            return chosen
    return memberships.order_by("tenant__name").first()


def set_current_tenant(request: HttpRequest, tenant: Tenant) -> None:
    request.session[SESSION_KEY] = tenant.pk


def tenant_required(perm: Perm = Perm.VIEW) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Page decorator: logged in, member of a tenant, and the member's role grants `perm`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect("tenant_create")
            if not role_has(membership.role, perm):
                raise PermissionDenied(f"Your role ({membership.role}) may not do this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def current_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant TenantMiddleware chose for this page request (None for users without one)."""
    return getattr(request, "tenant", None)
