"""Egress policy of the engine's outgoing HTTP calls: no loopback, private, link-local, multicast or metadata addresses.

The check runs on the address the socket actually connects to, after DNS resolution, and the connection is made to
exactly that checked address: a host name that resolves to a public address for the check and to 127.0.0.1 for the
connection (DNS rebinding) cannot pass. `FLOWYARD_EGRESS_ALLOW` (CIDRs and host names) opens what a deployment needs.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import _set_socket_options, allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(Exception):
    """The egress policy refused an outgoing connection; never retried (the answer would be the same)."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(
            f"egress refused: {host} resolves to {address} ({why}); allow it with FLOWYARD_EGRESS_ALLOW if intended"
        )
        self.host = host
        self.address = address


@lru_cache(maxsize=16)
def _parse_allow(entries: tuple[str, ...]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.rstrip("."))
    return tuple(networks), frozenset(hosts)


def allow_list() -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """The parsed `FLOWYARD_EGRESS_ALLOW`, read per call so that settings overrides apply at once."""
    entries: Iterable[str] = getattr(settings, "FLOWYARD_EGRESS_ALLOW", ())
    return _parse_allow(tuple(entries))


def _host_allowed(host: str, hosts: frozenset[str]) -> bool:
    name = host.lower().rstrip(".")
    # ".example.com" allows every sub-domain of example.com.
    return name in hosts or any(entry.startswith(".") and name.endswith(entry) for entry in hosts)


def refusal(address: IPAddress) -> str | None:
    """Why the default policy refuses this address, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local, cloud metadata"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified or address.is_reserved:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private network"
    return None


def check(host: str, address: str) -> None:
    """Raise EgressRefused unless `address` (the one about to be connected to for `host`) may be called."""
    networks, hosts = allow_list()
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if _host_allowed(host, hosts) or any(ip in net for net in networks if net.version == ip.version):
        return
    why = refusal(ip)
    if why is not None:
        raise EgressRefused(host, str(ip), why)


def create_connection(
    host: str,
    port: int,
    timeout: Any = _DEFAULT_TIMEOUT,
    source_address: tuple[str, int] | None = None,
    socket_options: Any = None,
) -> socket.socket:
    """urllib3's create_connection with the policy checked on each resolved address before connecting to it."""
    host = host.strip("[]")
    err: OSError | None = None
    refused: EgressRefused | None = None
    for af, socktype, proto, _, sockaddr in socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM):
        try:
            check(host, str(sockaddr[0]))
        except EgressRefused as exc:
            refused = exc
            continue
        sock = socket.socket(af, socktype, proto)
        try:
            _set_socket_options(sock, socket_options)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            # The socket connects to the very address just checked: no second resolution in between.
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            err = exc
            sock.close()
    if refused is not None and err is None:
        raise refused
    if err is not None:
        raise err
    raise OSError(f"getaddrinfo returned no address for {host}")


class _GuardedConnectionMixin:
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        # EgressRefused is not an OSError: it passes urllib3's and requests' retry and wrapping untouched.
        try:
            return create_connection(
                self._dns_host,  # type: ignore[attr-defined]
                self.port,
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc  # type: ignore[arg-type]


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    """An HTTP connection that passes the egress policy."""


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    """An HTTPS connection that passes the egress policy (TLS still verifies the host name)."""


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class EgressAdapter(HTTPAdapter):
    """A requests adapter whose connections all pass the egress policy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    """A requests session for outgoing calls of the engine, with the egress policy on http and https."""
    sess = requests.Session()
    # Environment proxies would connect on the engine's behalf to any address, past the policy.
    sess.trust_env = False
    adapter = EgressAdapter()
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    return sess
