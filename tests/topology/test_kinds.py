"""The kind registry is the one description of node kinds: the model, the parser and the API all agree with it."""

from __future__ import annotations

import json

from topology import kinds
from topology.models import Node
from topology.runtime.retry import RetryPolicy


def test_node_kind_choices_come_from_the_registry():
    assert Node.Kind.choices == kinds.choices()
    assert Node.Kind.START_WEBHOOK == "start.webhook"


def test_engine_placement_and_starts():
    assert kinds.START_KINDS == ("start.manual", "start.webhook", "start.cron", "start.event")
    # Kinds that call out (HTTP, Redis, user code) run in the pool; the rest on the connection thread.
    assert not kinds.INLINE_KINDS & {"connector", "python", "worker", "batch", "splitter", "join", "publish"}
    assert kinds.INLINE_KINDS.issubset(kinds.PASSTHROUGH_KINDS | {"transform"})


def test_retry_defaults_are_the_runtime_policy_and_retry_exceptions():
    for kind in kinds.KINDS.values():
        stored = kind.retry_defaults()
        if kind.retry is None:
            assert stored == {} and not any(f.name.startswith("retry") for f in kind.fields)
        else:
            assert stored == kinds.policy_dict(RetryPolicy())
            assert RetryPolicy.from_config(stored).retries("error")


def test_timeout_only_where_the_engine_reads_it():
    with_timeout = {k.name for k in kinds.KINDS.values() if any(f.name == "timeout" for f in k.fields)}
    assert with_timeout == {"connector", "worker", "batch"}  # runtime/http.py: call_connector, call_worker


def test_registry_payload_is_json_and_every_stored_field_parses():
    payload = json.loads(json.dumps(kinds.registry_payload([{"name": "x", "description": ""}])))
    assert [k["kind"] for k in payload["kinds"]] == list(kinds.KINDS)
    assert payload["python"] == [{"name": "x", "description": ""}]
    for kind in payload["kinds"]:
        assert kind["type"].startswith("bpmn:") and kind["type"] in kind["accepts"]
    assert set(kinds.FIELDS) >= {"install", "retryOn", "cron", "expression", "prefetch"}


def test_plain_bpmn_inference_is_the_registry_rule_the_editor_reads():
    def inferred(element_type: str, definitions: frozenset[str] | set[str] = frozenset(), incoming: int = 1) -> str:
        kind = kinds.infer(element_type, definitions, incoming)
        return kind.name if kind else ""

    assert inferred("startEvent", incoming=0) == "start.manual"
    assert inferred("startEvent", {"timerEventDefinition"}, 0) == "start.cron"
    assert inferred("startEvent", {"messageEventDefinition"}, 0) == "start.event"
    assert inferred("parallelGateway", incoming=1) == "fanout" and inferred("parallelGateway", incoming=2) == "join"
    assert inferred("intermediateCatchEvent", {"timerEventDefinition"}) == "wait"
    assert inferred("intermediateCatchEvent") == "" and inferred("serviceTask") == "" and inferred("task") == ""
    assert (inferred("scriptTask"), inferred("userTask"), inferred("exclusiveGateway"), inferred("endEvent")) == (
        "transform",
        "user",
        "router",
        "end",
    )
    # The editor gets the same rule as data: element types, event definition and incoming flows per kind.
    payload = {k["kind"]: k for k in kinds.registry_payload([])["kinds"]}
    assert payload["join"]["inferFrom"] == ["bpmn:ParallelGateway"] and payload["join"]["inferMinIncoming"] == 2
    assert payload["start.cron"]["eventDefinitionType"] == "bpmn:TimerEventDefinition"
    assert payload["connector"]["inferFrom"] == [] and payload["start.webhook"]["inferFrom"] == []
