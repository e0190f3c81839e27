"""An install's credentials go only to the install's own origin: nodes that use an install set a relative path only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute http(s) URL; ValueError for anything else."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[scheme]


def install_base_url(settings: Mapping[str, Any]) -> str:
    """An install's base URL from its settings ("" when it has no absolute http(s) one)."""
    base = str(settings.get("base_url") or settings.get("webhook_url") or "").strip()
    try:
        origin(base)
    except ValueError:
        return ""
    return base


def path_problem(path: str) -> str | None:
    """Why `path` is not a relative path below an install's base URL, or None."""
    text = path.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or text.startswith(("//", "\\", "/\\")):
        return "must be a path relative to the install's base URL (no scheme or host)"
    return None


def install_url(base_url: str, path: str) -> str:
    """The URL a node using an install calls; ValueError unless it stays on the base URL's origin."""
    problem = path_problem(path)
    if problem:
        raise ValueError(f"path {path!r} {problem}")
    url = base_url.rstrip("/") + "/" + path.lstrip("/") if path else base_url
    if origin(url) != origin(base_url):
        raise ValueError(f"{url!r} leaves the install's origin {base_url!r}")
    return url
