"""Lists and pages never load a version's XML or problem lists they do not show, and count with subqueries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.topology.factories import invalid_xml, make_topology
from topology import selectors

pytestmark = pytest.mark.django_db

VERSION_TABLE = "topology_topologyversion"


def heavy_reads(queries: list[dict]) -> list[str]:
    """Queries that select the XML or a whole problem list of versions, or group by version columns."""
    bad = []
    for query in queries:
        sql = query["sql"]
        select = sql.split(" FROM ", 1)[0]
        # The topology page shows the latest version's problems: reading that one row's errors is allowed.
        one_row = f'WHERE "{VERSION_TABLE}"."id" = ' in sql and "LIMIT 1" in sql
        selects_heavy = '"bpmn_xml"' in select or (f'"{VERSION_TABLE}"."errors"' in select and not one_row)
        if selects_heavy or ("GROUP BY" in sql and f'"{VERSION_TABLE}"."bpmn_xml"' in sql):
            bad.append(sql)
    return bad


@pytest.fixture
def topology(tenant_a, alice):
    return make_topology(tenant_a, alice, xml=invalid_xml())


def test_version_list_counts_without_loading_xml_or_errors(topology):
    with CaptureQueriesContext(connection) as ctx:
        versions = list(selectors.version_list(topology=topology))
        counts = [(v.node_count, v.error_count, v.unsupported_count) for v in versions]
    assert counts and counts[-1][1] > 0  # the invalid first draft has problems, counted by the database
    assert heavy_reads(ctx.captured_queries) == []
    assert not any("GROUP BY" in q["sql"] and "bpmn_xml" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize("name", ["topology_detail", "topology_versions", "api_version_list", "api_topology_list"])
def test_pages_and_lists_do_not_load_xml(alice_client, topology, name):
    url = reverse(name) if name == "api_topology_list" else reverse(name, args=[topology.pk])
    with CaptureQueriesContext(connection) as ctx:
        response = alice_client.get(url)
    assert response.status_code == 200
    assert heavy_reads(ctx.captured_queries) == [], "\n".join(heavy_reads(ctx.captured_queries))


def test_versions_api_gives_counts(alice_client, topology):
    rows = alice_client.get(reverse("api_version_list", args=[topology.pk])).json()
    assert {"node_count", "error_count", "unsupported_count"} <= set(rows[0])
    assert "errors" not in rows[0]
    assert rows[-1]["error_count"] > 0


def test_topology_page_lists_the_latest_versions_problems(alice_client, topology):
    page = alice_client.get(reverse("topology_detail", args=[topology.pk])).content.decode()
    assert 'data-testid="version-errors"' in page
