// Flowyard palette: the editing tools plus one entry per Flowyard kind, grouped Starts / Steps / Flow.
// Registered under the name `paletteProvider`, so it replaces bpmn-js's generic BPMN palette.
import { KINDS, KIND_GROUPS, kindIcon } from "./kinds";

/** Create a shape of the given Flowyard kind with its default name. */
export function createKindShape(elementFactory, kind) {
  const def = KINDS[kind];
  const attrs = { type: def.type };
  if (def.eventDefinitionType) attrs.eventDefinitionType = def.eventDefinitionType;
  const shape = elementFactory.createShape(attrs);
  shape.businessObject.set("flowyard:kind", kind);
  shape.businessObject.name = def.name;
  return shape;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

export default class FlowyardPaletteProvider {
  constructor(palette, create, elementFactory, handTool, lassoTool, spaceTool, globalConnect) {
    this.create = create;
    this.elementFactory = elementFactory;
    this.handTool = handTool;
    this.lassoTool = lassoTool;
    this.spaceTool = spaceTool;
    this.globalConnect = globalConnect;
    palette.registerProvider(this);
  }

  getPaletteEntries() {
    const { create, elementFactory, handTool, lassoTool, spaceTool, globalConnect } = this;
    const entries = {
      "hand-tool": {
        group: "tools",
        className: "bpmn-icon-hand-tool",
        title: "Hand tool (H)",
        action: { click: (event) => handTool.activateHand(event) },
      },
      "lasso-tool": {
        group: "tools",
        className: "bpmn-icon-lasso-tool",
        title: "Lasso tool (L)",
        action: { click: (event) => lassoTool.activateSelection(event) },
      },
      "space-tool": {
        group: "tools",
        className: "bpmn-icon-space-tool",
        title: "Space tool (S)",
        action: { click: (event) => spaceTool.activateSelection(event) },
      },
      "global-connect-tool": {
        group: "tools",
        className: "bpmn-icon-connection-multi",
        title: "Connect tool (C)",
        action: { click: (event) => globalConnect.start(event) },
      },
      "tool-separator": { group: "tools", separator: true },
    };
    for (const group of KIND_GROUPS) {
      for (const [kind, def] of Object.entries(KINDS)) {
        if (def.group !== group.id) continue;
        const start = (event) => create.start(event, createKindShape(elementFactory, kind));
        entries[`create.${kind}`] = {
          group: `fy-${group.id}`,
          title: `${group.label}: ${def.label}`,
          html:
            `<div class="entry fy-pal" draggable="true" data-kind="${escapeHtml(kind)}">` +
            `<span class="fy-pal-icon ${kindIcon(kind)}" style="color:${def.stroke}"></span>` +
            `<span class="fy-pal-tag" style="background:${def.stroke}">${escapeHtml(def.badge)}</span></div>`,
          action: { dragstart: start, click: start },
        };
      }
    }
    return entries;
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
];
