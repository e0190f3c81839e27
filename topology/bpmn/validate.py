"""Validation of a parsed BPMN graph: every rule returns {"element_id", "message", "field"} errors.

A draft with errors can be saved (so work is never lost) but not published.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from typing import Any
from urllib.parse import urlparse

import jmespath
from croniter import croniter
from jmespath.exceptions import JMESPathError

from topology.bpmn.parse import KIND_ELEMENTS, KINDS, RETRY_ON_VALUES, START_KINDS, ParsedBpmn, ParsedNode


def _error(element_id: str, message: str, field: str = "") -> dict[str, str]:
    return {"element_id": element_id, "message": message, "field": field}


def _compiles(expression: str) -> str | None:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    except Exception as exc:  # jmespath raises plain errors on some inputs; never let it escape
        return exc.__class__.__name__
    return None


def _present(node: ParsedNode, attr: str) -> bool:
    value = node.config.get(attr)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _required_fields(node: ParsedNode, registry_names: set[str]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    label = node.name or node.key

    def need(attr: str, what: str) -> None:
        if not _present(node, attr):
            errors.append(_error(node.key, f"{label}: {what} is required.", attr))

    kind = node.kind
    if kind == "connector":
        need("install", "an application install")
        need("path", "a path")
    elif kind == "python":
        need("registry", "a Python node name")
        name = node.config.get("registry")
        if _present(node, "registry") and name not in registry_names:
            errors.append(_error(node.key, f"{label}: no Python node named {name!r} is registered.", "registry"))
    elif kind == "worker":
        need("url", "a worker URL")
    elif kind == "transform":
        need("expression", "a JMESPath expression")
    elif kind == "wait":
        if not _present(node, "waitSeconds") and not _present(node, "waitHeader"):
            errors.append(_error(node.key, f"{label}: set wait seconds or a header with the wait.", "waitSeconds"))
    elif kind == "start.cron":
        need("cron", "a cron expression")
    elif kind in ("start.event", "publish"):
        need("event", "an event name")
    elif kind == "batch":
        if not _present(node, "registry") and not _present(node, "url"):
            errors.append(_error(node.key, f"{label}: a batch needs a Python node or a worker URL.", "registry"))
        name = node.config.get("registry")
        if _present(node, "registry") and name not in registry_names:
            errors.append(_error(node.key, f"{label}: no Python node named {name!r} is registered.", "registry"))
    if kind in ("worker", "batch") and _present(node, "url"):
        url = urlparse(str(node.config["url"]))
        if url.scheme not in ("http", "https") or not url.netloc:
            errors.append(_error(node.key, f"{label}: the worker URL must start with http:// or https://.", "url"))
    return errors


def _value_rules(node: ParsedNode) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = list(node.config_errors)
    label = node.name or node.key
    config = node.config
    cron = config.get("cron")
    if node.kind == "start.cron" and isinstance(cron, str) and cron.strip() and not croniter.is_valid(cron.strip()):
        errors.append(_error(node.key, f"{label}: {cron!r} is not a valid cron expression.", "cron"))
    for attr in ("expression", "orderingKey"):
        value = config.get(attr)
        if isinstance(value, str) and value.strip():
            problem = _compiles(value)
            if problem:
                errors.append(_error(node.key, f"{label}: invalid JMESPath in {attr}: {problem}", attr))
    prefetch = config.get("prefetch")
    if isinstance(prefetch, int) and not 1 <= prefetch <= 100:
        errors.append(_error(node.key, f"{label}: prefetch must be between 1 and 100.", "prefetch"))
    shards = config.get("shards")
    if isinstance(shards, int) and not 1 <= shards <= 64:
        errors.append(_error(node.key, f"{label}: shards must be between 1 and 64.", "shards"))
    attempts = config.get("retryAttempts")
    if isinstance(attempts, int) and not 0 <= attempts <= 100:
        errors.append(_error(node.key, f"{label}: retry attempts must be between 0 and 100.", "retryAttempts"))
    for attr, low, high in (
        ("retryInterval", 0, 86400),
        ("retryMaxDelay", 0, 86400),
        ("retryBackoff", 1, 10),
        ("timeout", 0.001, 3600),
        ("waitSeconds", 0, 366 * 86400),
    ):
        value = config.get(attr)
        if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
            errors.append(_error(node.key, f"{label}: {attr} must be between {low} and {high}.", attr))
    interval, max_delay = config.get("retryInterval"), config.get("retryMaxDelay")
    if isinstance(interval, int | float) and isinstance(max_delay, int | float) and max_delay < interval:
        errors.append(_error(node.key, f"{label}: the retry max delay is below the interval.", "retryMaxDelay"))
    retry_on = config.get("retryOn")
    if isinstance(retry_on, list):
        unknown = [v for v in retry_on if v not in RETRY_ON_VALUES]
        if unknown:
            allowed = ", ".join(RETRY_ON_VALUES)
            errors.append(_error(node.key, f"{label}: unknown retry cases {unknown}; use {allowed}.", "retryOn"))
    return errors


def validate(parsed: ParsedBpmn, *, installs: Collection[int], python_nodes: Collection[str]) -> list[dict[str, str]]:
    """All problems that block publishing, in a stable order: graph-wide first, then per node.

    `installs`: ids of the tenant's application installs; `python_nodes`: names of the registered Python nodes.
    """
    errors: list[dict[str, str]] = []
    if not parsed.process_id:
        return [_error("", "The file contains no BPMN process.")]
    nodes = {n.key: n for n in parsed.nodes}
    starts = [n for n in parsed.nodes if n.kind in START_KINDS]
    if not starts:
        errors.append(_error(parsed.process_id, "Add at least one start event.", "kind"))

    outgoing: dict[str, list[Any]] = {key: [] for key in nodes}
    incoming: dict[str, list[Any]] = {key: [] for key in nodes}
    for edge in parsed.edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target].append(edge)
        target = nodes[edge.target]
        if target.kind in START_KINDS:
            errors.append(_error(edge.key, f"{target.name or target.key}: a start event cannot have incoming flows."))
        if edge.condition:
            problem = _compiles(edge.condition)
            if problem:
                errors.append(_error(edge.key, f"Invalid JMESPath condition: {problem}", "condition"))

    reached: set[str] = {n.key for n in starts}
    queue = deque(reached)
    while queue:
        for edge in outgoing[queue.popleft()]:
            if edge.target not in reached:
                reached.add(edge.target)
                queue.append(edge.target)

    registry_names = set(python_nodes)
    tenant_installs = set(installs)
    names: dict[str, str] = {}
    for node in parsed.nodes:
        label = node.name or node.key
        if not node.kind:
            errors.append(_error(node.key, f"{label}: choose a Flowyard node kind.", "kind"))
        elif node.kind not in KINDS:
            errors.append(_error(node.key, f"{label}: unknown node kind {node.kind!r}.", "kind"))
        elif node.element_type not in KIND_ELEMENTS[node.kind]:
            errors.append(_error(node.key, f"{label}: kind {node.kind!r} does not fit a {node.element_type}.", "kind"))
        if starts and node.key not in reached:
            errors.append(_error(node.key, f"{label}: not reachable from any start event."))
        if node.name:
            if node.name in names:
                errors.append(
                    _error(node.key, f"Two nodes are named {node.name!r}; node names must be unique.", "name")
                )
            names[node.name] = node.key
        if node.kind == "end" and outgoing[node.key]:
            errors.append(_error(node.key, f"{label}: an end event cannot have outgoing flows."))
        if node.kind == "join" and len(incoming[node.key]) < 2:
            errors.append(_error(node.key, f"{label}: a join needs at least two incoming flows."))
        if node.kind == "fanout" and len(incoming[node.key]) > 1:
            errors.append(_error(node.key, f"{label}: a fan-out takes one incoming flow; use a join to merge."))
        if node.kind == "router":
            defaults = [e for e in outgoing[node.key] if e.is_default]
            if node.default_flow and not defaults:
                errors.append(_error(node.key, f"{label}: the default flow must leave this gateway.", "default"))
            if len(defaults) > 1:
                errors.append(_error(node.key, f"{label}: a gateway can have only one default flow.", "default"))
            for edge in outgoing[node.key]:
                if not edge.condition and not edge.is_default:
                    errors.append(
                        _error(edge.key, f"{label}: each outgoing flow needs a condition or must be the default.")
                    )
        if node.install_id is not None and node.install_id not in tenant_installs:
            errors.append(_error(node.key, f"{label}: the application install does not exist.", "install"))
        errors.extend(_required_fields(node, registry_names))
        errors.extend(_value_rules(node))
    return errors
