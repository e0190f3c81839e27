// Draws each Flowyard kind on top of the standard BPMN shape: a colour and a small text badge,
// so a diagram reads at a glance. Runs above BpmnRenderer (priority 1000) and delegates to it.
import BaseRenderer from "diagram-js/lib/draw/BaseRenderer";

import { getKind } from "./kinds";

const SVG_NS = "http://www.w3.org/2000/svg";
const HIGH_PRIORITY = 1500;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function badgeWidth(text) {
  // Monospace-ish estimate; avoids a getBBox() layout per shape (keeps 200-node imports fast).
  return Math.max(22, 8 + [...text].length * 6.6);
}

export default class FlowyardRenderer extends BaseRenderer {
  constructor(eventBus, bpmnRenderer, flowyardKinds, flowyardStamps) {
    super(eventBus, HIGH_PRIORITY);
    this.bpmnRenderer = bpmnRenderer;
    this.kinds = flowyardKinds;
    this.stamps = flowyardStamps;
  }

  canRender(element) {
    return !element.labelTarget && Boolean(this.kinds.of(element));
  }

  drawShape(parentGfx, element) {
    const def = this.kinds.of(element);
    return this.stamps.draw(parentGfx, element, def, () => this.drawFull(parentGfx, element, def));
  }

  /** The BPMN shape in the kind's colours and the kind's badge. */
  drawFull(parentGfx, element, def) {
    const shape = this.bpmnRenderer.drawShape(parentGfx, element, { fill: def.fill, stroke: def.stroke });
    const text = def.badge;
    const w = badgeWidth(text);
    const h = 15;
    const isTask = element.type.endsWith("Task");
    // Tasks: inside, top right (the BPMN task-type icon sits top left). Events/gateways: above.
    const x = isTask ? element.width - w - 5 : (element.width - w) / 2;
    const y = isTask ? 5 : -h - 4;
    const g = svg("g", { class: "fy-badge", "data-kind": getKind(element) });
    g.appendChild(svg("rect", { x, y, width: w, height: h, rx: 7.5, ry: 7.5, fill: def.stroke }));
    const label = svg("text", {
      x: x + w / 2,
      y: y + 11,
      "text-anchor": "middle",
      fill: "#fff",
      "font-size": 9.5,
      "font-weight": 700,
      "font-family": "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif",
      "letter-spacing": ".03em",
    });
    label.textContent = text;
    g.appendChild(label);
    parentGfx.appendChild(g);
    return shape;
  }

  getShapePath(shape) {
    return this.bpmnRenderer.getShapePath(shape);
  }
}

FlowyardRenderer.$inject = ["eventBus", "bpmnRenderer", "flowyardKinds", "flowyardStamps"];
