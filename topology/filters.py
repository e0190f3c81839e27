"""List filters of topologies, parsed once for the page and the API (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from topology import selectors
from topology.models import Topology


class TopologyFilter(django_filters.FilterSet):
    """`?q=` searches name and description."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=200)

    class Meta:
        model = Topology
        fields: list[str] = []

    def search(self, queryset: QuerySet[Topology], name: str, value: str) -> QuerySet[Topology]:
        return selectors.topology_search(queryset, value)
