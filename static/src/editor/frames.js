// The frame diagram-js builds around every element (a djs-group, djs-element and djs-visual <g>, and a
// transparent hit area) is the same for all elements of a type but for the hit's size or line: clone the
// first one instead of building each from scratch (class-list and CSSOM writes per node; ~3 % of opening a
// 1,000-node diagram). Anything unusual (frames, participants, lanes, expanded sub-processes) is left to
// diagram-js and bpmn-js.
import { updateLine } from "diagram-js/lib/util/RenderUtil";

// Below BpmnInteractionEvents (1000: participants, lanes, sub-processes), above diagram-js's default (500).
const HIT_PRIORITY = 750;

/** Whether `node` has no attribute but a class attribute with exactly `classes`. */
function isBare(node, ...classes) {
  return node.attributes.length === 1 && node.classList.length === classes.length && classes.every((c) => node.classList.contains(c));
}

export default class ElementFrames {
  constructor(eventBus, graphicsFactory, interactionEvents) {
    this.interactionEvents = interactionEvents;
    this.hits = new Map(); // "box" | "line" -> hit to clone
    this.containers = new Map(); // element type -> djs-group to clone, or null: build as diagram-js does
    eventBus.on("interactionEvents.createHit", HIT_PRIORITY, ({ element, gfx }) => this.createHit(element, gfx));
    const build = graphicsFactory._createContainer;
    if (typeof build !== "function") return;
    const frames = this;
    graphicsFactory._createContainer = function (type, childrenGfx, parentIndex, isFrame) {
      const group = isFrame ? null : frames.container(type, () => build.call(this, type, document.createElementNS(childrenGfx.namespaceURI, "g")));
      if (!group) return build.call(this, type, childrenGfx, parentIndex, isFrame);
      const outer = group.cloneNode(true);
      childrenGfx.insertBefore(outer, parentIndex === undefined ? null : childrenGfx.childNodes[parentIndex] || null);
      return outer.firstChild;
    };
  }

  /** The djs-group of `type` to clone, built once with `buildOne()` and checked against what we expect. */
  container(type, buildOne) {
    if (!this.containers.has(type)) {
      const gfx = buildOne();
      const outer = gfx.parentNode;
      const visual = gfx.firstChild;
      const ok =
        outer.childNodes.length === 1 && isBare(outer, "djs-group") && isBare(gfx, "djs-element", `djs-${type}`) &&
        gfx.childNodes.length === 1 && isBare(visual, "djs-visual") && !visual.childNodes.length;
      this.containers.set(type, ok ? outer : null);
    }
    return this.containers.get(type);
  }

  /** The default hit of a plain shape or connection, cloned; undefined (diagram-js draws it) otherwise. */
  createHit(element, gfx) {
    const key = element.waypoints ? "line" : element.isFrame ? null : "box";
    if (!key) return undefined;
    const stamp = this.hits.get(key);
    if (!stamp) {
      this.hits.set(key, this.interactionEvents.createDefaultHit(element, gfx).cloneNode(false));
      return true;
    }
    const hit = stamp.cloneNode(false);
    if (key === "line") {
      updateLine(hit, element.waypoints);
    } else {
      hit.setAttribute("width", element.width);
      hit.setAttribute("height", element.height);
    }
    gfx.appendChild(hit);
    return true;
  }
}

ElementFrames.$inject = ["eventBus", "graphicsFactory", "interactionEvents"];
