// Plain sequence flows share their arrowhead: BpmnRenderer gives every connection a <defs><marker> of its
// own (a random id and three nodes each, a sixth of a 1,000-node diagram's SVG), while all flows of one
// colour draw the same one. The first plain flow of a colour is drawn by BpmnRenderer; its marker moves to
// the canvas's <defs> and its line becomes the stamp the next ones are cloned from.
import BaseRenderer from "diagram-js/lib/draw/BaseRenderer";
import { updateLine } from "diagram-js/lib/util/RenderUtil";

// Above BpmnRenderer (1000), below FlowyardRenderer (1500, shapes only).
const PRIORITY = 1200;
const COLOUR_ATTRS = ["color:border-color", "bioc:stroke", "color:background-color", "bioc:fill"];

/** A flow BpmnRenderer draws with its end marker only: no conditional or default marker at its start. */
function isPlain(element) {
  const bo = element.businessObject;
  const source = element.source && element.source.businessObject;
  return !bo.conditionExpression && !(source && source.get("default") === bo);
}

/** The <defs> right under the canvas's <svg>, where bpmn-js 17 and earlier kept every marker. */
function sharedDefs(svg) {
  return svg.querySelector(":scope > defs") || svg.insertBefore(document.createElementNS(svg.namespaceURI, "defs"), svg.firstChild);
}

export default class FlowyardFlowRenderer extends BaseRenderer {
  constructor(eventBus, bpmnRenderer, canvas) {
    super(eventBus, PRIORITY);
    this.bpmnRenderer = bpmnRenderer;
    this.canvas = canvas;
    // colour key -> line to clone (its marker-end names the shared marker), or null: draw in full.
    this.stamps = new Map();
  }

  canRender(element) {
    return element.type === "bpmn:SequenceFlow" && !element.labelTarget;
  }

  drawConnection(parentGfx, element, attrs = {}) {
    // Previews pass their own colours: those are drawn in full.
    const key = isPlain(element) && !Object.keys(attrs).length ? this.colourKey(element) : null;
    const stamp = key && this.stamps.get(key);
    if (!stamp) {
      const line = this.bpmnRenderer.drawConnection(parentGfx, element, attrs);
      if (key && !this.stamps.has(key)) this.stamps.set(key, this.take(parentGfx, line));
      return line;
    }
    const line = updateLine(stamp.cloneNode(false), element.waypoints);
    parentGfx.appendChild(line);
    return line;
  }

  getConnectionPath(connection) {
    return this.bpmnRenderer.getConnectionPath(connection);
  }

  colourKey(element) {
    const di = element.di;
    return COLOUR_ATTRS.map((name) => (di && di.get(name)) || "").join("|");
  }

  /**
   * The stamp of a flow BpmnRenderer has just drawn as <defs><marker/></defs><path/>, with the marker moved
   * into the canvas's <defs>; null when bpmn-js drew anything else (then that colour is always drawn in full).
   */
  take(parentGfx, line) {
    const [defs, path, ...rest] = parentGfx.childNodes;
    const marker = defs && defs.nodeName === "defs" && defs.childNodes.length === 1 ? defs.firstChild : null;
    if (rest.length || path !== line || !marker || !line.style.markerEnd.includes(`#${marker.id}`)) return null;
    // The connection is not in the document yet: the canvas's <svg> is the one BpmnRenderer's own default.
    sharedDefs(this.canvas._svg).appendChild(marker);
    defs.remove();
    return line.cloneNode(false);
  }
}

FlowyardFlowRenderer.$inject = ["eventBus", "bpmnRenderer", "canvas"];
