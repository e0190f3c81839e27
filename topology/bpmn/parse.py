"""BPMN 2.0 XML in, Flowyard graph out: safe parsing, kind inference and the report of unsupported elements.

The stored XML is never rewritten: this module only reads it. Flowyard data live in plain attributes of the
`flowyard` namespace on BPMN elements; what each attribute means comes from the kind registry
(`topology/kinds.py`). Everything Flowyard cannot run is reported in `unsupported` and ignored at runtime.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
from croniter import croniter
from defusedxml import DefusedXmlException
from django.conf import settings

from admin_ui.errors import ServiceError
from topology import kinds

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
FLOWYARD_NS = "http://flowyard.io/schema/bpmn/1.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OMG_NS_PREFIX = "http://www.omg.org/spec/"

RETRY_DEFAULTS = kinds.RETRY_DEFAULTS
DEFAULT_PREFETCH = 10

# Flow node types Flowyard turns into nodes (possibly with a missing kind, which validation reports).
NODE_TYPES: frozenset[str] = frozenset(t for kind in kinds.KINDS.values() for t in kind.accepts)
# Containers and bookkeeping kept silently: lanes are just layout; associations only attach annotations.
SILENT_TYPES: frozenset[str] = frozenset(
    {"laneSet", "lane", "extensionElements", "documentation", "association", "dataObject", "ioSpecification"}
)
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
    "process": "Flowyard runs one process per topology and not this one; pick it at import to run it instead.",
}

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']""")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


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
        """The kind's retry defaults overlaid with the node's retry attributes ({} for kinds that never retry)."""
        kind = kinds.get(self.kind)
        retry = kind.retry_defaults() if kind else {}
        if not retry:
            return retry
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
    """What Flowyard understood of a BPMN document; `processes` lists every process with its runnable nodes."""

    process_id: str
    process_name: str
    nodes: list[ParsedNode]
    edges: list[ParsedEdge]
    unsupported: list[dict[str, str]]
    content_hash: str
    has_diagram: bool
    processes: list[dict[str, Any]] = field(default_factory=list)

    def node(self, key: str) -> ParsedNode | None:
        return next((n for n in self.nodes if n.key == key), None)


def content_hash(xml: str) -> str:
    """SHA-256 of the exact XML text: same text, same hash, no new version."""
    return hashlib.sha256(xml.encode("utf-8")).hexdigest()


def max_bytes() -> int:
    return int(getattr(settings, "FLOWYARD_MAX_BPMN_BYTES", 5 * 1024 * 1024))


def max_nodes() -> int:
    return int(getattr(settings, "FLOWYARD_MAX_NODES", 2000))


def _local(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):  # comments and processing instructions
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _duplicate_ids(data: bytes | str) -> None:
    """Refuse two BPMN elements with one id, naming both places (a second expat pass: ElementTree keeps no lines).

    Only the OMG namespaces (BPMN, DI) count: extension elements of other tools use `id` for their own ends.
    """
    seen: dict[str, tuple[int, int]] = {}
    parser = expat.ParserCreate(namespace_separator=" ")

    def start(name: str, attrs: dict[str, str]) -> None:
        element_id = attrs.get("id")
        if element_id is None or not name.startswith(OMG_NS_PREFIX):
            return
        here = (parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        first = seen.setdefault(element_id, here)
        if first != here:
            raise BpmnError(
                f"Duplicate element id {element_id!r} at line {first[0]}, column {first[1]} "
                f"and line {here[0]}, column {here[1]}.",
                line=here[0],
                column=here[1],
            )

    parser.StartElementHandler = start
    parser.Parse(data, True)


def _has_duplicate_ids(root: Element) -> bool:
    """Whether two BPMN or DI elements share an id: a walk of the parsed tree, so the slower second pass that
    finds their lines runs only for a document it will refuse."""
    seen: set[str] = set()
    for element in root.iter():
        element_id = element.get("id")
        if element_id is None or not isinstance(element.tag, str) or not element.tag.startswith("{" + OMG_NS_PREFIX):
            continue
        if element_id in seen:
            return True
        seen.add(element_id)
    return False


def load_xml(xml: str | bytes) -> Element:
    """Parse untrusted XML: size-capped, no DTD of any kind, no entities, unique ids; errors carry line and column.

    Bytes go to the parser as they are, so it decodes them as their XML declaration says; text is taken as is.
    """
    size = len(xml.encode("utf-8")) if isinstance(xml, str) else len(xml)
    if size > max_bytes():
        raise BpmnError(f"The BPMN file is larger than {max_bytes() // (1024 * 1024)} MB.")
    if not xml.strip():
        raise BpmnError("The BPMN file is empty.")
    # defusedxml's forbid_dtd also covers internal subsets; this check just gives the clearer message first.
    head = xml[:4096]
    if (b"<!DOCTYPE" in head.upper()) if isinstance(head, bytes) else ("<!DOCTYPE" in head.upper()):
        raise BpmnError("DOCTYPE declarations are not allowed in BPMN files.")
    try:
        root: Element = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BpmnError(f"Forbidden XML construct: {exc.__class__.__name__}.") from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise BpmnError(f"Malformed XML at line {line}, column {column}: {exc}", line=line, column=column) from exc
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BpmnError("Not a BPMN 2.0 document: the root element must be bpmn:definitions.")
    if _has_duplicate_ids(root):
        _duplicate_ids(xml)  # safe: the first pass refused DTDs and entities
    return root


def decode_xml(data: bytes) -> str:
    """The text of an uploaded BPMN file, decoded as it declares (BOM, XML declaration, else UTF-8).

    The parser sees the bytes first, so a byte invalid in the declared encoding is refused with its line and
    column instead of being replaced silently.
    """
    load_xml(data)
    return _decode(data)


def _decode(data: bytes) -> str:
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "")
    if not encoding:
        match = _DECLARED_ENCODING.match(data)
        encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return data.decode(encoding).lstrip("\ufeff")
    except LookupError as exc:
        raise BpmnError(f"Unknown encoding {encoding!r} in the XML declaration.") from exc
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise BpmnError(
            f"The file is not valid {encoding} at line {line}, column {column}.", line=line, column=column
        ) from exc


def encode_xml(xml: str) -> tuple[bytes, str]:
    """Stored text back to bytes in the encoding its declaration names (what an export must send), and that name."""
    match = _DECLARED_ENCODING.match(xml[:200].encode("utf-8", errors="replace"))
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        # Characters the declared encoding lacks (added in the editor) become character references.
        return xml.encode(encoding, errors="xmlcharrefreplace"), encoding
    except LookupError:
        return xml.encode("utf-8"), "utf-8"


def _typed(attr: str, raw: str) -> tuple[Any, str | None]:
    """Convert one Flowyard attribute to its typed value, or keep the raw text and return an error message."""
    spec = kinds.FIELDS.get(attr)
    parse_as = kinds.PARSE_AS.get(spec.type, "") if spec else ""
    value = raw.strip()
    if parse_as == "int":
        try:
            return int(value), None
        except ValueError:
            return raw, "must be a whole number"
    if parse_as == "float":
        try:
            number = float(value)
        except ValueError:
            return raw, "must be a number"
        if number != number or number in (float("inf"), float("-inf")):
            return raw, "must be a finite number"
        return (int(number) if number.is_integer() else number), None
    if parse_as == "bool":
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true", None
        return raw, 'must be "true" or "false"'
    if parse_as == "list":
        return [part.strip() for part in value.split(",") if part.strip()], None
    return raw, None


def _text(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _child(element: Element, local: str) -> Element | None:
    return element.find(f"{{{BPMN_NS}}}{local}")


def _infer_kind(element_type: str, element: Element, incoming: int) -> tuple[str, str]:
    """The kind of an element that carries no flowyard:kind (BPMN from another tool), and its timer cycle."""
    definitions = {local for ns, local in (_local(child.tag) for child in element) if ns == BPMN_NS}
    kind = kinds.infer(element_type, definitions, incoming)
    if kind is None:
        return "", ""
    if kind.name != "start.cron":
        return kind.name, ""
    # A timer start runs on a schedule only when its cycle is a cron expression; any other timer starts by hand.
    timer = _child(element, "timerEventDefinition")
    cycle = _text(_child(timer, "timeCycle")) if timer is not None else ""
    if cycle and croniter.is_valid(cycle):
        return kind.name, cycle
    manual = kinds.infer(element_type, set(), incoming)
    return (manual.name if manual else ""), ""


def _unsupported(element: Element, element_type: str, message: str | None = None) -> dict[str, str]:
    return {
        "element_id": element.get("id", ""),
        "type": f"bpmn:{element_type[:1].upper()}{element_type[1:]}",
        "name": element.get("name", ""),
        "message": message or UNSUPPORTED_MESSAGES.get(element_type, f"bpmn:{element_type} is not supported."),
    }


def _runnable(process: Element) -> int:
    return sum(1 for child in process if _local(child.tag)[0] == BPMN_NS and _local(child.tag)[1] in NODE_TYPES)


def _pick_process(root: Element, process_id: str) -> tuple[Element | None, list[Element]]:
    """The process Flowyard runs and the others: the one asked for, else the one with most runnable nodes
    (ties: a pool's process first, then document order)."""
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        return None, []
    chosen = next((p for p in processes if process_id and p.get("id") == process_id), None)
    if chosen is None:
        pooled = {p.get("processRef") for p in root.iter(f"{{{BPMN_NS}}}participant")}
        order = {id(p): i for i, p in enumerate(processes)}
        chosen = min(processes, key=lambda p: (-_runnable(p), p.get("id") not in pooled, order[id(p)]))
    return chosen, [p for p in processes if p is not chosen]


def _collect(process: Element) -> tuple[list[Element], list[tuple[Element, str]], list[dict[str, str]]]:
    """Split a process's children into sequence flows, node candidates and unsupported elements."""
    flows: list[Element] = []
    candidates: list[tuple[Element, str]] = []
    unsupported: list[dict[str, str]] = []
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
    return flows, candidates, unsupported


def _parse_node(element: Element, element_type: str, incoming: int) -> ParsedNode | None:
    """One flow node with its typed config; None for an intermediate event Flowyard cannot run."""
    key = element.get("id", "")
    attrs = {_local(name)[1]: value for name, value in element.attrib.items() if _local(name)[0] == FLOWYARD_NS}
    kind = attrs.pop("kind", "").strip()
    timer_cycle = ""
    if not kind:
        kind, timer_cycle = _infer_kind(element_type, element, incoming)
        if not kind and element_type in ("intermediateCatchEvent", "intermediateThrowEvent"):
            return None
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
    return ParsedNode(
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


def _parse_edges(flows: list[Element], nodes: list[ParsedNode]) -> list[ParsedEdge]:
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
    return edges


def parse_bpmn(xml: str | bytes, *, process_id: str = "") -> ParsedBpmn:
    """Parse BPMN XML into Flowyard nodes and edges of one process (`process_id`, else the one with most
    runnable nodes) plus the list of elements Flowyard ignores."""
    root = load_xml(xml)
    text = xml if isinstance(xml, str) else _decode(xml)
    process, others = _pick_process(root, process_id)
    unsupported: list[dict[str, str]] = [_unsupported(p, "process") for p in others if len(p)]
    for collaboration in root.findall(f"{{{BPMN_NS}}}collaboration"):
        for child in collaboration:
            ns, local = _local(child.tag)
            if ns == BPMN_NS and local in ("messageFlow", "textAnnotation", "group"):
                unsupported.append(_unsupported(child, local))
    has_diagram = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None
    processes = [
        {"id": p.get("id", ""), "name": (p.get("name") or "").strip(), "nodes": _runnable(p)}
        for p in root.findall(f"{{{BPMN_NS}}}process")
    ]
    if process is None:
        return ParsedBpmn("", "", [], [], unsupported, content_hash(text), has_diagram, processes)

    flows, candidates, ignored = _collect(process)
    unsupported.extend(ignored)
    if len(candidates) > max_nodes():
        raise BpmnError(
            f"The process has {len(candidates)} nodes; a topology may have at most {max_nodes()} "
            "(FLOWYARD_MAX_NODES). Split it into topologies linked by events."
        )
    incoming_count: dict[str, int] = {}
    for flow in flows:
        target = flow.get("targetRef", "")
        incoming_count[target] = incoming_count.get(target, 0) + 1
    nodes: list[ParsedNode] = []
    for element, element_type in candidates:
        node = _parse_node(element, element_type, incoming_count.get(element.get("id", ""), 0))
        if node is None:
            unsupported.append(_unsupported(element, element_type))
        else:
            nodes.append(node)
    return ParsedBpmn(
        process_id=process.get("id", ""),
        process_name=(process.get("name") or "").strip(),
        nodes=nodes,
        edges=_parse_edges(flows, nodes),
        unsupported=unsupported,
        content_hash=content_hash(text),
        has_diagram=has_diagram,
        processes=processes,
    )
