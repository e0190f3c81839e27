"""Account pages: sign up, tenants, settings (general, members, API tokens, audit log), applications."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from admin_ui import selectors, services, throttle
from admin_ui.applications import REGISTRY, mask_secret
from admin_ui.filters import AuditFilter
from admin_ui.forms import (
    InstallForm,
    InviteForm,
    RoleForm,
    SignupForm,
    TenantDeleteForm,
    TenantForm,
    TokenForm,
    role_choices,
)
from admin_ui.models import ApiToken, ApplicationInstall, Invitation, Membership, Role
from admin_ui.roles import Perm, role_has
from admin_ui.tenancy import SESSION_KEY, set_current_tenant, tenant_required

NEW_TOKEN_SESSION_KEY = "new_api_token"
PERM_LABELS = [
    (Perm.VIEW, "See topologies, processes, trash, limits, members and the audit log"),
    (Perm.OPERATE, "Work the trash, start and terminate processes"),
    (Perm.EDIT, "Edit, publish and enable topologies"),
    (Perm.MANAGE, "Manage members, API tokens, applications and limits"),
    (Perm.DELETE_TENANT, "Delete the tenant, grant and remove the owner role"),
]


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""


def _membership(request: HttpRequest) -> Membership:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership


def _settings_context(request: HttpRequest, tab: str, **extra: Any) -> dict[str, Any]:
    return {"nav": "settings", "tab": tab, "tenant": request.tenant, **extra}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- sign up, password reset, tenants


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, throttled per account and per IP (each request sends an email)."""

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        wait = throttle.blocked_for(*throttle.checks_for("reset", account=email, request=self.request))
        if wait:
            form.add_error("email", throttle.message(wait, "password reset requests"))
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        throttle.record_both("reset", account=email, request=self.request)
        return super().form_valid(form)


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account (username = email), log in, then go on to `next` or to creating a tenant."""
    next_url = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "home")
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        wait = throttle.blocked_for(*throttle.checks_for("signup", account=email, request=request))
        if wait:
            form.add_error(None, throttle.message(wait, "sign-ups from here"))
            return render(request, "admin_ui/signup.html", {"form": form, "next": next_url}, status=429)
        throttle.record_both("signup", account=email, request=request)
        services.signup_request(email=email, next_url=next_url)
        return render(request, "admin_ui/signup_sent.html", {"email": email})
    return render(request, "admin_ui/signup.html", {"form": form, "next": next_url})


@sensitive_post_parameters("new_password1", "new_password2")
def signup_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link of the sign-up email: choose the password, then log in and go on to `next` or a new tenant."""
    try:
        user = get_user_model().objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()))
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        user = None
    # The token covers the password hash: once a password is set, the link is spent.
    if user is None or user.has_usable_password() or not default_token_generator.check_token(user, token):
        return render(request, "admin_ui/signup_confirm.html", {"validlink": False}, status=400)
    next_url = _safe_next(request)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Flowyard! Your account is ready.")
        return redirect(next_url or "tenant_create")
    return render(request, "admin_ui/signup_confirm.html", {"validlink": True, "form": form, "next": next_url})


@login_required
def tenant_create(request: HttpRequest) -> HttpResponse:
    """Create a tenant; its creator becomes owner and it becomes the current tenant."""
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = services.tenant_create(name=form.cleaned_data["name"], owner=request.user)
        set_current_tenant(request, tenant)
        messages.success(request, f"Tenant “{tenant.name}” created. You are its owner.")
        return redirect("home")
    first = not selectors.user_has_tenants(user=request.user)
    return render(request, "admin_ui/tenant_create.html", {"form": form, "first": first})


@login_required
@require_POST
def tenant_switch(request: HttpRequest, pk: int) -> HttpResponse:
    """Make another of the user's tenants the current one; 404 for tenants they are not in."""
    user: Any = request.user
    membership = selectors.user_membership_get(user=user, tenant_id=pk)
    set_current_tenant(request, membership.tenant)
    messages.info(request, f"Switched to {membership.tenant.name}.")
    return redirect(_safe_next(request) or "home")


@tenant_required(Perm.VIEW)
def tenant_settings(request: HttpRequest) -> HttpResponse:
    """Settings → General: rename (admins), leave, delete (owner)."""
    tenant = request.tenant  # type: ignore[attr-defined]
    can_manage = role_has(_membership(request).role, Perm.MANAGE)
    form = TenantForm(request.POST or None, instance=tenant)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only admins and owners rename the tenant.")
        if form.is_valid():
            services.tenant_rename(tenant=tenant, name=form.cleaned_data["name"], actor=request.user)
            messages.success(request, "Tenant renamed.")
            return redirect("tenant_settings")
        tenant.refresh_from_db()
    return render(
        request,
        "admin_ui/settings_general.html",
        _settings_context(
            request, "general", form=form, can_manage=can_manage, member_count=tenant.memberships.count()
        ),
    )


@tenant_required(Perm.DELETE_TENANT)
def tenant_delete(request: HttpRequest) -> HttpResponse:
    """Delete the current tenant after the owner types its name."""
    tenant = request.tenant  # type: ignore[attr-defined]
    form = TenantDeleteForm(request.POST or None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        name = tenant.name
        try:
            services.tenant_delete(tenant=tenant, actor=request.user)
        except ProtectedError:
            form.add_error(None, "Something still refers to this tenant's data; delete it first.")
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, f"Tenant “{name}” and all its data were deleted.")
            return redirect("home")
    return render(request, "admin_ui/tenant_delete.html", _settings_context(request, "general", form=form))


@tenant_required(Perm.VIEW)
@require_POST
def tenant_leave(request: HttpRequest) -> HttpResponse:
    """Leave the current tenant (not as its last owner)."""
    membership = _membership(request)
    try:
        services.membership_remove(membership=membership, actor=request.user, actor_membership=membership)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("tenant_settings")
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"You left {membership.tenant.name}.")
    return redirect("home")


# --------------------------------------------------------------------------- members and invitations


def _members_page(request: HttpRequest, invite_form: InviteForm | None = None, status: int = 200) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    me = _membership(request)
    can_manage = role_has(me.role, Perm.MANAGE)
    members = list(selectors.member_list(tenant=tenant))
    owners = sum(1 for m in members if m.role == Role.OWNER)
    rows = []
    for m in members:
        # Admins may not touch owners; nobody demotes or removes the last owner.
        editable = can_manage and (me.role == Role.OWNER or m.role != Role.OWNER)
        last_owner = m.role == Role.OWNER and owners <= 1
        rows.append({"m": m, "editable": editable and not last_owner, "last_owner": last_owner, "me": m.pk == me.pk})
    invitations = []
    if can_manage:
        for inv in selectors.invitation_list(tenant=tenant):
            expires_at = services.invitation_expires_at(invitation=inv)
            invitations.append(
                {
                    "inv": inv,
                    "url": request.build_absolute_uri(services.invitation_path(invitation=inv)),
                    "expires_at": expires_at,
                    "expired": expires_at <= timezone.now(),
                }
            )
    roles = [value for value, _ in Role.choices]
    matrix = [
        {"label": label, "perm": perm, "cells": [role_has(role, perm) for role in roles]} for perm, label in PERM_LABELS
    ]
    context = _settings_context(
        request,
        "members",
        rows=rows,
        invitations=invitations,
        can_manage=can_manage,
        invite_form=invite_form or InviteForm(actor_role=me.role),
        role_choices=role_choices(me.role),
        role_headers=Role.choices,
        matrix=matrix,
        last_invite_url=request.session.pop("last_invite_url", None),
    )
    return render(request, "admin_ui/settings_members.html", context, status=status)


@tenant_required(Perm.VIEW)
def member_list(request: HttpRequest) -> HttpResponse:
    """Settings → Members: members, pending invitations, the role matrix."""
    return _members_page(request)


@tenant_required(Perm.MANAGE)
@require_POST
def invitation_create(request: HttpRequest) -> HttpResponse:
    me = _membership(request)
    form = InviteForm(request.POST, actor_role=me.role)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                actor_membership=me,
            )
        except services.ServiceError as exc:
            form.add_error("email", str(exc))
        else:
            path = services.invitation_path(invitation=invitation)
            request.session["last_invite_url"] = request.build_absolute_uri(path)
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("member_list")
    return _members_page(request, invite_form=form, status=400)


def get_invitation_for_member(request: HttpRequest, pk: int) -> Invitation:
    return selectors.invitation_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]


@tenant_required(Perm.MANAGE)
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_for_member(request, pk)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("member_list")


def get_membership_for_member(request: HttpRequest, pk: int) -> Membership:
    return selectors.membership_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]


@tenant_required(Perm.MANAGE)
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_membership_for_member(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("member_list")
    try:
        services.membership_change_role(
            membership=membership,
            role=form.cleaned_data["role"],
            actor=request.user,
            actor_membership=_membership(request),
        )
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.email} is now {membership.get_role_display().lower()}.")
    return redirect("member_list")


@tenant_required(Perm.MANAGE)
@require_POST
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_membership_for_member(request, pk)
    me = _membership(request)
    if membership.pk == me.pk:
        return tenant_leave(request)
    try:
        services.membership_remove(membership=membership, actor=request.user, actor_membership=me)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("member_list")


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Public accept page: shows the invitation, asks logged-out users to log in or sign up first."""
    try:
        invitation = services.invitation_from_token(token=token)
    except services.ServiceError as exc:
        return render(request, "admin_ui/invite_error.html", {"error": str(exc)}, status=400)
    here = request.get_full_path()
    context: dict[str, Any] = {
        "invitation": invitation,
        "login_url": reverse("login") + "?" + urlencode({"next": here}),
        "signup_url": reverse("signup") + "?" + urlencode({"next": here, "email": invitation.email}),
        "error": "",
    }
    if request.method == "POST" and request.user.is_authenticated:
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except services.ServiceError as exc:
            context["error"] = str(exc)
        else:
            set_current_tenant(request, membership.tenant)
            messages.success(request, f"Welcome to {membership.tenant.name}! You joined as {membership.role}.")
            return redirect("home")
    return render(request, "admin_ui/invite_accept.html", context, status=400 if context["error"] else 200)


# --------------------------------------------------------------------------- API tokens


@tenant_required(Perm.MANAGE)
def token_list(request: HttpRequest) -> HttpResponse:
    """Settings → API tokens: create (key shown once), list, revoke."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = services.api_token_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                actor=request.user,
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            # Post/redirect/get, and the session copy is popped on the next render: the key is shown once.
            request.session[NEW_TOKEN_SESSION_KEY] = {"key": new.key, "name": new.token.name}
            return redirect("token_list")
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    tokens = selectors.api_token_list(tenant=request.tenant)  # type: ignore[attr-defined]
    return render(
        request,
        "admin_ui/settings_tokens.html",
        _settings_context(request, "tokens", form=form, tokens=tokens, new_token=new_token),
        status=400 if request.method == "POST" else 200,
    )


def get_token_for_member(request: HttpRequest, pk: int) -> ApiToken:
    return selectors.api_token_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]


@tenant_required(Perm.MANAGE)
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_token_for_member(request, pk)
    try:
        services.api_token_revoke(token=token, actor=request.user)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("token_list")


# --------------------------------------------------------------------------- audit log


@tenant_required(Perm.VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Settings → Audit log, filterable and paginated, with a compact before/after diff."""
    tenant = request.tenant  # type: ignore[attr-defined]
    filters = AuditFilter(request.GET or None, tenant=tenant)
    page = Paginator(filters.qs, 25).get_page(request.GET.get("page"))
    entries = [{"e": e, "diff": selectors.audit_diff(e)} for e in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "admin_ui/settings_audit.html",
        _settings_context(
            request,
            "audit",
            form=filters.form,
            page=page,
            entries=entries,
            query=query.urlencode(),
            filtered=any(request.GET.get(name) for name in filters.filters),
        ),
    )


# --------------------------------------------------------------------------- applications


def get_install_for_member(request: HttpRequest, pk: int) -> ApplicationInstall:
    return selectors.install_get(tenant=request.tenant, pk=pk)  # type: ignore[attr-defined]


@tenant_required(Perm.VIEW)
def install_list(request: HttpRequest) -> HttpResponse:
    """Applications: the tenant's installs as cards, secrets masked."""
    cards = []
    for install in selectors.install_list(tenant=request.tenant):  # type: ignore[attr-defined]
        kind = REGISTRY.get(install.application.key)
        shown = []
        for spec in kind.fields if kind else ():
            if spec.name in install.settings:
                value = install.settings[spec.name]
                shown.append((spec.label, dict(spec.choices).get(value, value)))
            elif spec.name in install.secrets:
                shown.append((spec.label, mask_secret(install.secrets[spec.name])))
        cards.append({"install": install, "kind": kind, "shown": shown})
    can_manage = role_has(_membership(request).role, Perm.MANAGE)
    return render(
        request, "admin_ui/install_list.html", {"nav": "applications", "cards": cards, "can_manage": can_manage}
    )


@tenant_required(Perm.MANAGE)
def install_catalog(request: HttpRequest) -> HttpResponse:
    """Pick an application kind to install."""
    return render(
        request, "admin_ui/install_catalog.html", {"nav": "applications", "applications": selectors.application_list()}
    )


def _apply_errors(form: InstallForm, exc: ValidationError) -> None:
    for field, errs in exc.message_dict.items():
        form.add_error(None if field == "__all__" or field not in form.fields else field, errs)


# Error reports must not carry the secrets typed into the form.
@sensitive_post_parameters()
@tenant_required(Perm.MANAGE)
def install_create(request: HttpRequest, key: str) -> HttpResponse:
    application = selectors.application_get(key=key)
    kind = REGISTRY[application.key]
    form = InstallForm(request.POST or None, kind=kind, initial={"name": kind.name})
    if request.method == "POST" and form.is_valid():
        try:
            install = services.install_create(
                tenant=request.tenant,  # type: ignore[attr-defined]
                application=application,
                name=form.cleaned_data["name"],
                values=form.values(),
                actor=request.user,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{install.name} installed.")
            return redirect("install_list")
    return render(
        request,
        "admin_ui/install_form.html",
        {"nav": "applications", "form": form, "kind": kind, "install": None},
        status=400 if request.method == "POST" else 200,
    )


@sensitive_post_parameters()
@tenant_required(Perm.MANAGE)
def install_edit(request: HttpRequest, pk: int) -> HttpResponse:
    install = get_install_for_member(request, pk)
    kind = REGISTRY.get(install.application.key)
    if kind is None:
        raise Http404("This application is no longer available.")
    initial = {"name": install.name, **install.settings}
    form = InstallForm(request.POST or None, kind=kind, existing_secrets=install.secrets, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.install_update(
                install=install, name=form.cleaned_data["name"], values=form.values(), actor=request.user
            )
        except ValidationError as exc:
            install.refresh_from_db()
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{install.name} saved.")
            return redirect("install_list")
    return render(
        request,
        "admin_ui/install_form.html",
        {"nav": "applications", "form": form, "kind": kind, "install": install},
        status=400 if request.method == "POST" else 200,
    )


@tenant_required(Perm.MANAGE)
@require_POST
def install_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    install = get_install_for_member(request, pk)
    services.install_update(install=install, enabled=not install.enabled, actor=request.user)
    messages.success(request, f"{install.name} {'enabled' if install.enabled else 'disabled'}.")
    return redirect("install_list")


@tenant_required(Perm.MANAGE)
def install_delete(request: HttpRequest, pk: int) -> HttpResponse:
    install = get_install_for_member(request, pk)
    if request.method == "POST":
        name = install.name
        services.install_delete(install=install, actor=request.user)
        messages.success(request, f"{name} deleted.")
        return redirect("install_list")
    return render(request, "admin_ui/install_delete.html", {"nav": "applications", "install": install})
