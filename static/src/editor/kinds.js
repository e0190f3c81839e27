// Flowyard node kinds: which BPMN element each one is, how it looks, and which fields it edits.
// One table so the palette, renderer, context pad and properties panel never disagree.

const START = { stroke: "#2b8a3e", fill: "#ebfbee" };

export const KINDS = {
  "start.manual": { group: "start", label: "Manual start", name: "Start", type: "bpmn:StartEvent", badge: "RUN", ...START },
  "start.webhook": { group: "start", label: "Webhook start", name: "Webhook", type: "bpmn:StartEvent", badge: "HOOK", ...START },
  "start.cron": { group: "start", label: "Cron start", name: "Schedule", type: "bpmn:StartEvent", eventDefinitionType: "bpmn:TimerEventDefinition", badge: "CRON", ...START },
  "start.event": { group: "start", label: "Event start", name: "On event", type: "bpmn:StartEvent", eventDefinitionType: "bpmn:MessageEventDefinition", badge: "EVT", ...START },
  connector: { group: "step", label: "Connector", name: "Call API", type: "bpmn:ServiceTask", badge: "HTTP", stroke: "#1c7ed6", fill: "#e7f5ff" },
  python: { group: "step", label: "Python node", name: "Python node", type: "bpmn:ServiceTask", badge: "PY", stroke: "#5f3dc4", fill: "#f3f0ff" },
  worker: { group: "step", label: "Remote worker", name: "Worker", type: "bpmn:ServiceTask", badge: "λ", stroke: "#0b7285", fill: "#e3fafc" },
  transform: { group: "step", label: "Transform (JMESPath)", name: "Transform", type: "bpmn:ScriptTask", badge: "JMES", stroke: "#d9480f", fill: "#fff4e6" },
  splitter: { group: "step", label: "Splitter", name: "Split items", type: "bpmn:ServiceTask", badge: "SPLIT", stroke: "#a61e4d", fill: "#fff0f6" },
  batch: { group: "step", label: "Batch", name: "Batch", type: "bpmn:ServiceTask", badge: "BATCH", stroke: "#862e9c", fill: "#f8f0fc" },
  user: { group: "step", label: "User task", name: "Review", type: "bpmn:UserTask", badge: "USER", stroke: "#5c940d", fill: "#f4fce3" },
  wait: { group: "step", label: "Wait", name: "Wait", type: "bpmn:IntermediateCatchEvent", eventDefinitionType: "bpmn:TimerEventDefinition", badge: "WAIT", stroke: "#e67700", fill: "#fff9db" },
  publish: { group: "step", label: "Event publish", name: "Publish event", type: "bpmn:IntermediateThrowEvent", eventDefinitionType: "bpmn:MessageEventDefinition", badge: "EVT", stroke: "#c2255c", fill: "#fff0f6" },
  router: { group: "flow", label: "Exclusive gateway (router)", name: "Route", type: "bpmn:ExclusiveGateway", badge: "IF", stroke: "#364fc7", fill: "#edf2ff" },
  fanout: { group: "flow", label: "Parallel gateway (fan-out)", name: "Fan out", type: "bpmn:ParallelGateway", badge: "ALL", stroke: "#364fc7", fill: "#edf2ff" },
  join: { group: "flow", label: "Join", name: "Join", type: "bpmn:ParallelGateway", badge: "JOIN", stroke: "#087f5b", fill: "#e6fcf5" },
  end: { group: "flow", label: "End", name: "End", type: "bpmn:EndEvent", badge: "END", stroke: "#c92a2a", fill: "#fff5f5" },
};

export const KIND_GROUPS = [
  { id: "start", label: "Starts" },
  { id: "step", label: "Steps" },
  { id: "flow", label: "Flow" },
];

// Palette / context pad icon (bpmn-font class) per BPMN type.
export const TYPE_ICONS = {
  "bpmn:StartEvent": "bpmn-icon-start-event-none",
  "bpmn:ServiceTask": "bpmn-icon-service-task",
  "bpmn:ScriptTask": "bpmn-icon-script-task",
  "bpmn:UserTask": "bpmn-icon-user-task",
  "bpmn:IntermediateCatchEvent": "bpmn-icon-intermediate-event-catch-timer",
  "bpmn:IntermediateThrowEvent": "bpmn-icon-intermediate-event-throw-message",
  "bpmn:ExclusiveGateway": "bpmn-icon-gateway-xor",
  "bpmn:ParallelGateway": "bpmn-icon-gateway-parallel",
  "bpmn:EndEvent": "bpmn-icon-end-event-none",
};

export function kindIcon(kind) {
  const def = KINDS[kind];
  if (!def) return "";
  if (kind === "start.cron") return "bpmn-icon-start-event-timer";
  if (kind === "start.event") return "bpmn-icon-start-event-message";
  return TYPE_ICONS[def.type] || "";
}

/** The Flowyard kind of a diagram element (shape or business object), or "" when it has none. */
export function getKind(element) {
  const bo = element && (element.businessObject || element);
  if (!bo || !bo.get) return "";
  return bo.get("flowyard:kind") || "";
}

/** Kinds a BPMN element of this type can take without being replaced. */
export function kindsForType(type) {
  return Object.keys(KINDS).filter((k) => KINDS[k].type === type);
}

/** Guess the kind of an element imported without flowyard:kind (plain BPMN from another tool). */
export function guessKind(bo) {
  const eventDefs = (bo.eventDefinitions || []).map((d) => d.$type);
  switch (bo.$type) {
    case "bpmn:StartEvent":
      if (eventDefs.includes("bpmn:TimerEventDefinition")) return "start.cron";
      if (eventDefs.includes("bpmn:MessageEventDefinition")) return "start.event";
      return "start.manual";
    case "bpmn:EndEvent":
      return "end";
    case "bpmn:ExclusiveGateway":
      return "router";
    case "bpmn:ParallelGateway":
      return "fanout";
    case "bpmn:ScriptTask":
      return "transform";
    case "bpmn:UserTask":
      return "user";
    case "bpmn:IntermediateCatchEvent":
      return "wait";
    case "bpmn:IntermediateThrowEvent":
      return "publish";
    case "bpmn:ServiceTask":
    case "bpmn:Task":
    case "bpmn:SendTask":
      return "connector";
    default:
      return "";
  }
}
