"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis), with a member's API token.

Every operation, every generated case: no 5xx, every answer's status documented for that operation, every body
valid against the documented schema. CI runs a few examples per operation; `make fuzz` runs many
(FUZZ_EXAMPLES=...).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from admin_ui.models import ApiToken, Role
from admin_ui.services import NewToken, api_token_create
from processes.models import Process
from tests.admin_ui.factories import make_install, make_invitation
from tests.factories import make_member
from tests.topology.runtime_factories import make_runtime_version
from topology.models import TopologyVersion
from topology.webhooks import webhook_create
from trash.services import trash_message_create

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# About 0.2 s per case on a busy 2-core machine; the default per-test timeout would cut a long run short.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(max(300, EXAMPLES * 42 * 2))]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass
class World:
    """What the fuzzer aims at: its token, and path parameters that name real rows of its tenant."""

    token: NewToken
    known: dict[str, dict[str, Any]]

    def parameters(self, path: str) -> dict[str, Any] | None:
        """Real ids for `path`'s parameters, or None where there are none to give (or giving them would publish)."""
        if path.endswith(("/resend", "/try")):
            return None  # a real resend publishes and a try calls the node: not against the machine's shared broker
        for prefix, values in self.known.items():
            if path.startswith(prefix):
                names = set(re.findall(r"{(\w+)}", path))
                return {name: values[name] for name in names} if names <= set(values) else None
        return None


@pytest.fixture
def fuzz_world(db, tenant_a):
    """A tenant with a member's token and one row of each kind: a topology, a finished process, an install, ..."""
    owner = make_member(tenant_a, Role.OWNER)
    token = api_token_create(tenant=tenant_a, name="fuzz", scopes=[s.value for s in ApiToken.Scope], actor=owner)
    spare = api_token_create(tenant=tenant_a, name="spare", scopes=["read"], actor=owner)
    # Enabled without declaring queues: the fuzzer needs rows to find, not a running engine.
    version = make_runtime_version(
        tenant_a, {"start": "start.webhook", "end": "end"}, ["start>end"], name="orders", enable=False
    )
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    process = Process.objects.create(
        tenant=tenant_a,
        version=version,
        correlation_id="fuzz-1",
        status=Process.Status.SUCCESS,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        total=1,
        done=1,
    )
    webhook_create(topology=version.topology, node_key="start")
    trashed = trash_message_create(
        tenant_id=tenant_a.pk,
        version_id=version.pk,
        node_id=None,
        node_key="end",
        correlation_id="fuzz-1",
        process_id="fuzz-1",
        message_id="fuzz-1-end",
        headers={"correlation-id": "fuzz-1"},
        body='{"order": 1}',
        reason="HTTP 500: upstream failed",
    )
    # Starts (REST and webhook) get no real names: a real start would publish to the machine's shared broker.
    known = {
        "/api/topologies/{id}": {"id": version.topology_id, "number": version.number},
        "/api/processes/": {"id": process.pk},
        "/api/members/": {"id": owner.memberships.get().pk},
        "/api/invitations/": {"id": make_invitation(tenant_a, "fuzz@example.com").pk},
        "/api/tokens/": {"id": spare.token.pk},
        "/api/installs/": {"id": make_install(tenant_a, "fuzz-install").pk},
        "/api/trash/{id}/": {"id": trashed.pk},
    }
    return World(token=token, known=known)


def _fuzz_operation(operation, strategy, world: World, statuses: Counter[int]) -> None:
    """Run `EXAMPLES` generated cases of one operation; raises on the first failing check."""
    token = world.token

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case) -> None:
        if (
            case.method == "DELETE"
            and case.path == "/api/tokens/{id}/"
            and case.path_parameters == {"id": token.token.pk}
        ):
            return  # revoking the fuzzer's own token would turn the rest of the run into 401s
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token.key}"}, checks=CHECKS)
        statuses[response.status_code] += 1

    run()


@pytest.fixture
def wsgi_app():
    """Django's WSGI app, kept from closing the test transaction's connection after each request (as Client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_api_answers_as_documented(fuzz_world, wsgi_app, settings):
    # The full run sends thousands of cases on one token: under the production rate (600/min) most would be 429s
    # and no write would get through. The throttle has its own tests.
    settings.FLOWYARD_API_TOKEN_RATE = "1000000/min"
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # every app's endpoints are in the schema
    # Deletes last, so that the rows stay there for every other operation to find.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    failures = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        runs = {mode.value: operation.as_strategy(generation_mode=mode) for mode in GenerationMode}
        known = fuzz_world.parameters(operation.path)
        if known:
            runs["real ids"] = operation.as_strategy(path_parameters=known)
        for name, strategy in runs.items():
            try:
                _fuzz_operation(operation, strategy, fuzz_world, statuses)
            except Exception as exc:  # collect every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} ({name}): {exc}")
    print(f"schemathesis: {len(operations)} operations, {sum(statuses.values())} cases, statuses {dict(statuses)}")
    assert not failures, "\n\n".join(failures)
    # The run reached real answers and writes, not only refusals.
    assert statuses[200] and statuses[201] and statuses[204] and statuses[400] and statuses[404]
