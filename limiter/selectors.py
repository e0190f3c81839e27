"""Reads of rate limits: a tenant's own limits and the group limits that apply to it."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from admin_ui.models import Tenant
from limiter.models import Limit


def limit_list(*, tenant: Tenant) -> QuerySet[Limit]:
    return Limit.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True)).select_related("application")
