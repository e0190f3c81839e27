// Task shapes drawn from a stamp: every task of one kind and size gets the same rect, task-type icon and
// kind badge from BpmnRenderer, only its label differs. BpmnRenderer builds each of those nodes afresh
// (one CSSOM write per presentation property), which was about a fifth of opening a 1,000-node diagram;
// a deep clone of the first task's nodes costs a fraction of that.

import { LABEL_PADDING, learnOneLine, oneLineLabel } from "./labels";

// Task types whose drawing depends on nothing but their size, colours and the markers checked in `key`
// (bpmn:ReceiveTask is left out: its `instantiate` flag changes the icon).
const STAMPED_TYPES = new Set(["bpmn:Task", "bpmn:ServiceTask", "bpmn:ScriptTask", "bpmn:UserTask", "bpmn:ManualTask", "bpmn:BusinessRuleTask", "bpmn:SendTask"]);

/** Index of `node` among the children of `parent`, or -1. */
function childIndex(parent, node) {
  return Array.prototype.indexOf.call(parent.childNodes, node);
}

export default class TaskStamps {
  constructor(textRenderer) {
    this.textRenderer = textRenderer;
    // key -> {nodes, labelIndex, visualIndex, line}, or null for a look that must always be drawn in full;
    // line: the look's one-line label layout (labels.js), undefined until learnt, null if it cannot be.
    this.stamps = new Map();
  }

  /** The stamp key of a task drawn with `kind`'s colours, or null when it must be drawn in full. */
  key(element, kind) {
    const bo = element.businessObject;
    if (!STAMPED_TYPES.has(element.type) || bo.loopCharacteristics || bo.isForCompensation) return null;
    return `${element.type}|${kind.kind}|${element.width}|${element.height}`;
  }

  /** The label BpmnRenderer's renderEmbeddedLabel draws for a task with `stroke` as its colour. */
  label(element, stroke) {
    const text = this.textRenderer.createText(element.businessObject.name || "", {
      align: "center-middle",
      box: { x: element.x, y: element.y, width: element.width, height: element.height },
      padding: LABEL_PADDING,
      size: { width: 100 },
      style: { fill: stroke },
    });
    text.classList.add("djs-label");
    return text;
  }

  /**
   * Draw `element` into `parentGfx` and return its visual: from the stamp of its look when there is one,
   * else with `drawFull()`, keeping the result as the look's stamp when it is the first of its look.
   */
  draw(parentGfx, element, kind, drawFull) {
    const key = this.key(element, kind);
    const stamp = key && this.stamps.get(key);
    if (!stamp) {
      const visual = drawFull();
      if (key && !this.stamps.has(key)) this.stamps.set(key, this.take(parentGfx, element, kind, visual));
      return visual;
    }
    const nodes = stamp.nodes.cloneNode(true);
    nodes.insertBefore(this.stampLabel(element, kind, stamp), nodes.childNodes[stamp.labelIndex] || null);
    const visual = nodes.childNodes[stamp.visualIndex];
    parentGfx.appendChild(nodes);
    return visual;
  }

  /** The label of a task drawn from `stamp`: on one line without diagram-js when the look's layout is known. */
  stampLabel(element, kind, stamp) {
    const fast = stamp.line && oneLineLabel(stamp.line, element);
    if (fast) return fast;
    const label = this.label(element, kind.stroke);
    if (stamp.line === undefined) stamp.line = learnOneLine(label, element);
    return label;
  }

  /**
   * The stamp of a task BpmnRenderer has just drawn into `parentGfx` (its only children), or null when its
   * label is not exactly what `label()` draws (a bpmn-js upgrade changed renderEmbeddedLabel): then the
   * look is always drawn in full.
   */
  take(parentGfx, element, kind, visual) {
    const labels = parentGfx.querySelectorAll(":scope > text.djs-label");
    const visualIndex = childIndex(parentGfx, visual);
    if (labels.length !== 1 || visualIndex < 0 || labels[0] === visual) return null;
    if (this.label(element, kind.stroke).outerHTML !== labels[0].outerHTML) return null;
    const labelIndex = childIndex(parentGfx, labels[0]);
    const nodes = document.createDocumentFragment();
    for (const child of parentGfx.childNodes) if (child !== labels[0]) nodes.appendChild(child.cloneNode(true));
    // The label goes back in at its index, so the visual keeps its own.
    return { nodes, labelIndex, visualIndex, line: learnOneLine(labels[0], element) };
  }
}

TaskStamps.$inject = ["textRenderer"];
