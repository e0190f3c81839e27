"""BPMN parsing: kinds and typed config, inference for foreign BPMN, unsupported report, hostile XML."""

from __future__ import annotations

import pytest

from tests.topology.factories import FIXTURES, chain, fixture_files, linear_nodes
from topology import kinds
from topology.bpmn.build import build_bpmn
from topology.bpmn.parse import RETRY_DEFAULTS, BpmnError, decode_xml, encode_xml, parse_bpmn
from topology.runtime.retry import RetryPolicy

BPMN_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:flowyard="http://flowyard.io/schema/bpmn/1.0" id="D" targetNamespace="t">'
)


def wrap(body: str) -> str:
    return f'{BPMN_HEAD}<bpmn:process id="P">{body}</bpmn:process></bpmn:definitions>'


def test_typed_config_and_node_fields():
    nodes = linear_nodes(
        {
            "id": "W",
            "kind": "worker",
            "name": "Call",
            "url": "http://w:8080",
            "prefetch": "25",
            "ordered": "true",
            "timeout": "2.5",
            "retryAttempts": "5",
            "retryJitter": "false",
            "retryOn": "5xx, timeout",
        }
    )
    parsed = parse_bpmn(build_bpmn(nodes, chain(nodes)))
    worker = parsed.node("W")
    assert worker is not None
    assert worker.config == {
        "url": "http://w:8080",
        "prefetch": 25,
        "ordered": True,
        "timeout": 2.5,
        "retryAttempts": 5,
        "retryJitter": False,
        "retryOn": ["5xx", "timeout"],
    }
    assert worker.prefetch == 25 and worker.ordered is True
    assert worker.retry == {**RETRY_DEFAULTS, "attempts": 5, "jitter": False, "retry_on": ["5xx", "timeout"]}
    assert [(e.source, e.target) for e in parsed.edges] == [("Start", "W"), ("W", "End")]
    assert parsed.unsupported == []


def test_bad_typed_values_become_config_errors():
    parsed = parse_bpmn(wrap('<bpmn:serviceTask id="T" flowyard:kind="worker" flowyard:prefetch="many"/>'))
    node = parsed.node("T")
    assert node is not None
    assert node.config["prefetch"] == "many"
    assert node.config_errors == [
        {"element_id": "T", "field": "prefetch", "message": "prefetch must be a whole number."}
    ]


def test_router_conditions_and_default_flow():
    nodes = [
        {"id": "S", "kind": "start.manual"},
        {"id": "G", "kind": "router"},
        {"id": "A", "kind": "end"},
        {"id": "B", "kind": "end"},
    ]
    edges = [
        {"id": "f1", "source": "S", "target": "G"},
        {"id": "f2", "source": "G", "target": "A", "condition": "total > `100`"},
        {"id": "f3", "source": "G", "target": "B", "default": True},
    ]
    parsed = parse_bpmn(build_bpmn(nodes, edges))
    by_key = {e.key: e for e in parsed.edges}
    assert by_key["f2"].condition == "total > `100`" and not by_key["f2"].is_default
    assert by_key["f3"].is_default and by_key["f3"].condition == ""


def test_kind_inference_for_foreign_bpmn():
    parsed = parse_bpmn(
        wrap(
            '<bpmn:startEvent id="s1"/>'
            '<bpmn:startEvent id="s2"><bpmn:timerEventDefinition><bpmn:timeCycle>0 * * * *</bpmn:timeCycle>'
            "</bpmn:timerEventDefinition></bpmn:startEvent>"
            '<bpmn:startEvent id="s3"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle>'
            "</bpmn:timerEventDefinition></bpmn:startEvent>"
            '<bpmn:startEvent id="s4"><bpmn:messageEventDefinition/></bpmn:startEvent>'
            '<bpmn:exclusiveGateway id="g"/>'
            '<bpmn:parallelGateway id="p1"/><bpmn:parallelGateway id="p2"/>'
            '<bpmn:scriptTask id="sc"/><bpmn:userTask id="u"/><bpmn:serviceTask id="st"/><bpmn:task id="t"/>'
            '<bpmn:intermediateCatchEvent id="w"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>'
            '<bpmn:endEvent id="e"/>'
            '<bpmn:sequenceFlow id="a" sourceRef="s1" targetRef="p2"/>'
            '<bpmn:sequenceFlow id="b" sourceRef="s2" targetRef="p2"/>'
            '<bpmn:sequenceFlow id="c" sourceRef="g" targetRef="e">'
            "<bpmn:conditionExpression>status == 'ok'</bpmn:conditionExpression></bpmn:sequenceFlow>"
        )
    )
    kinds = {n.key: n.kind for n in parsed.nodes}
    assert kinds == {
        "s1": "start.manual",
        "s2": "start.cron",
        "s3": "start.manual",  # an ISO repeat is not a cron: not guessed
        "s4": "start.event",
        "g": "router",
        "p1": "fanout",
        "p2": "join",
        "sc": "transform",
        "u": "user",
        "st": "",
        "t": "",
        "w": "wait",
        "e": "end",
    }
    assert parsed.node("s2").config["cron"] == "0 * * * *"
    assert parsed.edges[2].condition == "status == 'ok'"


def test_unsupported_elements_are_reported_and_lanes_kept_silently():
    parsed = parse_bpmn(
        wrap(
            '<bpmn:laneSet id="ls"><bpmn:lane id="lane1" name="Ops"/></bpmn:laneSet>'
            '<bpmn:startEvent id="s"/><bpmn:subProcess id="sub" name="Inner"><bpmn:task id="inner"/></bpmn:subProcess>'
            '<bpmn:boundaryEvent id="be" attachedToRef="sub"/><bpmn:dataObjectReference id="dor" name="Doc"/>'
            '<bpmn:textAnnotation id="ta"/><bpmn:inclusiveGateway id="ig"/><bpmn:sendTask id="snd"/>'
            '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="sub"/>'
        )
    )
    reported = {u["element_id"]: u["type"] for u in parsed.unsupported}
    assert reported == {
        "sub": "bpmn:SubProcess",
        "be": "bpmn:BoundaryEvent",
        "dor": "bpmn:DataObjectReference",
        "ta": "bpmn:TextAnnotation",
        "ig": "bpmn:InclusiveGateway",
        "snd": "bpmn:SendTask",
    }
    assert [n.key for n in parsed.nodes] == ["s"]  # nothing inside the sub-process becomes a node
    assert parsed.edges == []  # the flow into an ignored element is dropped
    assert next(u for u in parsed.unsupported if u["element_id"] == "sub")["name"] == "Inner"


def test_second_process_is_reported():
    xml = (
        f'{BPMN_HEAD}<bpmn:process id="P1"><bpmn:startEvent id="a"/></bpmn:process>'
        '<bpmn:process id="P2"><bpmn:startEvent id="b"/></bpmn:process></bpmn:definitions>'
    )
    parsed = parse_bpmn(xml)
    assert parsed.process_id == "P1"
    assert parsed.unsupported == [
        {
            "element_id": "P2",
            "type": "bpmn:Process",
            "name": "",
            "message": "Flowyard runs one process per topology and not this one; pick it at import to run it instead.",
        }
    ]


# --- hostile and broken XML: refused with BpmnError, never expanded or fetched ---

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P" name="&lol3;"/>
</bpmn:definitions>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P" name="&xxe;"/>
</bpmn:definitions>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P"/></bpmn:definitions>"""
# The DOCTYPE hidden after a long comment: the quick pre-check misses it, defusedxml's forbid_dtd must not.
LATE_DOCTYPE = "<?xml version='1.0'?><!--" + "x" * 5000 + "--><!DOCTYPE d []><d/>"


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, LATE_DOCTYPE])
def test_doctype_and_entities_are_refused(xml):
    with pytest.raises(BpmnError) as info:
        parse_bpmn(xml)
    assert "DOCTYPE" in info.value.message or "Forbidden" in info.value.message


def test_malformed_xml_reports_line_and_column():
    with pytest.raises(BpmnError) as info:
        parse_bpmn(BPMN_HEAD + "\n<bpmn:process id='P'>\n  <bpmn:task id='t'>\n</bpmn:process></bpmn:definitions>")
    assert info.value.line == 4
    assert info.value.column is not None
    assert "line 4" in info.value.message


def test_not_bpmn_and_empty_are_refused():
    with pytest.raises(BpmnError, match="bpmn:definitions"):
        parse_bpmn("<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(BpmnError, match="empty"):
        parse_bpmn("   ")


def test_oversized_xml_is_refused(settings):
    settings.FLOWYARD_MAX_BPMN_BYTES = 1000
    with pytest.raises(BpmnError, match="larger than"):
        parse_bpmn(wrap("<!--" + "x" * 2000 + "-->"))


def test_builder_output_round_trips_with_diagram_for_big_graphs():
    nodes = [{"id": "S", "kind": "start.manual", "name": "S"}]
    nodes += [{"id": f"N{i}", "kind": "python", "name": f"N{i}", "registry": "flowyard.noop"} for i in range(200)]
    nodes.append({"id": "E", "kind": "end", "name": "E"})
    xml = build_bpmn(nodes, chain(nodes))
    parsed = parse_bpmn(xml)
    assert len(parsed.nodes) == 202 and len(parsed.edges) == 201
    assert parsed.has_diagram
    assert xml.count("<bpmndi:BPMNShape") == 202 and xml.count("<bpmndi:BPMNEdge") == 201
    # wrapping keeps the diagram compact: 202 nodes in rows of 8 columns
    xs = {int(x) for x in __import__("re").findall(r'<dc:Bounds x="(\d+)"', xml)}
    assert max(xs) < 80 + 8 * 160


# --- kinds from the registry ---


def test_builder_and_parser_agree_with_the_registry_for_every_kind():
    nodes = [{"id": f"N{i}", "kind": kind, "name": kind} for i, kind in enumerate(kinds.KINDS)]
    parsed = parse_bpmn(build_bpmn(nodes, []))
    for node in parsed.nodes:
        spec = kinds.KINDS[node.kind]
        assert node.element_type in spec.accepts and node.element_type == spec.element
        assert node.retry == spec.retry_defaults()


def test_python_node_without_retry_attributes_retries_exceptions():
    """The regression: stored defaults lacked "error", so a Python node never retried an exception."""
    nodes = linear_nodes({"id": "P", "kind": "python", "name": "P", "registry": "flowyard.noop"})
    node = parse_bpmn(build_bpmn(nodes, chain(nodes))).node("P")
    assert node is not None
    assert RetryPolicy.from_config(node.retry).retries("error")
    assert node.retry == RETRY_DEFAULTS == kinds.policy_dict(RetryPolicy())


# --- import fidelity: encodings, duplicate ids, several processes, size ---


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_every_fixture_parses_from_its_bytes(path):
    parsed = parse_bpmn(path.read_bytes())
    assert parsed.process_id
    assert parsed.has_diagram == (path.name != "no-diagram.bpmn")


def test_latin1_bytes_are_decoded_as_declared_and_export_as_they_came():
    data = (FIXTURES / "latin1.bpmn").read_bytes()
    text = decode_xml(data)
    assert "Tâche élémentaire" in text and "\ufffd" not in text
    parsed = parse_bpmn(text)
    assert parsed.process_name == "Commandes reçues"
    assert parsed.node("Tache").name == "Tâche élémentaire"  # type: ignore[union-attr]
    assert parse_bpmn(data).node("Tache").name == "Tâche élémentaire"  # type: ignore[union-attr]
    assert encode_xml(text) == (data, "ISO-8859-1")
    # A character Latin-1 lacks (added later in the editor) becomes a character reference, still valid XML.
    exported, _ = encode_xml(text.replace("Terminé", "Terminé €"))
    assert parse_bpmn(exported).node("Fin").name == "Terminé €"  # type: ignore[union-attr]


def test_undecodable_bytes_are_refused_with_line_and_column():
    data = wrap('\n<bpmn:task id="T" name="caf\xe9"/>').encode("latin-1")  # declared UTF-8, byte é invalid
    with pytest.raises(BpmnError) as info:
        decode_xml(data)
    assert info.value.line == 2 and info.value.column is not None
    assert "line 2" in info.value.message


def test_duplicate_ids_are_refused_with_both_locations():
    xml = wrap('\n<bpmn:task id="Twice"/>\n<bpmn:task id="Once"/>\n  <bpmn:userTask id="Twice"/>')
    with pytest.raises(BpmnError) as info:
        parse_bpmn(xml)
    assert "'Twice'" in info.value.message
    assert "line 2, column 1" in info.value.message and "line 4, column 3" in info.value.message
    assert (info.value.line, info.value.column) == (4, 3)


def test_the_process_with_most_runnable_nodes_runs_unless_one_is_picked():
    data = (FIXTURES / "multiple-diagrams.bpmn").read_bytes()
    parsed = parse_bpmn(data)
    assert parsed.process_id == "Big" and [n.key for n in parsed.nodes][:2] == ["Big_Start", "Big_One"]
    assert parsed.processes == [{"id": "Small", "name": "Small", "nodes": 2}, {"id": "Big", "name": "Big", "nodes": 4}]
    assert [u["element_id"] for u in parsed.unsupported] == ["Small"]
    picked = parse_bpmn(data, process_id="Small")
    assert picked.process_id == "Small" and {n.key for n in picked.nodes} == {"Small_Start", "Small_End"}


def test_too_many_nodes_is_a_clear_error(settings):
    settings.FLOWYARD_MAX_NODES = 3
    nodes = linear_nodes({"id": "A", "kind": "python", "name": "A"}, {"id": "B", "kind": "python", "name": "B"})
    with pytest.raises(BpmnError, match=r"4 nodes; a topology may have at most 3 \(FLOWYARD_MAX_NODES\)"):
        parse_bpmn(build_bpmn(nodes, chain(nodes)))
