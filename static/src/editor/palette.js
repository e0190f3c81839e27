// Flowyard palette: the editing tools plus one entry per registered kind, grouped as the registry groups them.
// Registered under the name `paletteProvider`, so it replaces bpmn-js's generic BPMN palette.
import { escapeHtml } from "./dom";

/** Create a shape of the given Flowyard kind with its default name. */
export function createKindShape(elementFactory, def) {
  const attrs = { type: def.type };
  if (def.eventDefinitionType) attrs.eventDefinitionType = def.eventDefinitionType;
  const shape = elementFactory.createShape(attrs);
  shape.businessObject.set("flowyard:kind", def.kind);
  shape.businessObject.name = def.name;
  return shape;
}

const TOOLS = {
  "hand-tool": ["bpmn-icon-hand-tool", "Hand tool (H)", (s, e) => s.handTool.activateHand(e)],
  "lasso-tool": ["bpmn-icon-lasso-tool", "Lasso tool (L)", (s, e) => s.lassoTool.activateSelection(e)],
  "space-tool": ["bpmn-icon-space-tool", "Space tool (S)", (s, e) => s.spaceTool.activateSelection(e)],
  "global-connect-tool": ["bpmn-icon-connection-multi", "Connect tool (C)", (s, e) => s.globalConnect.start(e)],
};

export default class FlowyardPaletteProvider {
  constructor(palette, create, elementFactory, handTool, lassoTool, spaceTool, globalConnect, flowyardKinds) {
    Object.assign(this, { create, elementFactory, handTool, lassoTool, spaceTool, globalConnect, kinds: flowyardKinds });
    palette.registerProvider(this);
  }

  getPaletteEntries() {
    const entries = {};
    for (const [id, [className, title, run]] of Object.entries(TOOLS)) {
      entries[id] = { group: "tools", className, title, action: { click: (event) => run(this, event) } };
    }
    entries["tool-separator"] = { group: "tools", separator: true };
    for (const group of this.kinds.groups) {
      for (const def of this.kinds.inGroup(group.id)) entries[`create.${def.kind}`] = this.kindEntry(group, def);
    }
    return entries;
  }

  kindEntry(group, def) {
    const start = (event) => this.create.start(event, createKindShape(this.elementFactory, def));
    return {
      group: `fy-${group.id}`,
      title: `${group.label}: ${def.label}`,
      html:
        `<div class="entry fy-pal" draggable="true" data-kind="${escapeHtml(def.kind)}">` +
        `<span class="fy-pal-icon ${escapeHtml(def.icon)}" style="color:${escapeHtml(def.stroke)}"></span>` +
        `<span class="fy-pal-tag" style="background:${escapeHtml(def.stroke)}">${escapeHtml(def.badge)}</span></div>`,
      action: { dragstart: start, click: start },
    };
  }
}

FlowyardPaletteProvider.$inject = [
  "palette",
  "create",
  "elementFactory",
  "handTool",
  "lassoTool",
  "spaceTool",
  "globalConnect",
  "flowyardKinds",
];
