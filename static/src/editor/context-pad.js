// Context pad: keep connect / delete / label editing from bpmn-js, swap the generic "append BPMN
// element" entries for Flowyard kinds, and drop the replace menu (the kind select replaces it).
import { createKindShape } from "./palette";

const APPEND_KINDS = ["connector", "transform", "router", "end"];

export default class FlowyardContextPadProvider {
  constructor(contextPad, create, elementFactory, autoPlace, flowyardKinds) {
    this.create = create;
    this.elementFactory = elementFactory;
    this.autoPlace = autoPlace;
    this.kinds = flowyardKinds;
    contextPad.registerProvider(500, this);
  }

  getContextPadEntries(element) {
    const { create, elementFactory, autoPlace } = this;
    return (entries) => {
      const result = {};
      for (const [key, entry] of Object.entries(entries)) {
        if (key.startsWith("append.") || key === "replace") continue;
        result[key] = entry;
      }
      // Only flow nodes that can have outgoing flows get append entries.
      const canAppend = element.type !== "bpmn:EndEvent" && !element.waypoints && element.type !== "label";
      if (!canAppend || !("append.end-event" in entries || "append.append-task" in entries)) return result;
      for (const def of APPEND_KINDS.map((k) => this.kinds.get(k)).filter(Boolean)) {
        const append = (event, el) => {
          const shape = createKindShape(elementFactory, def);
          if (autoPlace) autoPlace.append(el, shape);
          else create.start(event, shape, { source: el });
        };
        const dragAppend = (event, el) => create.start(event, createKindShape(elementFactory, def), { source: el });
        result[`append.fy-${def.kind}`] = {
          group: "model",
          className: def.icon,
          title: `Append ${def.label.toLowerCase()}`,
          action: { click: append, dragstart: dragAppend },
        };
      }
      return result;
    };
  }
}

FlowyardContextPadProvider.$inject = ["contextPad", "create", "elementFactory", "autoPlace", "flowyardKinds"];
