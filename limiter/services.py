"""Writes of rate limits: create, change, delete, each audited and announced to the engines after commit."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from admin_ui.errors import Refusal, ServiceError
from admin_ui.models import Application, Tenant
from admin_ui.services import audit_log
from limiter.models import MAX_AMOUNT, MAX_SECONDS, Limit
from topology.runtime.control import broadcast
from topology.runtime.ratelimit import group_key, install_key


def _snapshot(limit: Limit) -> dict[str, Any]:
    return {
        "application": limit.application.key,
        "scope": "group" if limit.is_group else "tenant",
        "amount": limit.amount,
        "seconds": limit.seconds,
    }


def _check_rate(amount: Any, seconds: Any) -> tuple[int, int]:
    errors: dict[str, list[str]] = {}
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        amount = 0
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = 0
    if not 1 <= amount <= MAX_AMOUNT:
        errors["amount"] = [f"Enter a whole number of calls from 1 to {MAX_AMOUNT:,}."]
    if not 1 <= seconds <= MAX_SECONDS:
        errors["seconds"] = [f"Enter a whole number of seconds from 1 to {MAX_SECONDS:,} (a day)."]
    if errors:
        raise ServiceError("The limit is not valid.", errors=errors)
    return amount, seconds


def _check_may_edit(*, group: bool, actor: Any) -> None:
    if group and not getattr(actor, "is_staff", False):
        message = "Only staff can set a limit shared by all tenants."
        raise ServiceError(message, errors={"group": [message]})


def _announce() -> None:
    """Engines hold limits in memory (no query per message): tell them to reload once the change is committed."""

    transaction.on_commit(lambda: broadcast({"type": "reload", "reason": "limits"}))


@transaction.atomic
def limit_create(
    *, tenant: Tenant, application: Application, amount: Any, seconds: Any, group: bool = False, actor: Any
) -> Limit:
    """Limit the tenant's calls to `application` (or every tenant's, for staff with `group`)."""
    _check_may_edit(group=group, actor=actor)
    amount, seconds = _check_rate(amount, seconds)
    key = group_key(application.key) if group else install_key(tenant.pk, application.key)
    if Limit.objects.filter(key=key).exists():
        message = f"{application.name} already has {'a group' if group else 'a'} limit; change that one instead."
        raise ServiceError(message, errors={"application": [message]}, reason=Refusal.CONFLICT)
    try:
        with transaction.atomic():
            limit = Limit.objects.create(
                tenant=None if group else tenant, application=application, key=key, amount=amount, seconds=seconds
            )
    except IntegrityError as exc:  # a concurrent create of the same key
        raise ServiceError("That limit was just created by someone else.", reason=Refusal.CONFLICT) from exc
    audit_log(tenant=tenant, actor=actor, action="limit.create", obj=limit, after=_snapshot(limit))
    _announce()
    return limit


@transaction.atomic
def limit_update(*, limit: Limit, amount: Any, seconds: Any, tenant: Tenant, actor: Any) -> Limit:
    """Change a limit's rate; `tenant` is where the change is audited (a group limit belongs to none)."""
    _check_may_edit(group=limit.is_group, actor=actor)
    before = _snapshot(limit)
    limit.amount, limit.seconds = _check_rate(amount, seconds)
    limit.save(update_fields=["amount", "seconds"])
    audit_log(tenant=tenant, actor=actor, action="limit.update", obj=limit, before=before, after=_snapshot(limit))
    _announce()
    return limit


@transaction.atomic
def limit_delete(*, limit: Limit, tenant: Tenant, actor: Any) -> None:
    """Remove a limit: calls on its key run unlimited again (pauses from Retry-After still apply)."""
    _check_may_edit(group=limit.is_group, actor=actor)
    before = _snapshot(limit)
    audit_log(tenant=tenant, actor=actor, action="limit.delete", obj=limit, before=before)
    limit.delete()
    _announce()
