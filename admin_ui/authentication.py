"""API authentication: `Authorization: Bearer <key>` with a tenant API token."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from admin_ui.errors import Refusal, ServiceError
from admin_ui.models import ApiToken, Membership
from admin_ui.roles import Perm, role_has, scope_opens


class TokenUser:
    """The principal of a request made with an API token: acts for its tenant only."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken) -> None:
        self.token = token

    def __str__(self) -> str:
        return f"token:{self.token.prefix}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        key = bearer_key(authentication.get_authorization_header(request))
        if key is None:
            return None
        try:
            token = api_token_for_key(key)
        except ServiceError as exc:
            raise exceptions.AuthenticationFailed(exc.detail) from exc
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def bearer_key(header: bytes) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None when the request does not use a token."""
    text = header.decode(errors="replace")
    if not text.startswith(ApiTokenAuthentication.keyword + " "):
        return None
    return text[len(ApiTokenAuthentication.keyword) + 1 :].strip()


def api_token_for_key(key: str) -> ApiToken:
    """The active token of `key` with its creator's current role as `creator_role`; refused as unauthenticated.

    A token is never stronger than its creator is now: the role is read on every request, never cached, in the same
    query as the token (one query per API call).
    """
    member = Membership.objects.filter(tenant_id=OuterRef("tenant_id"), user_id=OuterRef("created_by_id"))
    token = (
        ApiToken.objects.select_related("tenant")
        .annotate(current_role=Subquery(member.values("role")[:1]))
        .filter(hashed_key=ApiToken.hash_key(key), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        raise ServiceError("Invalid or revoked API token.", reason=Refusal.UNAUTHENTICATED)
    role = token.current_role if token.created_by_id is not None else None  # type: ignore[attr-defined]
    if role is None:
        message = "This token's creator is no longer a member of the tenant."
        raise ServiceError(message, reason=Refusal.UNAUTHENTICATED)
    token.creator_role = role  # type: ignore[attr-defined]
    now = timezone.now()
    # Writing on every call would serialise requests on one row; a minute's precision is enough.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_allows(token: ApiToken, url_name: str, method: str, perm: Perm) -> bool:
    """A scope of `token` opens `method` on the endpoint `url_name`, and its creator's current role has `perm`."""
    return scope_opens(token.scopes, url_name, method) and role_has(getattr(token, "creator_role", ""), perm)


def request_tenant(request: Request) -> Any:
    """The tenant an API request acts for: the token's, or the session's current tenant."""
    if isinstance(request.auth, ApiToken):
        return request.auth.tenant
    return getattr(request._request, "tenant", None)


def request_has(request: Request, perm: Perm) -> bool:
    """Session: the member's role has `perm`. Token: a scope opens this endpoint and its creator's role has `perm`."""
    if isinstance(request.auth, ApiToken):
        match = request._request.resolver_match
        url_name = match.view_name if match is not None else ""
        return token_allows(request.auth, url_name, str(request.method), perm)
    membership: Membership | None = getattr(request._request, "membership", None)
    return membership is not None and role_has(membership.role, perm)


class TenantPermission(permissions.BasePermission):
    """Requires a tenant and the permission named by the view's `required_perm` (per method if a dict)."""

    message = "Your role or token scope does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request_tenant(request) is None:
            self.message = "No tenant: create or join a tenant first."
            return False
        declared = getattr(view, "required_perm", Perm.VIEW)
        required: Perm
        if isinstance(declared, dict):
            per_method: dict[str, Perm] = declared
            required = per_method.get(str(request.method), per_method.get("*", Perm.VIEW))
        elif request.method not in permissions.SAFE_METHODS and declared == Perm.VIEW:
            required = getattr(view, "write_perm", Perm.EDIT)
        else:
            required = declared
        return request_has(request, required)
