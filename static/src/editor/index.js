// The Flowyard bpmn-js module: renderer for every mode, palette and context pad for the modeler.
import FlowyardContextPadProvider from "./context-pad";
import FlowyardPaletteProvider from "./palette";
import FlowyardRenderer from "./renderer";

export const RenderModule = {
  __init__: ["flowyardRenderer"],
  flowyardRenderer: ["type", FlowyardRenderer],
};

export const ModelingModule = {
  __init__: ["flowyardContextPadProvider"],
  paletteProvider: ["type", FlowyardPaletteProvider],
  flowyardContextPadProvider: ["type", FlowyardContextPadProvider],
};
