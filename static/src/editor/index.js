// The Flowyard bpmn-js modules: kinds and renderer for every mode, palette and context pad for the modeler.
import FlowyardContextPadProvider from "./context-pad";
import FlowyardFlowRenderer from "./flows";
import ElementFrames from "./frames";
import { KindsModule } from "./kinds";
import FlowyardPaletteProvider from "./palette";
import FlowyardRenderer from "./renderer";
import TaskStamps from "./stamps";

export const RenderModule = {
  __depends__: [KindsModule],
  __init__: ["flowyardRenderer", "flowyardFlowRenderer", "flowyardFrames"],
  flowyardRenderer: ["type", FlowyardRenderer],
  flowyardFlowRenderer: ["type", FlowyardFlowRenderer],
  flowyardStamps: ["type", TaskStamps],
  flowyardFrames: ["type", ElementFrames],
};

export const ModelingModule = {
  __depends__: [KindsModule],
  __init__: ["flowyardContextPadProvider"],
  paletteProvider: ["type", FlowyardPaletteProvider],
  flowyardContextPadProvider: ["type", FlowyardContextPadProvider],
};
