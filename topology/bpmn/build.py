"""Generate valid BPMN 2.0 XML with a diagram (DI) from plain node and edge dicts.

Used by tests, the demo seed and benchmarks. Layout: columns by distance from the starts, left to right,
wrapping into a new band of rows every `wrap` columns so big diagrams stay readable.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from xml.etree import ElementTree as ET

from topology import kinds
from topology.bpmn.parse import BPMN_NS, BPMNDI_NS, DC_NS, DI_NS, FLOWYARD_NS

ET.register_namespace("bpmn", BPMN_NS)
ET.register_namespace("bpmndi", BPMNDI_NS)
ET.register_namespace("dc", DC_NS)
ET.register_namespace("di", DI_NS)
ET.register_namespace("flowyard", FLOWYARD_NS)

SIZES: dict[str, tuple[int, int]] = {
    "startEvent": (36, 36),
    "endEvent": (36, 36),
    "intermediateCatchEvent": (36, 36),
    "intermediateThrowEvent": (36, 36),
    "exclusiveGateway": (50, 50),
    "parallelGateway": (50, 50),
}
TASK_SIZE = (100, 80)
COLUMN_WIDTH = 160
ROW_HEIGHT = 120
BAND_GAP = 60
ORIGIN = (80, 80)
RESERVED = {"id", "kind", "name", "tag"}


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _layers(node_ids: list[str], edges: list[dict[str, Any]]) -> dict[str, int]:
    """Column of each node: its breadth-first distance from the nodes without incoming edges."""
    incoming: dict[str, int] = {n: 0 for n in node_ids}
    outgoing: dict[str, list[str]] = {n: [] for n in node_ids}
    for edge in edges:
        if edge["source"] in outgoing and edge["target"] in incoming:
            outgoing[edge["source"]].append(edge["target"])
            incoming[edge["target"]] += 1
    roots = [n for n in node_ids if incoming[n] == 0] or node_ids[:1]
    layer: dict[str, int] = {n: 0 for n in roots}
    queue = deque(roots)
    while queue:
        current = queue.popleft()
        for nxt in outgoing[current]:
            if nxt not in layer:
                layer[nxt] = layer[current] + 1
                queue.append(nxt)
    for n in node_ids:  # unreachable islands go after everything else
        layer.setdefault(n, max(layer.values(), default=-1) + 1)
    return layer


def build_bpmn(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    *,
    process_id: str = "Process_1",
    process_name: str = "",
    wrap: int = 8,
) -> str:
    """Build BPMN XML with DI from nodes [{id, kind, name, **flowyard attrs}] and edges
    [{id?, source, target, condition?, default?: bool, name?}]."""
    definitions = ET.Element(
        _q(BPMN_NS, "definitions"),
        {"id": "Definitions_1", "targetNamespace": "http://bpmn.io/schema/bpmn", "exporter": "Flowyard"},
    )
    process = ET.SubElement(definitions, _q(BPMN_NS, "process"), {"id": process_id, "isExecutable": "true"})
    if process_name:
        process.set("name", process_name)

    edge_list = [{**edge, "id": edge.get("id") or f"Flow_{i + 1}"} for i, edge in enumerate(edges)]
    elements: dict[str, ET.Element] = {}
    tags: dict[str, str] = {}
    for node in nodes:
        kind = node.get("kind", "")
        spec = kinds.get(kind)
        tag = node.get("tag") or (spec.element if spec else "serviceTask")
        definition = spec.event_definition if spec else None
        element = ET.SubElement(process, _q(BPMN_NS, tag), {"id": node["id"]})
        if node.get("name"):
            element.set("name", str(node["name"]))
        if kind:
            element.set(_q(FLOWYARD_NS, "kind"), kind)
        for attr, value in node.items():
            if attr in RESERVED or value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            element.set(_q(FLOWYARD_NS, attr), text)
        elements[node["id"]] = element
        tags[node["id"]] = tag
        if definition:
            node_definition = ET.SubElement(element, _q(BPMN_NS, definition), {"id": f"{node['id']}_def"})
            if definition == "timerEventDefinition" and kind == "start.cron" and node.get("cron"):
                ET.SubElement(node_definition, _q(BPMN_NS, "timeCycle")).text = str(node["cron"])
            elif definition == "timerEventDefinition" and kind == "wait" and node.get("waitSeconds"):
                ET.SubElement(node_definition, _q(BPMN_NS, "timeDuration")).text = f"PT{node['waitSeconds']}S"

    # incoming/outgoing must precede event definitions in the schema's sequence, so insert them first.
    for edge in reversed(edge_list):
        target = elements.get(edge["target"])
        if target is not None:
            incoming = ET.Element(_q(BPMN_NS, "incoming"))
            incoming.text = edge["id"]
            target.insert(0, incoming)
    for node_id, element in elements.items():
        outs = [e for e in edge_list if e["source"] == node_id]
        position = len(element.findall(_q(BPMN_NS, "incoming")))
        for offset, edge in enumerate(outs):
            outgoing = ET.Element(_q(BPMN_NS, "outgoing"))
            outgoing.text = edge["id"]
            element.insert(position + offset, outgoing)
        default = next((e for e in outs if e.get("default")), None)
        if default is not None:
            element.set("default", default["id"])

    for edge in edge_list:
        flow = ET.SubElement(
            process,
            _q(BPMN_NS, "sequenceFlow"),
            {"id": edge["id"], "sourceRef": edge["source"], "targetRef": edge["target"]},
        )
        if edge.get("name"):
            flow.set("name", str(edge["name"]))
        if edge.get("condition"):
            flow.set(_q(FLOWYARD_NS, "condition"), str(edge["condition"]))

    # Diagram interchange: without it bpmn-js cannot render the diagram.
    node_ids = [n["id"] for n in nodes]
    layer = _layers(node_ids, edge_list)
    rows_per_layer: dict[int, int] = {}
    slot: dict[str, int] = {}
    for node_id in node_ids:
        slot[node_id] = rows_per_layer.get(layer[node_id], 0)
        rows_per_layer[layer[node_id]] = slot[node_id] + 1
    band_rows = max(rows_per_layer.values(), default=1)
    band_height = band_rows * ROW_HEIGHT + BAND_GAP
    bounds: dict[str, tuple[int, int, int, int]] = {}
    for node_id in node_ids:
        width, height = SIZES.get(tags[node_id], TASK_SIZE)
        column, band = layer[node_id] % wrap, layer[node_id] // wrap
        center_x = ORIGIN[0] + column * COLUMN_WIDTH + TASK_SIZE[0] // 2
        center_y = ORIGIN[1] + band * band_height + slot[node_id] * ROW_HEIGHT + TASK_SIZE[1] // 2
        bounds[node_id] = (center_x - width // 2, center_y - height // 2, width, height)

    diagram = ET.SubElement(definitions, _q(BPMNDI_NS, "BPMNDiagram"), {"id": "BPMNDiagram_1"})
    plane = ET.SubElement(diagram, _q(BPMNDI_NS, "BPMNPlane"), {"id": "BPMNPlane_1", "bpmnElement": process_id})
    for node_id in node_ids:
        x, y, width, height = bounds[node_id]
        attrs = {"id": f"{node_id}_di", "bpmnElement": node_id}
        if tags[node_id] == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = ET.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), attrs)
        ET.SubElement(
            shape, _q(DC_NS, "Bounds"), {"x": str(x), "y": str(y), "width": str(width), "height": str(height)}
        )
    for edge in edge_list:
        if edge["source"] not in bounds or edge["target"] not in bounds:
            continue
        sx, sy, sw, sh = bounds[edge["source"]]
        tx, ty, _tw, th = bounds[edge["target"]]
        start = (sx + sw, sy + sh // 2)
        end = (tx, ty + th // 2)
        if end[0] > start[0]:
            mid_x = (start[0] + end[0]) // 2
            points = [start, (mid_x, start[1]), (mid_x, end[1]), end]
        else:  # wrapped to the next band (or a loop back): go down, across, then into the target
            below = (sy + sh + ty) // 2 if ty > sy + sh else sy + sh + BAND_GAP // 2
            points = [start, (start[0] + 20, start[1]), (start[0] + 20, below), (end[0] - 20, below), end]
            points.insert(4, (end[0] - 20, end[1]))
        flow_shape = ET.SubElement(
            plane, _q(BPMNDI_NS, "BPMNEdge"), {"id": f"{edge['id']}_di", "bpmnElement": edge["id"]}
        )
        for px, py in points:
            ET.SubElement(flow_shape, _q(DI_NS, "waypoint"), {"x": str(px), "y": str(py)})

    ET.indent(definitions, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(definitions, encoding="unicode") + "\n"
