"""The process list's filters, parsed once for the page and the API (django-filter): a bad value is a 400."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from admin_ui.api_input import MAX_INT
from processes import selectors
from processes.models import Process


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_INT})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number a database column can hold ("²" and 20-digit numbers are refused)."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_INT, **kwargs)  # type: ignore[arg-type]


class ProcessFilter(django_filters.FilterSet):
    """?q=<correlation id or its start>&topology=<id>&status=<status>&range=1h|24h|7d|30d&since=&until=<datetime>"""

    q = django_filters.CharFilter(method="correlation_search", label="Correlation id", max_length=64)
    topology = IdFilter(field_name="version__topology_id", label="Topology")
    status = django_filters.ChoiceFilter(choices=Process.Status.choices)
    range = django_filters.ChoiceFilter(
        choices=[(r, f"Last {r}") for r in selectors.RANGES], method="started_within", label="Started"
    )
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="From")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lte", label="To")

    class Meta:
        model = Process
        fields: list[str] = []

    def started_within(self, queryset: QuerySet[Process], name: str, value: str) -> QuerySet[Process]:
        since = selectors.range_start(value)
        return queryset if since is None else queryset.filter(started_at__gte=since)

    def correlation_search(self, queryset: QuerySet[Process], name: str, value: str) -> QuerySet[Process]:
        return selectors.process_search(queryset, value)
