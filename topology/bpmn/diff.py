"""What changed between two versions of a topology, node by node (matched by BPMN element id)."""

from __future__ import annotations

from typing import Any

from topology.models import Edge, Node, TopologyVersion


def _snapshot(version: TopologyVersion) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    for node in Node.objects.filter(version=version).order_by("key"):
        nodes[node.key] = {"name": node.name, "kind": node.kind, "config": node.config or {}, "edges": set()}
    for edge in Edge.objects.filter(version=version).select_related("source", "target"):
        label = edge.target.key
        if edge.condition:
            label += f" [{edge.condition}]"
        if edge.is_default:
            label += " (default)"
        nodes[edge.source.key]["edges"].add(label)
    return nodes


def version_diff(*, a: TopologyVersion, b: TopologyVersion) -> dict[str, Any]:
    """Nodes added, removed and changed from version `a` to version `b`, with the changed fields."""
    old, new = _snapshot(a), _snapshot(b)
    added = [{"key": key, "name": new[key]["name"], "kind": new[key]["kind"]} for key in sorted(new.keys() - old)]
    removed = [{"key": key, "name": old[key]["name"], "kind": old[key]["kind"]} for key in sorted(old.keys() - new)]
    changed: list[dict[str, Any]] = []
    for key in sorted(old.keys() & new.keys()):
        before, after = old[key], new[key]
        fields: list[dict[str, Any]] = []
        for attr in ("name", "kind"):
            if before[attr] != after[attr]:
                fields.append({"field": attr, "before": before[attr], "after": after[attr]})
        for config_key in sorted(before["config"].keys() | after["config"].keys()):
            old_value, new_value = before["config"].get(config_key), after["config"].get(config_key)
            if old_value != new_value:
                fields.append({"field": f"config.{config_key}", "before": old_value, "after": new_value})
        if before["edges"] != after["edges"]:
            fields.append({"field": "edges", "before": sorted(before["edges"]), "after": sorted(after["edges"])})
        if fields:
            changed.append({"key": key, "name": after["name"] or before["name"], "fields": fields})
    return {
        "a": a.number,
        "b": b.number,
        "added": added,
        "removed": removed,
        "changed": changed,
        "same": not (added or removed or changed),
    }
