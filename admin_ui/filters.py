"""The audit log's filters, parsed once (django-filter): choices from the tenant's own log, a bad value a form error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from admin_ui import selectors
from admin_ui.models import AuditEntry, Tenant


class AuditFilter(django_filters.FilterSet):
    """?action=<action, or a family ending in ".">&object_type=&actor=<part of a label>&date_from=&date_to=<date>"""

    action = django_filters.ChoiceFilter(method="by_action", empty_label="Any action")
    object_type = django_filters.ChoiceFilter(label="Object", empty_label="Any object")
    actor = django_filters.CharFilter(
        field_name="actor_label",
        lookup_expr="icontains",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "email or token"}),
    )
    date_from = django_filters.DateFilter(
        method="from_day", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(method="to_day", label="To", widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def __init__(self, data: Any = None, *, tenant: Tenant, **kwargs: Any) -> None:
        # The tenant's log is the queryset: no filter value can reach another tenant's entries.
        super().__init__(data, queryset=selectors.audit_list(tenant=tenant), **kwargs)
        facets = selectors.audit_facets(tenant=tenant)
        families = sorted({a.rsplit(".", 1)[0] + "." for a in facets["actions"] if "." in a})
        self.filters["action"].extra["choices"] = [(a, a) for a in (*facets["actions"], *families)]
        self.filters["object_type"].extra["choices"] = [(t, t.replace("_", " ")) for t in facets["object_types"]]

    def by_action(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> QuerySet[AuditEntry]:
        # A trailing dot filters a family of actions ("token." is every token action).
        return queryset.filter(action__startswith=value) if value.endswith(".") else queryset.filter(action=value)

    def from_day(self, queryset: QuerySet[AuditEntry], name: str, value: dt.date) -> QuerySet[AuditEntry]:
        tz = timezone.get_current_timezone()
        return queryset.filter(at__gte=dt.datetime.combine(value, dt.time.min, tzinfo=tz))

    def to_day(self, queryset: QuerySet[AuditEntry], name: str, value: dt.date) -> QuerySet[AuditEntry]:
        tz = timezone.get_current_timezone()
        return queryset.filter(at__lte=dt.datetime.combine(value, dt.time.max, tzinfo=tz))
