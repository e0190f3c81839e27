"""The OpenAPI schema describes what the API answers: errors per operation, pagination, the start body."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    checked = 0
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        name = f"{method.upper()} {path}"
        if operation.get("security") != [{}] and path.startswith("/api/"):
            assert {"401", "403"} <= set(responses), name
        if "{" in path:
            assert "404" in responses, name
        if method in ("post", "put", "patch") or any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in responses, name
        for status in (s for s in responses if s.startswith(("4", "5"))):
            ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (name, status)
        checked += 1
    assert checked > 30


def test_process_list_is_documented_as_paginated_and_filtered(schema):
    operation = schema["paths"]["/api/processes/"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["limit"]["minimum"] == 1 and parameters["limit"]["maximum"] == 500
    assert parameters["offset"]["minimum"] == 0
    assert set(parameters["status"]["enum"]) == {"in_progress", "success", "failed", "terminated"}
    assert parameters["topology"]["type"] == "integer" and parameters["topology"]["maximum"] == 2**63 - 1
    assert set(parameters["range"]["enum"]) == {"1h", "24h", "7d", "30d"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_start_body_is_an_object_and_its_refusals_are_documented(schema):
    for path in ("/api/topologies/{name}/start", "/hooks/{token}"):
        operation = schema["paths"][path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
        assert {"202", "400", "404", "409", "413", "503"} <= set(operation["responses"]), path
    assert schema["paths"]["/hooks/{token}"]["post"].get("security", [{}]) == [{}]  # the token in the URL is the key
