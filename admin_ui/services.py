"""Writes for tenant accounts: tenants, members, invitations, API tokens, application installs, audit."""

from __future__ import annotations

import logging
import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode
from django.utils.text import slugify

from admin_ui.applications import REGISTRY, ApplicationKind, mask_secret
from admin_ui.errors import ServiceError, refuse_control_characters
from admin_ui.models import (
    ApiToken,
    Application,
    ApplicationInstall,
    AuditEntry,
    Invitation,
    Membership,
    Role,
    Tenant,
)

logger = logging.getLogger(__name__)

INVITE_SALT = "flowyard.invitation"
TOKEN_SCOPES = [choice.value for choice in ApiToken.Scope]


# --------------------------------------------------------------------------- audit


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    token = getattr(actor, "token", None)
    if isinstance(token, ApiToken):
        return f"API token {token.name} ({token.prefix})"
    return str(getattr(actor, "email", "") or getattr(actor, "username", "") or actor)


def audit_log(
    *,
    tenant: Tenant,
    actor: Any,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one change in a tenant; callers pass masked dicts, never secret values."""
    user: Any = actor if isinstance(actor, AbstractBaseUser) and actor.pk else None
    if obj is not None and not object_type:
        object_type = obj._meta.model_name or ""
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=user,
        actor_label=actor_label(actor)[:200],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
    )


# --------------------------------------------------------------------------- users and tenants


def signup_path(*, user: Any, next_url: str = "") -> str:
    """The one-time link that lets the owner of the address choose the account's password (valid until used)."""
    path = reverse(
        "signup_confirm",
        args=[urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)],
    )
    return path + (f"?{urlencode({'next': next_url})}" if next_url else "")


def signup_request(*, email: str, next_url: str = "") -> None:
    """Start a sign-up by email; the caller answers the same whether or not the address has an account.

    A new address (or one whose sign-up was never finished) gets a link to choose its password; the owner of an
    existing account is told by email instead, with links to log in or reset the password.
    """
    email = get_user_model().objects.normalize_email(email).strip().lower()
    site = django_settings.SITE_URL.rstrip("/")
    user = get_user_model().objects.filter(username__iexact=email).first()
    if user is not None and user.has_usable_password():
        body = (
            f"Someone (hopefully you) tried to sign up for Flowyard with {email}, which already has an account.\n\n"
            f"Log in: {site}{reverse('login')}\nForgot your password? {site}{reverse('password_reset')}\n"
        )
        send_mail("Your Flowyard account", body, None, [email])
        return
    if user is None:
        user = get_user_model().objects.create_user(username=email, email=email, password=None)
    link = site + signup_path(user=user, next_url=next_url)
    body = f"Finish signing up for Flowyard: choose your password here (the link works once):\n\n{link}\n"
    send_mail("Finish signing up for Flowyard", body, None, [email])


def _unique_slug(name: str) -> str:
    base = slugify(name)[:80] or "tenant"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def tenant_create(*, name: str, owner: Any) -> Tenant:
    """Create a tenant with its creator as owner."""
    name = refuse_control_characters(name.strip())
    if not name:
        raise ServiceError("Name is required.", errors={"name": ["Name is required."]})
    tenant = Tenant.objects.create(name=name, slug=_unique_slug(name))
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    audit_log(tenant=tenant, actor=owner, action="tenant.create", obj=tenant, after={"name": tenant.name})
    return tenant


@transaction.atomic
def tenant_rename(*, tenant: Tenant, name: str, actor: Any) -> Tenant:
    """Rename a tenant (the slug stays, so links keep working)."""
    name = refuse_control_characters(name.strip())
    if not name:
        raise ServiceError("Name is required.", errors={"name": ["Name is required."]})
    before = {"name": tenant.name}
    tenant.name = name
    tenant.save(update_fields=["name"])
    audit_log(tenant=tenant, actor=actor, action="tenant.rename", obj=tenant, before=before, after={"name": name})
    return tenant


@transaction.atomic
def tenant_delete(*, tenant: Tenant, actor: Any) -> None:
    """Delete a tenant and everything it owns; its audit log goes with it, so this is logged instead."""
    logger.info("tenant %s (%s) deleted by %s", tenant.pk, tenant.slug, actor_label(actor))
    tenant.delete()


# --------------------------------------------------------------------------- members


def _owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER).count()


def _member_snapshot(membership: Membership) -> dict[str, Any]:
    return {"user": membership.user.email or membership.user.username, "role": membership.role}


def _role_error(message: str) -> ServiceError:
    return ServiceError(message, errors={"role": [message]})


def _check_may_manage(*, actor_membership: Membership, role_before: str, role_after: str | None) -> None:
    """Admins manage non-owners; only an owner grants, changes or removes the owner role."""
    if actor_membership.role not in (Role.OWNER, Role.ADMIN):
        raise _role_error("Only admins and owners manage members.")
    touches_owner = role_before == Role.OWNER or role_after == Role.OWNER
    if touches_owner and actor_membership.role != Role.OWNER:
        raise _role_error("Only an owner can grant or remove the owner role.")


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: Any, actor_membership: Membership
) -> Membership:
    """Change a member's role, keeping at least one owner."""
    if role not in Role.values:
        raise _role_error(f"Unknown role {role!r}.")
    # Lock the tenant's owner rows so two concurrent demotions cannot both see "another owner exists".
    list(Membership.objects.select_for_update().filter(tenant=membership.tenant, role=Role.OWNER))
    membership.refresh_from_db()
    _check_may_manage(actor_membership=actor_membership, role_before=membership.role, role_after=role)
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.tenant) <= 1:
        raise _role_error("The last owner cannot be demoted. Make someone else an owner first.")
    before = _member_snapshot(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    audit_log(
        tenant=membership.tenant,
        actor=actor,
        action="member.role_change",
        obj=membership,
        object_type="member",
        before=before,
        after=_member_snapshot(membership),
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Any, actor_membership: Membership | None) -> None:
    """Remove a member (or, when `actor_membership` is the member's own, leave); the last owner stays."""
    list(Membership.objects.select_for_update().filter(tenant=membership.tenant, role=Role.OWNER))
    membership.refresh_from_db()
    leaving = actor_membership is not None and actor_membership.pk == membership.pk
    if not leaving:
        if actor_membership is None:
            raise ServiceError("Only admins and owners manage members.")
        _check_may_manage(actor_membership=actor_membership, role_before=membership.role, role_after=None)
    if membership.role == Role.OWNER and _owner_count(membership.tenant) <= 1:
        if leaving:
            raise ServiceError("You are the last owner: make someone else an owner or delete the tenant.")
        raise ServiceError("The last owner cannot be removed.")
    audit_log(
        tenant=membership.tenant,
        actor=actor,
        action="member.leave" if leaving else "member.remove",
        obj=membership,
        object_type="member",
        before=_member_snapshot(membership),
    )
    api_token_revoke_for_member(membership=membership, actor=actor)
    membership.delete()


# --------------------------------------------------------------------------- invitations


class _IssuedAtSigner(signing.TimestampSigner):
    """A TimestampSigner that stamps a given time: an invitation's token is a pure function of its row."""

    def __init__(self, *, issued_at: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._issued_at = int(issued_at)

    def timestamp(self) -> str:
        return signing.b62_encode(self._issued_at)


def invitation_token(*, invitation: Invitation, issued_at: float | None = None) -> str:
    """The signed accept token; stamped with the invitation's creation time so its age is the invite's age."""
    stamp = issued_at if issued_at is not None else invitation.created_at.timestamp()
    signer = _IssuedAtSigner(issued_at=stamp, salt=INVITE_SALT)
    return signer.sign_object({"i": invitation.pk, "e": invitation.email.lower()}, compress=True)


def invitation_path(*, invitation: Invitation) -> str:
    return reverse("invite_accept", args=[invitation_token(invitation=invitation)])


def invitation_url(*, invitation: Invitation) -> str:
    """The absolute accept link for emails (SITE_URL: a background sender has no request host)."""
    return django_settings.SITE_URL.rstrip("/") + invitation_path(invitation=invitation)


def invitation_expires_at(*, invitation: Invitation) -> datetime:
    return invitation.created_at + timedelta(seconds=django_settings.INVITE_MAX_AGE_SECONDS)


def invitation_from_token(*, token: str, max_age: int | None = None) -> Invitation:
    """The pending invitation a token names; a clear ServiceError when it is expired, bad, revoked or used."""
    max_age = django_settings.INVITE_MAX_AGE_SECONDS if max_age is None else max_age
    signer = signing.TimestampSigner(salt=INVITE_SALT)
    try:
        data = signer.unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ServiceError("This invitation has expired. Ask for a new one.") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ServiceError("This invitation link is not valid. Check that you copied all of it.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise ServiceError("This invitation link is not valid. Check that you copied all of it.")
    invitation = Invitation.objects.select_related("tenant", "invited_by").filter(pk=data["i"]).first()
    if invitation is None or invitation.email.lower() != data.get("e"):
        raise ServiceError("This invitation no longer exists.")
    if invitation.status == Invitation.Status.REVOKED:
        raise ServiceError("This invitation was revoked.")
    if invitation.status == Invitation.Status.ACCEPTED:
        raise ServiceError("This invitation has already been used.")
    return invitation


@transaction.atomic
def invitation_create(*, tenant: Tenant, email: str, role: str, actor: Any, actor_membership: Membership) -> Invitation:
    """Invite an email address into a tenant with a role, and email them the accept link."""
    email = email.strip().lower()
    if role not in Role.values:
        raise _role_error(f"Unknown role {role!r}.")
    _check_may_manage(actor_membership=actor_membership, role_before="", role_after=role)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        message = f"{email} is already a member."
        raise ServiceError(message, errors={"email": [message]})
    if Invitation.objects.filter(tenant=tenant, email__iexact=email, status=Invitation.Status.PENDING).exists():
        message = f"{email} already has a pending invitation. Revoke it to invite again."
        raise ServiceError(message, errors={"email": [message]})
    inviter_user: Any = actor if isinstance(actor, AbstractBaseUser) else None
    invitation = Invitation.objects.create(tenant=tenant, email=email, role=role, invited_by=inviter_user)
    url = invitation_url(invitation=invitation)
    audit_log(
        tenant=tenant,
        actor=actor,
        action="invitation.create",
        obj=invitation,
        object_type="invitation",
        after={"email": email, "role": role},
    )
    inviter = actor_label(actor)

    def send() -> None:
        send_mail(
            subject=f"You are invited to {tenant.name} on Flowyard",
            message=(
                f"{inviter} invited you to join {tenant.name} on Flowyard as {role}.\n\n"
                f"Accept the invitation: {url}\n\n"
                f"The link expires in {django_settings.INVITE_MAX_AGE_SECONDS // 3600} hours."
            ),
            from_email=None,
            recipient_list=[email],
        )

    # Mail after commit: a rolled-back invitation must not leave a working-looking link in an inbox.
    transaction.on_commit(send)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Any) -> Invitation:
    """Revoke a pending invitation so its link stops working."""
    if invitation.status != Invitation.Status.PENDING:
        raise ServiceError("Only pending invitations can be revoked.")
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])
    audit_log(
        tenant=invitation.tenant,
        actor=actor,
        action="invitation.revoke",
        obj=invitation,
        object_type="invitation",
        before={"email": invitation.email, "status": Invitation.Status.PENDING},
        after={"email": invitation.email, "status": invitation.status},
    )
    return invitation


def _invitation_str(invitation: Invitation) -> str:
    return f"{invitation.email} ({invitation.role})"


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """Make the invited user a member; an invitation works once, for its own email address."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise ServiceError("This invitation has already been used or was revoked.")
    if (user.email or "").lower() != invitation.email.lower():
        raise ServiceError(
            f"This invitation was sent to {invitation.email}, but you are logged in as {user.email}. "
            "Log out and log in (or sign up) with the invited address."
        )
    if Membership.objects.filter(tenant=invitation.tenant, user=user).exists():
        raise ServiceError(f"You are already a member of {invitation.tenant.name}.")
    membership = Membership.objects.create(user=user, tenant=invitation.tenant, role=invitation.role)
    invitation.status = Invitation.Status.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_at"])
    audit_log(
        tenant=invitation.tenant,
        actor=user,
        action="invitation.accept",
        obj=membership,
        object_type="member",
        after=_member_snapshot(membership),
    )
    return membership


# --------------------------------------------------------------------------- API tokens


@dataclass
class NewToken:
    token: ApiToken
    key: str


@transaction.atomic
def api_token_create(*, tenant: Tenant, name: str, scopes: list[str], actor: Any) -> NewToken:
    """Create an API token; the returned key (`fy_<prefix>_<secret>`) is never stored nor shown again."""
    name = refuse_control_characters(name.strip())
    if not name:
        raise ServiceError("Name is required.", errors={"name": ["Name is required."]})
    bad = sorted(set(scopes) - set(TOKEN_SCOPES))
    if bad:
        raise ServiceError(f"Unknown scope(s): {', '.join(bad)}. Choose from {', '.join(TOKEN_SCOPES)}.")
    if not scopes:
        raise ServiceError("Choose at least one scope.")
    ordered = [s for s in TOKEN_SCOPES if s in scopes]
    creator: Any = actor if isinstance(actor, AbstractBaseUser) else None
    for _ in range(5):
        prefix = pysecrets.token_hex(4)
        key = f"fy_{prefix}_{pysecrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    tenant=tenant,
                    name=name,
                    prefix=prefix,
                    hashed_key=ApiToken.hash_key(key),
                    scopes=ordered,
                    created_by=creator,
                )
            break
        except IntegrityError:  # pragma: no cover - a 256-bit collision
            continue
    else:  # pragma: no cover
        raise ServiceError("Could not generate a unique key, try again.")
    audit_log(
        tenant=tenant,
        actor=actor,
        action="token.create",
        obj=token,
        object_type="api_token",
        after={"name": name, "prefix": prefix, "scopes": ordered},
    )
    return NewToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Any, why: str = "") -> ApiToken:
    """Revoke a token: requests with its key fail from now on."""
    if token.revoked_at is not None:
        raise ServiceError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    after: dict[str, Any] = {"name": token.name, "prefix": token.prefix, "active": False}
    if why:
        after["why"] = why
    audit_log(
        tenant=token.tenant,
        actor=actor,
        action="token.revoke",
        obj=token,
        object_type="api_token",
        before={"name": token.name, "prefix": token.prefix, "active": True},
        after=after,
    )
    return token


def api_token_revoke_for_member(*, membership: Membership, actor: Any) -> int:
    """Revoke every active token the member created in the tenant (they leave or are removed), audited."""
    tokens = list(
        ApiToken.objects.filter(tenant=membership.tenant, created_by=membership.user, revoked_at__isnull=True)
    )
    for token in tokens:
        api_token_revoke(token=token, actor=actor, why="creator left the tenant")
    return len(tokens)


# --------------------------------------------------------------------------- application installs


def install_kind(install: ApplicationInstall) -> ApplicationKind | None:
    return REGISTRY.get(install.application.key)


def install_snapshot(install: ApplicationInstall) -> dict[str, Any]:
    """What the audit log and API may show of an install: settings, and secrets only as masks."""
    return {
        "name": install.name,
        "application": install.application.key,
        "enabled": install.enabled,
        "settings": dict(install.settings),
        "secrets": {k: mask_secret(v) for k, v in sorted(install.secrets.items())},
    }


def install_credentials(*, install: ApplicationInstall) -> dict[str, Any]:
    """Settings and decrypted secrets of an install, for the runtime; never log or render this."""
    return {**install.settings, **install.secrets}


def _clean_install(
    application: Application, values: dict[str, Any], existing: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = REGISTRY.get(application.key)
    if kind is None:
        raise ServiceError(f"Application {application.key!r} is not available any more.")
    return kind.clean(values, existing_secrets=existing)


def _check_name(tenant: Tenant, name: str, exclude_pk: int | None = None) -> str:
    name = name.strip()
    try:
        refuse_control_characters(name)
    except ServiceError as exc:
        raise ValidationError(exc.errors) from exc
    if not name:
        raise ValidationError({"name": ["Name is required."]})
    clash = ApplicationInstall.objects.filter(tenant=tenant, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": [f"An install named {name!r} already exists."]})
    return name


@transaction.atomic
def install_create(
    *, tenant: Tenant, application: Application, name: str, values: dict[str, Any], actor: Any, enabled: bool = True
) -> ApplicationInstall:
    """Install an application for a tenant; raises ValidationError keyed by field name on bad values."""
    errors: dict[str, Any] = {}
    try:
        name = _check_name(tenant, name)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        settings_, secrets_ = _clean_install(application, values, None)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    install = ApplicationInstall.objects.create(
        tenant=tenant, application=application, name=name, settings=settings_, secrets=secrets_, enabled=enabled
    )
    audit_log(
        tenant=tenant,
        actor=actor,
        action="install.create",
        obj=install,
        object_type="install",
        after=install_snapshot(install),
    )
    return install


@transaction.atomic
def install_update(
    *,
    install: ApplicationInstall,
    actor: Any,
    name: str | None = None,
    values: dict[str, Any] | None = None,
    enabled: bool | None = None,
) -> ApplicationInstall:
    """Change an install's name, settings or enabled flag; blank secret fields keep the stored value."""
    before = install_snapshot(install)
    errors: dict[str, Any] = {}
    if name is not None:
        try:
            install.name = _check_name(install.tenant, name, exclude_pk=install.pk)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if values is not None:
        try:
            install.settings, install.secrets = _clean_install(install.application, values, install.secrets)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if enabled is not None:
        install.enabled = enabled
    install.save()
    after = install_snapshot(install)
    if after != before:
        action = "install.update"
        if enabled is not None and name is None and values is None:
            action = "install.enable" if enabled else "install.disable"
        audit_log(
            tenant=install.tenant,
            actor=actor,
            action=action,
            obj=install,
            object_type="install",
            before=before,
            after=after,
        )
    return install


@transaction.atomic
def install_delete(*, install: ApplicationInstall, actor: Any) -> None:
    """Delete an install; nodes that used it lose the reference (SET_NULL)."""
    audit_log(
        tenant=install.tenant,
        actor=actor,
        action="install.delete",
        obj=install,
        object_type="install",
        before=install_snapshot(install),
    )
    install.delete()
