// Opening a stored diagram: lay out files that have no diagram section, and find the diagram that
// shows the process Flowyard runs (a file may hold several processes and diagrams).
import { layoutProcess } from "bpmn-auto-layout";
import { BpmnModdle } from "bpmn-moddle";

const HAS_DIAGRAM = /<(?:[\w.-]+:)?BPMNDiagram[\s>/]/;

/** Fill in flow nodes' incoming/outgoing from the sequence flows: the auto layout follows only those. */
async function linkFlows(xml) {
  const moddle = new BpmnModdle();
  const { rootElement } = await moddle.fromXML(xml);
  for (const process of rootElement.rootElements.filter((e) => e.$type === "bpmn:Process")) {
    for (const flow of (process.flowElements || []).filter((e) => e.$type === "bpmn:SequenceFlow")) {
      const { sourceRef, targetRef } = flow;
      if (sourceRef && !(sourceRef.outgoing || []).includes(flow)) sourceRef.get("outgoing").push(flow);
      if (targetRef && !(targetRef.incoming || []).includes(flow)) targetRef.get("incoming").push(flow);
    }
  }
  return (await moddle.toXML(rootElement)).xml;
}

/** The XML to show and whether it had to be laid out (bpmn-io's auto layout, its first process only). */
export async function withLayout(xml) {
  if (HAS_DIAGRAM.test(xml)) return { xml, laidOut: false };
  return { xml: await layoutProcess(await linkFlows(xml)), laidOut: true };
}

/** The BPMNDiagram whose plane shows `processId` itself or a collaboration with a pool of it, or null. */
export function diagramFor(definitions, processId) {
  if (!processId || !definitions) return null;
  const shows = (element) =>
    Boolean(element) &&
    (element.id === processId ||
      (element.$type === "bpmn:Collaboration" && (element.participants || []).some((p) => p.processRef && p.processRef.id === processId)));
  return (definitions.diagrams || []).find((d) => d.plane && shows(d.plane.bpmnElement)) || null;
}

/** One readable line from a bpmn-js import warning ("unparsable content <x> detected (line 3): illegal ID <y>"). */
export function describeWarning(warning) {
  const lines = String(warning.message || warning).split("\n").map((l) => l.trim());
  const field = (name) => (lines.find((l) => l.startsWith(`${name}:`)) || "").slice(name.length + 1).trim();
  const where = field("line") ? ` (line ${field("line")}, column ${field("column")})` : "";
  const nested = field("nested error");
  return `${lines[0]}${where}${nested ? `: ${nested}` : ""}`;
}

/** Text of a BPMN file chosen in the editor, decoded as its XML declaration says (UTF-8 when it names none). */
export async function readBpmnFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const head = new TextDecoder("ascii").decode(bytes.slice(0, 200));
  const declared = /^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']/.exec(head);
  // fatal: a byte that is not valid in the declared encoding is an error, never a silent U+FFFD.
  return new TextDecoder(declared ? declared[1] : "utf-8", { fatal: true }).decode(bytes);
}
