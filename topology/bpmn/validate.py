"""Validation of a parsed BPMN graph: every rule returns {"element_id", "message", "field"} errors.

Pure: the caller passes the tenant's install ids and the registered Python node names. Per-field rules
(required, range, JMESPath, cron, URL, allowed values) come from the kind registry (`topology/kinds.py`).
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

from topology import kinds
from topology.bpmn.parse import ParsedBpmn, ParsedEdge, ParsedNode
from topology.runtime import origin


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


def _number(value: float | None) -> str:
    return "" if value is None else str(int(value)) if float(value).is_integer() else str(value)


def _check(node: ParsedNode, f: kinds.Field) -> str | None:
    """What is wrong with one present field value of a node, per its registry check; None when fine."""
    value = node.config[f.name]
    label = node.name or node.key
    if f.check == "jmespath" and isinstance(value, str):
        problem = _compiles(value)
        return f"{label}: invalid JMESPath in {f.name}: {problem}" if problem else None
    if f.check == "cron" and isinstance(value, str) and not croniter.is_valid(value.strip()):
        return f"{label}: {value!r} is not a valid cron expression."
    if f.check == "http_url":
        url = urlparse(str(value))
        if url.scheme not in ("http", "https") or not url.netloc:
            return f"{label}: the worker URL must start with http:// or https://."
    if isinstance(value, int | float) and not isinstance(value, bool):
        low = f.min if f.min is not None else float("-inf")
        high = f.max if f.max is not None else float("inf")
        if not low <= value <= high:
            return f"{label}: {f.name} must be between {_number(f.min)} and {_number(f.max)}."
    if f.type == "list" and f.choices and isinstance(value, list):
        allowed = [v for v, _label in f.choices]
        unknown = [v for v in value if v not in allowed]
        if unknown:
            return f"{label}: unknown values {unknown} in {f.name}; use {', '.join(allowed)}."
    return None


def _field_rules(node: ParsedNode, kind: kinds.Kind, python_nodes: Collection[str]) -> list[dict[str, str]]:
    """Required fields, one-of groups and value checks of the node's kind, then cross-field rules."""
    errors: list[dict[str, str]] = list(node.config_errors)
    label = node.name or node.key
    for f in kind.fields:
        if not f.stored:
            continue
        if not _present(node, f.name):
            if f.required:
                errors.append(_error(node.key, f"{label}: {f.required} is required.", f.name))
            continue
        problem = _check(node, f)
        if problem:
            errors.append(_error(node.key, problem, f.name))
        if f.type == "registry" and node.config[f.name] not in python_nodes:
            name = node.config[f.name]
            errors.append(_error(node.key, f"{label}: no Python node named {name!r} is registered.", f.name))
    if kind.one_of and not any(_present(node, attr) for attr in kind.one_of[0]):
        errors.append(_error(node.key, f"{label}: {kind.one_of[1]}", kind.one_of[0][0]))
    interval, max_delay = node.config.get("retryInterval"), node.config.get("retryMaxDelay")
    if isinstance(interval, int | float) and isinstance(max_delay, int | float) and max_delay < interval:
        errors.append(_error(node.key, f"{label}: the retry max delay is below the interval.", "retryMaxDelay"))
    return errors


def _install_origin(node: ParsedNode, label: str) -> list[dict[str, str]]:
    """A node using an install calls only the install's origin: no URL of its own, a relative path."""
    errors: list[dict[str, str]] = []
    if _present(node, "url"):
        message = f"{label}: a node that uses an install calls the install's base URL; remove the URL."
        errors.append(_error(node.key, message, "url"))
    for name, what in (("path", "path"), ("action", "action path")):
        problem = origin.path_problem(str(node.config.get(name) or ""))
        if problem:
            errors.append(_error(node.key, f"{label}: the {what} {problem}.", name))
    return errors


def _kind_rules(node: ParsedNode) -> tuple[kinds.Kind | None, list[dict[str, str]]]:
    label = node.name or node.key
    if not node.kind:
        return None, [_error(node.key, f"{label}: choose a Flowyard node kind.", "kind")]
    kind = kinds.get(node.kind)
    if kind is None:
        return None, [_error(node.key, f"{label}: unknown node kind {node.kind!r}.", "kind")]
    if node.element_type not in kind.accepts:
        return kind, [_error(node.key, f"{label}: kind {node.kind!r} does not fit a {node.element_type}.", "kind")]
    return kind, []


def _shape_rules(node: ParsedNode, incoming: list[ParsedEdge], outgoing: list[ParsedEdge]) -> list[dict[str, str]]:
    """Rules on a node's flows: ends end, joins join, fan-outs split, routers route."""
    label = node.name or node.key
    errors: list[dict[str, str]] = []
    if node.kind == "end" and outgoing:
        errors.append(_error(node.key, f"{label}: an end event cannot have outgoing flows."))
    if node.kind == "join" and len(incoming) < 2:
        errors.append(_error(node.key, f"{label}: a join needs at least two incoming flows."))
    if node.kind == "fanout" and len(incoming) > 1:
        errors.append(_error(node.key, f"{label}: a fan-out takes one incoming flow; use a join to merge."))
    if node.kind == "router":
        defaults = [e for e in outgoing if e.is_default]
        if node.default_flow and not defaults:
            errors.append(_error(node.key, f"{label}: the default flow must leave this gateway.", "default"))
        if len(defaults) > 1:
            errors.append(_error(node.key, f"{label}: a gateway can have only one default flow.", "default"))
        for edge in outgoing:
            if not edge.condition and not edge.is_default:
                errors.append(
                    _error(edge.key, f"{label}: each outgoing flow needs a condition or must be the default.")
                )
    return errors


def _reachable(starts: list[ParsedNode], outgoing: dict[str, list[ParsedEdge]]) -> set[str]:
    reached: set[str] = {n.key for n in starts}
    queue = deque(reached)
    while queue:
        for edge in outgoing[queue.popleft()]:
            if edge.target not in reached:
                reached.add(edge.target)
                queue.append(edge.target)
    return reached


def validate(
    parsed: ParsedBpmn,
    *,
    installs: Collection[int],
    python_nodes: Collection[str],
    without_base_url: Collection[int] = (),
) -> list[dict[str, str]]:
    """All problems that block publishing, in a stable order: graph-wide first, then per node.

    `installs`: ids of the tenant's application installs (`without_base_url`: those of them whose settings give no
    http(s) base URL); `python_nodes`: names in the node registry.
    """
    if not parsed.process_id:
        return [_error("", "The file contains no BPMN process.")]
    errors: list[dict[str, str]] = []
    nodes = {n.key: n for n in parsed.nodes}
    starts = [n for n in parsed.nodes if n.kind in kinds.START_KINDS]
    if not starts:
        errors.append(_error(parsed.process_id, "Add at least one start event.", "kind"))
    outgoing: dict[str, list[Any]] = {key: [] for key in nodes}
    incoming: dict[str, list[Any]] = {key: [] for key in nodes}
    for edge in parsed.edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target].append(edge)
        target = nodes[edge.target]
        if target.kind in kinds.START_KINDS:
            errors.append(_error(edge.key, f"{target.name or target.key}: a start event cannot have incoming flows."))
        if edge.condition:
            problem = _compiles(edge.condition)
            if problem:
                errors.append(_error(edge.key, f"Invalid JMESPath condition: {problem}", "condition"))
    reached = _reachable(starts, outgoing)
    names: dict[str, str] = {}
    for node in parsed.nodes:
        label = node.name or node.key
        kind, kind_errors = _kind_rules(node)
        errors.extend(kind_errors)
        if starts and node.key not in reached:
            errors.append(_error(node.key, f"{label}: not reachable from any start event."))
        if node.name:
            if node.name in names:
                errors.append(
                    _error(node.key, f"Two nodes are named {node.name!r}; node names must be unique.", "name")
                )
            names[node.name] = node.key
        errors.extend(_shape_rules(node, incoming[node.key], outgoing[node.key]))
        if node.install_id is not None and node.install_id not in installs:
            errors.append(_error(node.key, f"{label}: the application install does not exist.", "install"))
        if node.install_id is not None:
            errors.extend(_install_origin(node, label))
            if node.install_id in without_base_url and kinds.calls_worker(node.kind, node.config):
                message = (
                    f"{label}: the application install has no base URL; set one in the install's settings "
                    "or give the node a worker URL instead of the install."
                )
                errors.append(_error(node.key, message, "install"))
        if kind is not None:
            errors.extend(_field_rules(node, kind, python_nodes))
        else:
            errors.extend(node.config_errors)
    return errors
