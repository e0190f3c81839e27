"""API authentication: `Authorization: Bearer <key>` with a tenant API token."""

from __future__ import annotations

from collections.abc import Iterable
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
    """The active token of `key` with its creator's current role as `creator_role`; refused as unauthenticated."""
    found = api_tokens_for_keys([key])[key]
    if isinstance(found, ServiceError):
        raise found
    return found


def api_tokens_for_keys(keys: Iterable[str]) -> dict[str, ApiToken | ServiceError]:
    """`api_token_for_key` of several keys at once (the REST start's lane asks for all its waiting requests).

    A token is never stronger than its creator is now: the role is read on every request, never cached, in the same
    query as the token (one query per API call, or per batch of them).
    """
    hashes = {key: ApiToken.hash_key(key) for key in keys}
    member = Membership.objects.filter(tenant_id=OuterRef("tenant_id"), user_id=OuterRef("created_by_id"))
    tokens = {
        token.hashed_key: token
        for token in ApiToken.objects.select_related("tenant")
        .annotate(current_role=Subquery(member.values("role")[:1]))
        .filter(hashed_key__in=set(hashes.values()), revoked_at__isnull=True)
    }
    found: dict[str, ApiToken | ServiceError] = {}
    for key, hashed in hashes.items():
        token = tokens.get(hashed)
        if token is None:
            found[key] = ServiceError("Invalid or revoked API token.", reason=Refusal.UNAUTHENTICATED)
        elif token.created_by_id is None or token.current_role is None:  # type: ignore[attr-defined]
            message = "This token's creator is no longer a member of the tenant."
            found[key] = ServiceError(message, reason=Refusal.UNAUTHENTICATED)
        else:
            token.creator_role = token.current_role  # type: ignore[attr-defined]
            found[key] = token
    now = timezone.now()
    # Writing on every call would serialise requests on one row; a minute's precision is enough.
    used = {token.pk: token for token in found.values() if isinstance(token, ApiToken)}.values()
    stale = [t.pk for t in used if t.last_used_at is None or (now - t.last_used_at).total_seconds() > 60]
    if stale:
        ApiToken.objects.filter(pk__in=stale).update(last_used_at=now)
    return found


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
