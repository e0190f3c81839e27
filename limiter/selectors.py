"""Reads of rate limits: a tenant's own limits and the group limits that apply to it, with live usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from admin_ui.models import Application, Tenant
from limiter.models import Limit
from topology.runtime import ratelimit as backend


def limit_list(*, tenant: Tenant) -> QuerySet[Limit]:
    return Limit.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).select_related("application")


def limit_rates_all() -> dict[str, backend.Rate]:
    """Every limit of every tenant by key: what the engines enforce (registered in limiter/apps.py)."""
    return {row.key: backend.Rate(row.key, row.amount, row.seconds) for row in Limit.objects.all()}


def limit_get(*, tenant: Tenant, pk: int) -> Limit:
    """One of the tenant's limits or a group limit; another tenant's limit is a 404."""
    try:
        return limit_list(tenant=tenant).get(pk=pk)
    except Limit.DoesNotExist as exc:
        raise Http404("No such limit.") from exc


def application_choices() -> QuerySet[Application]:
    return Application.objects.order_by("name")


@dataclass(frozen=True)
class LimitUsage:
    """A limit with its live state: calls in the current window, waiting messages, pause left."""

    limit: Limit
    used: int
    waiting: int
    paused_ms: int
    available: bool

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used / self.limit.amount)) if self.limit.amount else 0


def limit_usage(*, tenant: Tenant) -> list[LimitUsage]:
    """Each limit the tenant sees with its usage now (zeros and `available=False` when Redis is down)."""
    limits = list(limit_list(tenant=tenant))
    usage = backend.usage([(limit.key, limit.seconds) for limit in limits])
    rows = []
    for limit in limits:
        state = usage.get(limit.key)
        rows.append(
            LimitUsage(
                limit=limit,
                used=state.used if state else 0,
                waiting=state.waiting if state else 0,
                paused_ms=state.paused_ms if state else 0,
                available=state is not None,
            )
        )
    return rows


def limit_history(*, tenant: Tenant, seconds: int = backend.HISTORY_SECONDS) -> dict[str, Any]:
    """Calls per second over the last hour for each limit the tenant sees: chart data for the limits page."""
    limits = list(limit_list(tenant=tenant))
    xs, series = backend.history([limit.key for limit in limits], seconds=seconds)
    return {
        "x": xs,
        "series": [
            {
                "label": f"{limit.application.name}{' (group)' if limit.is_group else ''}",
                "limit": round(limit.per_second, 3),
                "data": series[limit.key],
            }
            for limit in limits
        ],
    }
