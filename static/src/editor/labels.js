// One-line task labels laid out without diagram-js's Text util: most names fit on one line, and for those
// the layout is a measured width and a centred <tspan>. diagram-js re-parses the canvas font and writes the
// <text>'s style through CSSOM for every label; here the <text> is cloned and the font set once per look.
// A look's layout is learnt from a label diagram-js laid out and used only if it reproduces that label.

// Shared with TaskStamps.label(): the padding renderEmbeddedLabel gives task labels.
export const LABEL_PADDING = 7;
// Line breaks and soft hyphens make diagram-js split or shorten the line: left to it.
const BREAKS = /[\r\n\u00AD]/;

const measuring = { context: null, font: null, letterSpacing: null };

/** The advance width of `text` in the CSS `font`, measured the way diagram-js measures it. */
function textWidth(font, letterSpacing, text) {
  const m = measuring;
  m.context = m.context || document.createElement("canvas").getContext("2d");
  // Setting a canvas font parses it: only when it changes (the context reads it back normalised).
  if (m.font !== font) m.context.font = m.font = font;
  if (m.letterSpacing !== letterSpacing && "letterSpacing" in m.context) m.context.letterSpacing = m.letterSpacing = letterSpacing;
  const trimmed = text.replace(/\s+$/, "");
  return trimmed ? m.context.measureText(trimmed).width : 0;
}

/** A label of `element` laid out on one line with `line` (from learnOneLine), or null when it needs more. */
export function oneLineLabel(line, element) {
  const name = element.businessObject.name || "";
  if (BREAKS.test(name)) return null;
  const maxWidth = element.width - 2 * LABEL_PADDING;
  const width = textWidth(line.font, line.letterSpacing, name);
  if (width > maxWidth && name.length > 1) return null;
  const text = line.text.cloneNode(false);
  const tspan = line.tspan.cloneNode(false);
  tspan.setAttribute("x", Math.max((maxWidth - width) / 2 + LABEL_PADDING, 0));
  tspan.textContent = name;
  text.appendChild(tspan);
  return text;
}

/**
 * The one-line layout of the look of `element`, learnt from `label` (what diagram-js drew for it): undefined
 * when that label has several lines (learn from another one), null when the layout here does not reproduce it.
 */
export function learnOneLine(label, element) {
  if (label.childNodes.length !== 1 || label.firstChild.nodeName !== "tspan") return undefined;
  const s = label.style;
  const line = {
    text: label.cloneNode(false),
    tspan: label.firstChild.cloneNode(false),
    font: [s.fontStyle, s.fontVariant, s.fontWeight, s.fontStretch, s.fontSize || "12px", s.fontFamily || "sans-serif"].filter(Boolean).join(" "),
    letterSpacing: s.letterSpacing || "0px",
  };
  const copy = oneLineLabel(line, element);
  return copy && copy.outerHTML === label.outerHTML ? line : null;
}
