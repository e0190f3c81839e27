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
