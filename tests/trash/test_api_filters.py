"""Trash list filters: a bad number is a 400 in the API and ignored by the page, never an overflow or a 500;
the lists are paginated as documented."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        {"topology": "99999999999999999999"},
        {"topology": "²"},
        {"version": "²"},
        {"status": "bogus"},
        {"sort": "sideways"},
        {"limit": "9223372036854775808"},
        {"offset": "9223372036854775808"},
    ],
)
@pytest.mark.parametrize("name", ["api_trash_list", "api_trash_groups"])
def test_bad_trash_filters_are_400(alice_client, name, query):
    response = alice_client.get(reverse(name), query)
    assert response.status_code == 400, response.content
    assert set(query) <= set(response.json()["errors"])


@pytest.mark.parametrize("query", [{"topology": "99999999999999999999"}, {"topology": "²"}, {"version": "²"}])
def test_trash_page_survives_bad_numbers(alice_client, query):
    assert alice_client.get(reverse("trash_list"), query).status_code == 200


def test_trash_lists_are_paginated(alice_client):
    for name in ("api_trash_list", "api_trash_groups"):
        body = alice_client.get(reverse(name), {"limit": 10}).json()
        assert set(body) == {"count", "next", "previous", "results"}


def test_editing_a_message_without_a_node_row_locks_it(alice_client, tenant_a, alice):
    # The row lock joins the nullable node: PostgreSQL refused FOR UPDATE on it (a 500 found by the API fuzz).
    from tests.topology.runtime_factories import make_runtime_version
    from trash.services import trash_message_create

    version = make_runtime_version(tenant_a, {"start": "start.manual", "end": "end"}, ["start>end"], enable=False)
    message = trash_message_create(
        tenant_id=tenant_a.pk,
        version_id=version.pk,
        node_id=None,
        node_key="gone",
        correlation_id="c-1",
        process_id="c-1",
        message_id="c-1-gone",
        headers={},
        body="{}",
        reason="HTTP 500",
    )
    url = reverse("api_trash_detail", args=[message.pk])
    response = alice_client.patch(url, {"body": '{"fixed": true}'}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["body"] == '{"fixed": true}'


@pytest.mark.parametrize("payload", [{"ids": [2**70]}, {"ids": [0]}, {"ids": [1], "throttle": 2**70}])
def test_bulk_ids_out_of_range_are_400(alice_client, payload):
    response = alice_client.post(
        reverse("api_trash_bulk_list"), {"action": "reject", **payload}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
