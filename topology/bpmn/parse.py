"""BPMN 2.0 XML in, Flowyard graph out: safe parsing, kind inference and the report of unsupported elements.

The stored XML is never rewritten: this module only reads it. Flowyard data live in plain attributes of the
`flowyard` namespace on BPMN elements (see CONTRACT in the editor issue); everything Flowyard cannot run is
reported in `unsupported` and ignored at runtime.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from croniter import croniter
from defusedxml import DefusedXmlException
from django.conf import settings

from admin_ui.errors import ServiceError
from topology.models import Node

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
FLOWYARD_NS = "http://flowyard.io/schema/bpmn/1.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

KINDS: frozenset[str] = frozenset(Node.Kind.values)
START_KINDS: frozenset[str] = frozenset(k for k in KINDS if k.startswith("start."))
TASK_KINDS: frozenset[str] = frozenset({"connector", "python", "worker", "splitter", "batch", "transform", "user"})

# Which BPMN element types each kind may sit on; a mismatch is a validation error, not a parse error.
TASK_TYPES: frozenset[str] = frozenset(
    {"task", "serviceTask", "scriptTask", "userTask", "businessRuleTask", "manualTask"}
)
KIND_ELEMENTS: dict[str, frozenset[str]] = {
    **{kind: frozenset({"startEvent"}) for kind in START_KINDS},
    **{kind: TASK_TYPES for kind in TASK_KINDS},
    "wait": frozenset({"intermediateCatchEvent"}),
    "publish": frozenset({"intermediateThrowEvent"}),
    "router": frozenset({"exclusiveGateway"}),
    "fanout": frozenset({"parallelGateway"}),
    "join": frozenset({"parallelGateway"}),
    "end": frozenset({"endEvent"}),
}

# Flow node types Flowyard turns into nodes (possibly with a missing kind, which validation reports).
NODE_TYPES: frozenset[str] = TASK_TYPES | frozenset(
    {
        "startEvent",
        "endEvent",
        "exclusiveGateway",
        "parallelGateway",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
    }
)
# Containers and bookkeeping kept silently: lanes are just layout; associations only attach annotations.
SILENT_TYPES: frozenset[str] = frozenset(
    {"laneSet", "lane", "extensionElements", "documentation", "association", "dataObject", "ioSpecification"}
)

INT_ATTRS: frozenset[str] = frozenset({"install", "prefetch", "shards", "retryAttempts"})
FLOAT_ATTRS: frozenset[str] = frozenset({"waitSeconds", "retryInterval", "retryBackoff", "retryMaxDelay", "timeout"})
BOOL_ATTRS: frozenset[str] = frozenset({"ordered", "retryJitter"})
LIST_ATTRS: frozenset[str] = frozenset({"retryOn"})
RETRY_ON_VALUES: tuple[str, ...] = ("5xx", "429", "408", "timeout", "connection")

DEFAULT_PREFETCH = 10
# Defaults the runtime applies when a node sets no retry attributes (Step Functions style policy).
RETRY_DEFAULTS: dict[str, Any] = {
    "attempts": 3,
    "interval": 1.0,
    "backoff": 2.0,
    "max_delay": 60.0,
    "jitter": True,
    "retry_on": list(RETRY_ON_VALUES),
}
RETRY_ATTRS: dict[str, str] = {
    "retryAttempts": "attempts",
    "retryInterval": "interval",
    "retryBackoff": "backoff",
    "retryMaxDelay": "max_delay",
    "retryJitter": "jitter",
    "retryOn": "retry_on",
}

UNSUPPORTED_MESSAGES: dict[str, str] = {
    "subProcess": "Sub-processes are not supported; the sub-process and its content are ignored.",
    "adHocSubProcess": "Ad-hoc sub-processes are not supported and are ignored.",
    "transaction": "Transactions are not supported and are ignored.",
    "callActivity": "Call activities are not supported; use an event publish and an event start instead.",
    "sendTask": "Send tasks are not supported; use an event publish node or a connector.",
    "receiveTask": "Receive tasks are not supported; use an event start.",
    "boundaryEvent": "Boundary events are not supported; use the node's retry policy and the trash instead.",
    "dataObjectReference": "Data objects are not supported; messages carry their data.",
    "dataStoreReference": "Data stores are not supported and are ignored.",
    "dataStore": "Data stores are not supported and are ignored.",
    "dataInput": "Data inputs are not supported and are ignored.",
    "dataOutput": "Data outputs are not supported and are ignored.",
    "textAnnotation": "Text annotations are kept in the diagram but ignored at runtime.",
    "group": "Groups are kept in the diagram but ignored at runtime.",
    "messageFlow": "Message flows between pools are not supported and are ignored.",
    "inclusiveGateway": "Inclusive gateways are not supported; use an exclusive or a parallel gateway.",
    "complexGateway": "Complex gateways are not supported; use an exclusive or a parallel gateway.",
    "eventBasedGateway": "Event-based gateways are not supported; use an exclusive gateway.",
    "intermediateCatchEvent": "Only timer intermediate catch events (wait nodes) are supported.",
    "intermediateThrowEvent": "Intermediate throw events need the Flowyard kind 'publish'.",
    "process": "Only one process per topology is supported; this process is ignored.",
}


class BpmnError(ServiceError, ValueError):
    """The XML cannot be accepted at all (too big, malformed, DTD, not BPMN); nothing is stored."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(message, errors=[self.as_dict()])

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "line": self.line, "column": self.column}


@dataclass
class ParsedNode:
    """One BPMN flow node Flowyard runs; `kind` is "" when it could not be inferred."""

    key: str
    name: str
    kind: str
    element_type: str
    attrs: dict[str, str]
    config: dict[str, Any]
    config_errors: list[dict[str, str]] = field(default_factory=list)
    default_flow: str = ""
    timer_cycle: str = ""

    @property
    def install_id(self) -> int | None:
        value = self.config.get("install")
        return value if isinstance(value, int) else None

    @property
    def prefetch(self) -> int:
        value = self.config.get("prefetch", DEFAULT_PREFETCH)
        return value if isinstance(value, int) else DEFAULT_PREFETCH

    @property
    def ordered(self) -> bool:
        return self.config.get("ordered") is True

    @property
    def retry(self) -> dict[str, Any]:
        retry = dict(RETRY_DEFAULTS)
        for attr, key in RETRY_ATTRS.items():
            if attr in self.config and not isinstance(self.config[attr], str):
                retry[key] = self.config[attr]
        return retry


@dataclass
class ParsedEdge:
    """One sequence flow between two Flowyard nodes."""

    key: str
    source: str
    target: str
    condition: str = ""
    is_default: bool = False
    name: str = ""


@dataclass
class ParsedBpmn:
    """What Flowyard understood of a BPMN document."""

    process_id: str
    process_name: str
    nodes: list[ParsedNode]
    edges: list[ParsedEdge]
    unsupported: list[dict[str, str]]
    content_hash: str
    has_diagram: bool

    def node(self, key: str) -> ParsedNode | None:
        return next((n for n in self.nodes if n.key == key), None)


def content_hash(xml: str) -> str:
    """SHA-256 of the exact XML text: same text, same hash, no new version."""
    return hashlib.sha256(xml.encode("utf-8")).hexdigest()


def max_bytes() -> int:
    return int(getattr(settings, "FLOWYARD_MAX_BPMN_BYTES", 5 * 1024 * 1024))


def _local(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):  # comments and processing instructions
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def load_xml(xml: str | bytes) -> Element:
    """Parse untrusted XML: size-capped, no DTD of any kind, no entities; errors carry line and column."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(data) > max_bytes():
        raise BpmnError(f"The BPMN file is larger than {max_bytes() // (1024 * 1024)} MB.")
    if not data.strip():
        raise BpmnError("The BPMN file is empty.")
    # defusedxml's forbid_dtd also covers internal subsets; this check just gives the clearer message first.
    if b"<!DOCTYPE" in data[:4096].upper():
        raise BpmnError("DOCTYPE declarations are not allowed in BPMN files.")
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BpmnError(f"Forbidden XML construct: {exc.__class__.__name__}.") from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise BpmnError(f"Malformed XML at line {line}, column {column}: {exc}", line=line, column=column) from exc
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnError("Not a BPMN 2.0 document: the root element must be bpmn:definitions.")
    return root


def _typed(attr: str, raw: str) -> tuple[Any, str | None]:
    """Convert one Flowyard attribute to its typed value, or keep the raw text and return an error message."""
    value = raw.strip()
    if attr in INT_ATTRS:
        try:
            return int(value), None
        except ValueError:
            return raw, "must be a whole number"
    if attr in FLOAT_ATTRS:
        try:
            number = float(value)
        except ValueError:
            return raw, "must be a number"
        if number != number or number in (float("inf"), float("-inf")):
            return raw, "must be a finite number"
        return (int(number) if number.is_integer() else number), None
    if attr in BOOL_ATTRS:
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true", None
        return raw, 'must be "true" or "false"'
    if attr in LIST_ATTRS:
        return [part.strip() for part in value.split(",") if part.strip()], None
    return raw, None


def _text(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _child(element: Element, local: str) -> Element | None:
    return element.find(f"{{{BPMN_NS}}}{local}")


def _infer_kind(element_type: str, element: Element, incoming: int) -> tuple[str, str]:
    """The kind of an element that carries no flowyard:kind (BPMN from another tool), and its timer cycle."""
    if element_type == "startEvent":
        timer = _child(element, "timerEventDefinition")
        if timer is not None:
            cycle = _text(_child(timer, "timeCycle"))
            if cycle and croniter.is_valid(cycle):
                return "start.cron", cycle
            return "start.manual", ""
        if _child(element, "messageEventDefinition") is not None:
            return "start.event", ""
        return "start.manual", ""
    if element_type == "endEvent":
        return "end", ""
    if element_type == "exclusiveGateway":
        return "router", ""
    if element_type == "parallelGateway":
        return ("fanout" if incoming <= 1 else "join"), ""
    if element_type == "scriptTask":
        return "transform", ""
    if element_type == "userTask":
        return "user", ""
    if element_type == "intermediateCatchEvent" and _child(element, "timerEventDefinition") is not None:
        return "wait", ""
    return "", ""


def _unsupported(element: Element, element_type: str, message: str | None = None) -> dict[str, str]:
    return {
        "element_id": element.get("id", ""),
        "type": f"bpmn:{element_type[:1].upper()}{element_type[1:]}",
        "name": element.get("name", ""),
        "message": message or UNSUPPORTED_MESSAGES.get(element_type, f"bpmn:{element_type} is not supported."),
    }


def _pick_process(root: Element) -> tuple[Element | None, list[Element]]:
    """The process Flowyard runs (the first one with flow elements, preferring a participant's) and the rest."""
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        return None, []

    def has_content(process: Element) -> bool:
        return any(_local(child.tag)[1] in NODE_TYPES for child in process)

    participant_refs = [p.get("processRef") for p in root.iter(f"{{{BPMN_NS}}}participant")]
    ordered = [p for ref in participant_refs for p in processes if p.get("id") == ref]
    ordered += [p for p in processes if p not in ordered]
    chosen = next((p for p in ordered if has_content(p)), ordered[0])
    return chosen, [p for p in processes if p is not chosen]


def parse_bpmn(xml: str | bytes) -> ParsedBpmn:
    """Parse BPMN XML into Flowyard nodes and edges plus the list of elements Flowyard ignores."""
    root = load_xml(xml)
    text = xml if isinstance(xml, str) else xml.decode("utf-8", errors="replace")
    process, others = _pick_process(root)
    unsupported: list[dict[str, str]] = [_unsupported(p, "process") for p in others if len(p)]
    for collaboration in root.findall(f"{{{BPMN_NS}}}collaboration"):
        for child in collaboration:
            ns, local = _local(child.tag)
            if ns == BPMN_NS and local in ("messageFlow", "textAnnotation", "group"):
                unsupported.append(_unsupported(child, local))
    has_diagram = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None
    if process is None:
        return ParsedBpmn("", "", [], [], unsupported, content_hash(text), has_diagram)

    flows: list[Element] = []
    candidates: list[tuple[Element, str]] = []
    for child in process:
        ns, local = _local(child.tag)
        if ns != BPMN_NS or local in SILENT_TYPES:
            continue
        if local == "sequenceFlow":
            flows.append(child)
        elif local in NODE_TYPES:
            candidates.append((child, local))
        else:
            unsupported.append(_unsupported(child, local))

    incoming_count: dict[str, int] = {}
    for flow in flows:
        target = flow.get("targetRef", "")
        incoming_count[target] = incoming_count.get(target, 0) + 1

    nodes: list[ParsedNode] = []
    for element, element_type in candidates:
        key = element.get("id", "")
        attrs = {_local(name)[1]: value for name, value in element.attrib.items() if _local(name)[0] == FLOWYARD_NS}
        kind = attrs.pop("kind", "").strip()
        timer_cycle = ""
        if not kind:
            kind, timer_cycle = _infer_kind(element_type, element, incoming_count.get(key, 0))
            if not kind and element_type in ("intermediateCatchEvent", "intermediateThrowEvent"):
                unsupported.append(_unsupported(element, element_type))
                continue
        config: dict[str, Any] = {}
        config_errors: list[dict[str, str]] = []
        for attr, raw in attrs.items():
            if attr == "condition":
                continue
            value, error = _typed(attr, raw)
            config[attr] = value
            if error:
                config_errors.append({"element_id": key, "field": attr, "message": f"{attr} {error}."})
        if timer_cycle and "cron" not in config:
            config["cron"] = timer_cycle
        nodes.append(
            ParsedNode(
                key=key,
                name=(element.get("name") or "").strip(),
                kind=kind,
                element_type=element_type,
                attrs=attrs,
                config=config,
                config_errors=config_errors,
                default_flow=element.get("default", ""),
                timer_cycle=timer_cycle,
            )
        )

    by_key = {n.key: n for n in nodes}
    edges: list[ParsedEdge] = []
    for flow in flows:
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        if source not in by_key or target not in by_key:
            continue  # one end is an ignored element, already reported
        condition = flow.get(f"{{{FLOWYARD_NS}}}condition")
        if condition is None:
            condition = _text(_child(flow, "conditionExpression"))
        edges.append(
            ParsedEdge(
                key=flow.get("id", ""),
                source=source,
                target=target,
                condition=condition.strip(),
                is_default=bool(flow.get("id")) and by_key[source].default_flow == flow.get("id"),
                name=(flow.get("name") or "").strip(),
            )
        )
    return ParsedBpmn(
        process_id=process.get("id", ""),
        process_name=(process.get("name") or "").strip(),
        nodes=nodes,
        edges=edges,
        unsupported=unsupported,
        content_hash=content_hash(text),
        has_diagram=has_diagram,
    )
