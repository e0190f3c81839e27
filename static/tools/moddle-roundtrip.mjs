// Reads BPMN files with bpmn-moddle and the editor's flowyard extension (derived from the node registry
// JSON given first), writes them back, and fails when the extension breaks an element or drops an id.
// Usage: node tools/moddle-roundtrip.mjs registry.json file.bpmn...
import { readFileSync } from "node:fs";
import { BpmnModdle } from "bpmn-moddle";

import { moddleDescriptor } from "../src/editor/kinds.js";

const [registryPath, ...files] = process.argv.slice(2);
const moddle = new BpmnModdle({ flowyard: moddleDescriptor(JSON.parse(readFileSync(registryPath, "utf8"))) });
const ids = (xml) => new Set([...xml.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
let failed = 0;
for (const file of files) {
  const xml = readFileSync(file, "utf8");
  const { rootElement, warnings } = await moddle.fromXML(xml);
  const { xml: out } = await moddle.toXML(rootElement, { format: true });
  // bpmn-js itself refuses ids that are not XML names; those are reported to the user, not our doing.
  const refused = new Set(warnings.map((w) => (/illegal ID <(.*)>/.exec(w.message) || [])[1]).filter(Boolean));
  const lost = [...ids(xml)].filter((id) => !ids(out).has(id) && !refused.has(id.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(n))));
  const ours = warnings.filter((w) => /flowyard|already defined/.test(w.message));
  const verdict = ours.length || lost.length > refused.size * 2 ? "FAIL" : "ok";
  if (verdict === "FAIL") failed += 1;
  console.log(`${verdict}\t${file.split("/").pop()}\twarnings=${warnings.length}\textension=${ours.length}\tlost=${lost.length}`);
  for (const w of ours) console.log(`\t${w.message.split("\n")[0]}`);
}
process.exit(failed ? 1 : 0);
