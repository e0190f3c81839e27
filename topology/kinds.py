"""Flowyard node kinds, defined once: BPMN element, config fields, retry defaults, engine placement, editor look.

Everything that needs to know about kinds reads this module: the `Node.kind` choices, BPMN import and build,
validation, the engine (inline or pool, pass-through), the runtime spec (starts) and the editor, which gets it
as JSON from the node-registry API (`registry_payload`). Pure Python: no ORM, no Django import.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from topology.runtime.retry import RETRYABLE_KINDS, RetryPolicy

FieldType = Literal[
    "text", "textarea", "number", "integer", "checkbox", "select", "list", "install", "registry", "url", "webhook"
]
Check = Literal["", "jmespath", "cron", "http_url"]

# How a stored attribute string is typed when the BPMN is parsed (see `topology.bpmn.parse`).
PARSE_AS: dict[str, str] = {
    "integer": "int",
    "install": "int",
    "number": "float",
    "checkbox": "bool",
    "list": "list",
}
# Retry cases a node may list in `retryOn`: the failure kinds the engine classifies, or "all".
RETRY_ON_VALUES: tuple[str, ...] = (*RETRYABLE_KINDS, "all")


@dataclass(frozen=True)
class Field:
    """One `flowyard:<name>` attribute of a node: how it is typed, checked, defaulted and shown in the panel."""

    name: str
    label: str
    type: FieldType = "text"
    default: Any = None
    help: str = ""
    placeholder: str = ""
    required: str = ""  # the "… is required" noun when the field must be set, e.g. "a path"
    min: float | None = None
    max: float | None = None
    step: str = ""
    check: Check = ""
    choices: tuple[tuple[str, str], ...] = ()
    mono: bool = False
    stored: bool = True  # False: shown by the editor only (the webhook URL), never an attribute

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = [{"value": v, "label": label} for v, label in self.choices]
        return data


@dataclass(frozen=True)
class Section:
    """A titled group of fields in the properties panel."""

    title: str
    fields: tuple[Field, ...]
    collapsed: bool = False
    note: str = ""


@dataclass(frozen=True)
class Kind:
    """One node kind: where it sits in BPMN, what it stores, how the engine runs it and how the editor draws it."""

    name: str
    label: str
    group: Literal["start", "step", "flow"]
    element: str  # BPMN element created for it (local name, e.g. "serviceTask")
    accepts: frozenset[str]  # BPMN element types it may sit on
    sections: tuple[Section, ...] = ()
    event_definition: str = ""  # e.g. "timerEventDefinition"
    inline: bool = False  # runs on the connection thread (no I/O, no user code) rather than in the pool
    passthrough: bool = False  # the executor's call is a no-op; routing/joining/publishing does the work
    retry: RetryPolicy | None = None  # retry defaults stored on the node; None: the kind never retries
    one_of: tuple[tuple[str, ...], str] | None = None  # at least one of these fields, else this message
    # BPMN from another tool (no flowyard:kind): element types read as this kind, when they carry this kind's
    # event definition (if it has one) and at least this many incoming flows. `infer` picks among them.
    infer_from: frozenset[str] = frozenset()
    infer_min_incoming: int = 0
    # editor
    default_name: str = ""
    badge: str = ""
    stroke: str = "#495057"
    fill: str = "#f8f9fa"
    icon: str = ""

    @property
    def is_start(self) -> bool:
        return self.group == "start"

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for section in self.sections for f in section.fields)

    def retry_defaults(self) -> dict[str, Any]:
        """The retry policy stored on a node of this kind that sets no retry attributes ({} if it never retries)."""
        return policy_dict(self.retry) if self.retry else {}

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "label": self.label,
            "group": self.group,
            "type": bpmn_type(self.element),
            "accepts": sorted(bpmn_type(t) for t in self.accepts),
            "eventDefinitionType": bpmn_type(self.event_definition) if self.event_definition else None,
            "inferFrom": sorted(bpmn_type(t) for t in self.infer_from),
            "inferMinIncoming": self.infer_min_incoming,
            "inline": self.inline,
            "retry": self.retry_defaults() or None,
            "name": self.default_name,
            "badge": self.badge,
            "stroke": self.stroke,
            "fill": self.fill,
            "icon": self.icon,
            "sections": [
                {
                    "title": s.title,
                    "collapsed": s.collapsed,
                    "note": s.note,
                    "fields": [f.as_json() for f in s.fields],
                }
                for s in self.sections
            ],
        }


def policy_dict(policy: RetryPolicy) -> dict[str, Any]:
    """A retry policy as stored in `Node.retry` (what `RetryPolicy.from_config` reads back)."""
    return {
        "attempts": policy.attempts,
        "interval": policy.interval,
        "backoff": policy.backoff,
        "max_delay": policy.max_delay,
        "jitter": policy.jitter,
        "retry_on": list(policy.retry_on),
    }


def bpmn_type(local: str) -> str:
    """`serviceTask` → `bpmn:ServiceTask` (the moddle type name bpmn-js uses)."""
    return f"bpmn:{local[:1].upper()}{local[1:]}"


TASK_TYPES: frozenset[str] = frozenset(
    {"task", "serviceTask", "scriptTask", "userTask", "businessRuleTask", "manualTask"}
)
GROUPS: tuple[tuple[str, str], ...] = (("start", "Starts"), ("step", "Steps"), ("flow", "Flow"))

# ------------------------------------------------------------------------------------------------ fields

_INSTALL_HELP = "Credentials and rate limits come from the tenant's install of the application."


_WORKER_INSTALL_HELP = (
    "Instead of a worker URL: call the install's base URL (with its credentials); the action path is relative to it."
)


def _install(required: bool, help: str = _INSTALL_HELP) -> Field:
    return Field(
        "install",
        "Application install" if required else "Application install (optional)",
        "install",
        help=help,
        required="an application install" if required else "",
    )


REGISTRY = Field("registry", "Python node", "registry", required="a Python node name")
TIMEOUT = Field("timeout", "Timeout (seconds)", "number", min=0.001, max=3600, step="any", placeholder="30")
DELIVERY = Section(
    "Delivery",
    (
        Field(
            "prefetch",
            "Prefetch",
            "integer",
            default=10,
            min=1,
            max=100,
            placeholder="10",
            help="Messages in flight per engine (1–100).",
        ),
        Field("ordered", "Ordered (one consumer at a time, in order)", "checkbox", default=False),
        Field(
            "orderingKey",
            "Ordering key (JMESPath)",
            check="jmespath",
            placeholder="customer.id",
            mono=True,
            help="Keep order per key with N shards instead of one global order.",
        ),
        Field("shards", "Shards", "integer", min=1, max=64),
        Field(
            "keepPayload",
            "Keep payloads (shown on the process page)",
            "checkbox",
            default=False,
            help="Off by default: payloads can hold personal data. Each run's input and outputs are stored.",
        ),
    ),
)
# The runtime's default policy is the one nodes store: "all" includes "error", so Python nodes retry exceptions.
_POLICY = RetryPolicy()
RETRY_DEFAULTS: dict[str, Any] = policy_dict(_POLICY)
RETRY = Section(
    "Retry policy",
    (
        Field(
            "retryAttempts",
            "Attempts",
            "integer",
            default=_POLICY.attempts,
            min=0,
            max=100,
            placeholder=str(_POLICY.attempts),
        ),
        Field(
            "retryInterval",
            "Interval (s)",
            "number",
            default=_POLICY.interval,
            min=0,
            max=86400,
            step="any",
            placeholder=f"{_POLICY.interval:g}",
        ),
        Field(
            "retryBackoff",
            "Backoff rate",
            "number",
            default=_POLICY.backoff,
            min=1,
            max=10,
            step="any",
            placeholder=f"{_POLICY.backoff:g}",
        ),
        Field(
            "retryMaxDelay",
            "Max delay (s)",
            "number",
            default=_POLICY.max_delay,
            min=0,
            max=86400,
            step="any",
            placeholder=f"{_POLICY.max_delay:g}",
        ),
        Field("retryJitter", "Jitter", "checkbox", default=_POLICY.jitter),
        Field(
            "retryOn",
            "Retry on",
            "list",
            default=list(_POLICY.retry_on),
            placeholder="5xx, 429, timeout",
            choices=tuple((v, v) for v in RETRY_ON_VALUES),
            help=(
                f"Comma-separated: {', '.join(RETRY_ON_VALUES)}. Empty: all of them. A remote worker's HTTP 500 is "
                "retried by default; leave 5xx out to trash it at once, as Orchesty does."
            ),
        ),
    ),
    collapsed=True,
)
_EVENT_START = "Starts when any topology of this tenant publishes this event."
_EVENT_PUBLISH = "Every enabled topology with this event start receives the message."

# ------------------------------------------------------------------------------------------------ kinds

_START_STROKE, _START_FILL = "#2b8a3e", "#ebfbee"
_START_EVENT = frozenset({"startEvent"})

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "start.manual",
            "Manual start",
            "start",
            "startEvent",
            _START_EVENT,
            inline=True,
            passthrough=True,
            infer_from=_START_EVENT,
            default_name="Start",
            badge="RUN",
            icon="bpmn-icon-start-event-none",
            stroke=_START_STROKE,
            fill=_START_FILL,
        ),
        Kind(
            "start.webhook",
            "Webhook start",
            "start",
            "startEvent",
            _START_EVENT,
            inline=True,
            passthrough=True,
            sections=(
                Section(
                    "Webhook start",
                    (
                        Field(
                            "webhookUrl",
                            "Webhook URL",
                            "webhook",
                            stored=False,
                            placeholder="Shown after publish",
                            help="POST a JSON body to this URL to start the topology.",
                        ),
                    ),
                ),
            ),
            default_name="Webhook",
            badge="HOOK",
            icon="bpmn-icon-start-event-none",
            stroke=_START_STROKE,
            fill=_START_FILL,
        ),
        Kind(
            "start.cron",
            "Cron start",
            "start",
            "startEvent",
            _START_EVENT,
            inline=True,
            passthrough=True,
            event_definition="timerEventDefinition",
            sections=(
                Section(
                    "Cron start",
                    (
                        Field(
                            "cron",
                            "Cron expression",
                            check="cron",
                            mono=True,
                            placeholder="*/15 * * * *",
                            required="a cron expression",
                        ),
                    ),
                ),
            ),
            infer_from=_START_EVENT,
            default_name="Schedule",
            badge="CRON",
            icon="bpmn-icon-start-event-timer",
            stroke=_START_STROKE,
            fill=_START_FILL,
        ),
        Kind(
            "start.event",
            "Event start",
            "start",
            "startEvent",
            _START_EVENT,
            inline=True,
            passthrough=True,
            event_definition="messageEventDefinition",
            sections=(
                Section(
                    "Event start",
                    (
                        Field(
                            "event",
                            "Event name",
                            placeholder="order.created",
                            help=_EVENT_START,
                            required="an event name",
                        ),
                    ),
                ),
            ),
            infer_from=_START_EVENT,
            default_name="On event",
            badge="EVT",
            icon="bpmn-icon-start-event-message",
            stroke=_START_STROKE,
            fill=_START_FILL,
        ),
        Kind(
            "connector",
            "Connector",
            "step",
            "serviceTask",
            TASK_TYPES,
            retry=_POLICY,
            sections=(
                Section(
                    "Connector",
                    (
                        _install(True),
                        Field(
                            "method",
                            "HTTP method",
                            "select",
                            choices=(
                                ("", "Default (POST)"),
                                *((m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")),
                            ),
                        ),
                        Field(
                            "path",
                            "Path",
                            placeholder="/orders/{id}",
                            mono=True,
                            help="Appended to the install's base URL.",
                            required="a path",
                        ),
                        Field(
                            "bodyTemplate",
                            "Body template",
                            "textarea",
                            placeholder="Empty: send the message body as is.",
                        ),
                        TIMEOUT,
                    ),
                ),
                DELIVERY,
                RETRY,
            ),
            default_name="Call API",
            badge="HTTP",
            stroke="#1c7ed6",
            fill="#e7f5ff",
            icon="bpmn-icon-service-task",
        ),
        Kind(
            "python",
            "Python node",
            "step",
            "serviceTask",
            TASK_TYPES,
            retry=_POLICY,
            sections=(Section("Python node", (REGISTRY,)), DELIVERY, RETRY),
            default_name="Python node",
            badge="PY",
            stroke="#5f3dc4",
            fill="#f3f0ff",
            icon="bpmn-icon-service-task",
        ),
        Kind(
            "worker",
            "Remote worker",
            "step",
            "serviceTask",
            TASK_TYPES,
            retry=_POLICY,
            one_of=(
                ("url", "install"),
                "a remote worker needs a worker URL or an application install with a base URL.",
            ),
            sections=(
                Section(
                    "Remote worker",
                    (
                        Field(
                            "url",
                            "Worker URL",
                            "url",
                            placeholder="https://worker.example.com",
                            mono=True,
                            check="http_url",
                        ),
                        Field("action", "Action path", placeholder="/connector/<name>/action", mono=True),
                        _install(False, _WORKER_INSTALL_HELP),
                        TIMEOUT,
                    ),
                ),
                DELIVERY,
                RETRY,
            ),
            default_name="Worker",
            badge="λ",
            stroke="#0b7285",
            fill="#e3fafc",
            icon="bpmn-icon-service-task",
        ),
        Kind(
            "transform",
            "Transform",
            "step",
            "scriptTask",
            TASK_TYPES,
            inline=True,
            sections=(
                Section(
                    "Transform (JMESPath)",
                    (
                        Field(
                            "expression",
                            "JMESPath expression",
                            "textarea",
                            check="jmespath",
                            placeholder="{id: order.id, total: sum(items[].price)}",
                            help="The result becomes the new message body.",
                            required="a JMESPath expression",
                        ),
                    ),
                ),
                DELIVERY,
            ),
            infer_from=frozenset({"scriptTask"}),
            default_name="Transform",
            badge="JMES",
            stroke="#d9480f",
            fill="#fff4e6",
            icon="bpmn-icon-script-task",
        ),
        Kind(
            "splitter",
            "Splitter",
            "step",
            "serviceTask",
            TASK_TYPES,
            sections=(
                Section(
                    "Splitter",
                    (
                        Field(
                            "expression",
                            "Items (JMESPath)",
                            check="jmespath",
                            placeholder="items",
                            mono=True,
                            help="Each element of this list becomes its own message. Empty: the body must be a list.",
                        ),
                    ),
                ),
                DELIVERY,
            ),
            default_name="Split items",
            badge="SPLIT",
            stroke="#a61e4d",
            fill="#fff0f6",
            icon="bpmn-icon-service-task",
        ),
        Kind(
            "batch",
            "Batch",
            "step",
            "serviceTask",
            TASK_TYPES,
            retry=_POLICY,
            one_of=(
                ("registry", "url", "install"),
                "a batch needs a Python node, a worker URL or an application install with a base URL.",
            ),
            sections=(
                Section(
                    "Batch",
                    (
                        Field("registry", "Python node", "registry"),
                        Field(
                            "url",
                            "…or worker URL",
                            "url",
                            placeholder="https://worker.example.com",
                            mono=True,
                            check="http_url",
                        ),
                        Field("action", "Action path", placeholder="/batch/<name>/action", mono=True),
                        _install(False, _WORKER_INSTALL_HELP),
                        TIMEOUT,
                    ),
                ),
                DELIVERY,
                RETRY,
            ),
            default_name="Batch",
            badge="BATCH",
            stroke="#862e9c",
            fill="#f8f0fc",
            icon="bpmn-icon-service-task",
        ),
        Kind(
            "join",
            "Join",
            "flow",
            "parallelGateway",
            frozenset({"parallelGateway"}),
            passthrough=True,
            infer_from=frozenset({"parallelGateway"}),
            infer_min_incoming=2,
            sections=(
                Section(
                    "Join",
                    (),
                    note=(
                        "Waits for one message from every incoming flow, then sends one merged message "
                        "({incoming node: body}). A branch that stops OK (1003) before the join, or a path an "
                        "exclusive gateway or a forward (1002) did not take, counts as arrived and is left out of "
                        "the merge; when every branch stopped, the join stops OK too."
                    ),
                ),
            ),
            default_name="Join",
            badge="JOIN",
            stroke="#087f5b",
            fill="#e6fcf5",
            icon="bpmn-icon-gateway-parallel",
        ),
        Kind(
            "wait",
            "Wait",
            "step",
            "intermediateCatchEvent",
            frozenset({"intermediateCatchEvent"}),
            inline=True,
            passthrough=True,
            event_definition="timerEventDefinition",
            one_of=(("waitSeconds", "waitHeader"), "set wait seconds or a header with the wait."),
            sections=(
                Section(
                    "Wait",
                    (
                        Field("waitSeconds", "Wait seconds", "number", min=0, max=366 * 86400, step="any"),
                        Field("waitHeader", "…or header with the seconds", placeholder="x-wait", mono=True),
                    ),
                ),
            ),
            infer_from=frozenset({"intermediateCatchEvent"}),
            default_name="Wait",
            badge="WAIT",
            stroke="#e67700",
            fill="#fff9db",
            icon="bpmn-icon-intermediate-event-catch-timer",
        ),
        Kind(
            "user",
            "User task",
            "step",
            "userTask",
            TASK_TYPES,
            passthrough=True,
            sections=(
                Section(
                    "User task",
                    (
                        Field("assignee", "Assignee", placeholder="user@example.com or a role"),
                        Field("form", "Form", "textarea", placeholder="Form key or JSON schema"),
                    ),
                ),
            ),
            infer_from=frozenset({"userTask"}),
            default_name="Review",
            badge="USER",
            stroke="#5c940d",
            fill="#f4fce3",
            icon="bpmn-icon-user-task",
        ),
        Kind(
            "publish",
            "Event publish",
            "step",
            "intermediateThrowEvent",
            frozenset({"intermediateThrowEvent"}),
            passthrough=True,
            event_definition="messageEventDefinition",
            sections=(
                Section(
                    "Event publish",
                    (
                        Field(
                            "event",
                            "Event name",
                            placeholder="order.created",
                            help=_EVENT_PUBLISH,
                            required="an event name",
                        ),
                    ),
                ),
            ),
            default_name="Publish event",
            badge="EVT",
            stroke="#c2255c",
            fill="#fff0f6",
            icon="bpmn-icon-intermediate-event-throw-message",
        ),
        Kind(
            "router",
            "Exclusive gateway",
            "flow",
            "exclusiveGateway",
            frozenset({"exclusiveGateway"}),
            inline=True,
            passthrough=True,
            sections=(
                Section(
                    "Exclusive gateway (router)",
                    (),
                    note="Select each outgoing flow to set its condition or make it the default.",
                ),
            ),
            infer_from=frozenset({"exclusiveGateway"}),
            default_name="Route",
            badge="IF",
            stroke="#364fc7",
            fill="#edf2ff",
            icon="bpmn-icon-gateway-xor",
        ),
        Kind(
            "fanout",
            "Parallel gateway",
            "flow",
            "parallelGateway",
            frozenset({"parallelGateway"}),
            inline=True,
            passthrough=True,
            infer_from=frozenset({"parallelGateway"}),
            default_name="Fan out",
            badge="ALL",
            stroke="#364fc7",
            fill="#edf2ff",
            icon="bpmn-icon-gateway-parallel",
        ),
        Kind(
            "end",
            "End",
            "flow",
            "endEvent",
            frozenset({"endEvent"}),
            inline=True,
            passthrough=True,
            infer_from=frozenset({"endEvent"}),
            default_name="End",
            badge="END",
            stroke="#c92a2a",
            fill="#fff5f5",
            icon="bpmn-icon-end-event-none",
        ),
    )
}

# Any node that can send a message to the trash may declare what it accepts; the trash validates edited bodies
# against it before they are resent (`trash.services.trash_body_errors`).
INPUT = Section(
    "Input",
    (
        Field(
            "inputSchema",
            "Input JSON Schema",
            "textarea",
            placeholder='{"type": "object", "required": ["id"]}',
            mono=True,
            help="Optional. Trash edits of messages that failed here are checked against it before a resend.",
        ),
    ),
    collapsed=True,
)
KINDS = {
    name: replace(k, sections=(*k.sections, INPUT)) if k.group == "step" or name == "router" else k
    for name, k in KINDS.items()
}

# In preference order: a start without a named node enters at the first start node of the first kind here.
START_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if k.is_start)
INLINE_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.inline)
PASSTHROUGH_KINDS: frozenset[str] = frozenset(k.name for k in KINDS.values() if k.passthrough)


def calls_worker(kind: str, config: dict[str, Any]) -> bool:
    """Does a node of `kind` POST Orchesty's envelope to a remote worker (at its URL, or its install's base URL)?

    A batch runs its Python node unless it has a worker URL, or has no Python node at all.
    """
    return kind == "worker" or (kind == "batch" and bool(config.get("url") or not config.get("registry")))


def _fields_by_name() -> dict[str, Field]:
    """Fields by attribute name: one name means one thing whichever kind uses it."""
    fields: dict[str, Field] = {}
    for kind in KINDS.values():
        for f in kind.fields:
            known = fields.get(f.name)
            if known is not None and (PARSE_AS.get(known.type), known.check) != (PARSE_AS.get(f.type), f.check):
                raise AssertionError(f"field {f.name!r} is typed differently by two kinds")
            fields.setdefault(f.name, f)
    return fields


FIELDS: dict[str, Field] = _fields_by_name()


def infer(element_type: str, event_definitions: Collection[str], incoming: int) -> Kind | None:
    """The kind of a BPMN element that names none (a file from another modeler), or None when no kind fits.

    Among the kinds that list the element type, the most specific match wins: one whose event definition is on the
    element, then the one asking for the most incoming flows (a parallel gateway that merges is a join).
    The editor applies the same rule to the registry's `inferFrom` to suggest a kind.
    """
    fits = [
        k
        for k in KINDS.values()
        if element_type in k.infer_from
        and (not k.event_definition or k.event_definition in event_definitions)
        and incoming >= k.infer_min_incoming
    ]
    return max(fits, key=lambda k: (bool(k.event_definition), k.infer_min_incoming), default=None)


def get(name: str) -> Kind | None:
    """The kind called `name`, or None for an unknown or missing kind."""
    return KINDS.get(name)


def choices() -> list[tuple[str, str]]:
    """(value, label) pairs for `Node.kind`."""
    return [(k.name, k.label) for k in KINDS.values()]


def registry_payload(python_nodes: list[dict[str, str]]) -> dict[str, Any]:
    """What the editor reads from the node-registry API: groups, kinds with their panel, Python nodes."""
    return {
        "groups": [{"id": gid, "label": label} for gid, label in GROUPS],
        "kinds": [k.as_json() for k in KINDS.values()],
        "retryOn": list(RETRY_ON_VALUES),
        "python": python_nodes,
    }
