"""What changed between two versions of a topology, node by node (matched by BPMN element id)."""

from __future__ import annotations

from typing import Any

Snapshot = dict[str, dict[str, Any]]


def version_diff(*, a: int, b: int, old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """Nodes added, removed and changed from version `a` (`old`) to version `b` (`new`), with the changed fields.

    A snapshot maps node keys to `{"name", "kind", "config", "edges"}` (edges: a set of target labels).
    """
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
        "a": a,
        "b": b,
        "added": added,
        "removed": removed,
        "changed": changed,
        "same": not (added or removed or changed),
    }
