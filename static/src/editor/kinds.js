// Flowyard node kinds as the server defines them (topology/kinds.py, served by /api/node-registry/).
// The editor keeps no copy of its own: the `flowyardKinds` service wraps the registry the page loaded,
// and the moddle extension is derived from the same fields.

/** The Flowyard kind of a diagram element (shape or business object), or "" when it has none. */
export function getKind(element) {
  const bo = element && (element.businessObject || element);
  if (!bo || !bo.get) return "";
  return bo.get("flowyard:kind") || "";
}

// Every task type inherits from bpmn:Task; one extension type on it covers them all (a second one on a
// subtype would define the same property twice, which moddle refuses).
const TASK_TYPES = new Set(["bpmn:Task", "bpmn:ServiceTask", "bpmn:ScriptTask", "bpmn:UserTask", "bpmn:BusinessRuleTask", "bpmn:ManualTask"]);

/**
 * The flowyard moddle extension: `flowyard:` attributes only on the BPMN types whose kinds use them,
 * never on bpmn:BaseElement (that broke bpmn:Transaction's `method` and resourceAssignmentExpression's
 * `expression`).
 */
export function moddleDescriptor(registry) {
  const props = new Map();
  for (const kind of registry.kinds) {
    for (const type of kind.accepts) {
      const base = TASK_TYPES.has(type) ? "bpmn:Task" : type;
      const names = props.get(base) || new Set(["kind"]);
      for (const section of kind.sections) for (const f of section.fields) if (f.stored) names.add(f.name);
      props.set(base, names);
    }
  }
  const types = [...props].map(([base, names]) => ({
    name: `Flowyard${base.replace("bpmn:", "")}`,
    extends: [base],
    properties: [...names].map((name) => ({ name, isAttr: true, type: "String" })),
  }));
  types.push({ name: "FlowyardFlow", extends: ["bpmn:SequenceFlow"], properties: [{ name: "condition", isAttr: true, type: "String" }] });
  return { name: "Flowyard", prefix: "flowyard", uri: "http://flowyard.io/schema/bpmn/1.0", xml: { tagAlias: "lowerCase" }, associations: [], types };
}

/** diagram-js service `flowyardKinds`: lookups over the registry given as `config.flowyard.registry`. */
export default class FlowyardKinds {
  constructor(config) {
    const registry = config.registry;
    this.groups = registry.groups;
    this.python = registry.python || [];
    this.byKind = new Map(registry.kinds.map((k) => [k.kind, k]));
  }

  get(kind) {
    return this.byKind.get(kind);
  }

  /** All kinds of a palette group, in registry order. */
  inGroup(groupId) {
    return [...this.byKind.values()].filter((k) => k.group === groupId);
  }

  /** The registry entry of an element's kind, or undefined. */
  of(element) {
    return this.byKind.get(getKind(element));
  }

  /**
   * The kind the server infers for an element without flowyard:kind (plain BPMN from another tool), or undefined:
   * the registry's rule (topology.kinds.infer) — kinds listing the element type in `inferFrom` whose event
   * definition, if any, is on the element and whose `inferMinIncoming` the incoming flows reach; the most
   * specific wins. (A timer start whose cycle is no cron expression is read as a manual start by the server.)
   */
  guess(bo) {
    if (!bo) return undefined;
    const definitions = new Set((bo.eventDefinitions || []).map((d) => d.$type));
    const incoming = (bo.incoming || []).length;
    const score = (k) => (k.eventDefinitionType ? 1000 : 0) + (k.inferMinIncoming || 0);
    let best;
    for (const k of this.byKind.values()) {
      if (!(k.inferFrom || []).includes(bo.$type)) continue;
      if (k.eventDefinitionType && !definitions.has(k.eventDefinitionType)) continue;
      if (incoming < (k.inferMinIncoming || 0)) continue;
      if (!best || score(k) > score(best)) best = k;
    }
    return best;
  }
}

FlowyardKinds.$inject = ["config.flowyard"];

export const KindsModule = { flowyardKinds: ["type", FlowyardKinds] };
