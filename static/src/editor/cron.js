// A small standard 5-field cron parser (minute hour day-of-month month day-of-week) for the
// "next runs" preview. Supports *, lists, ranges, steps, month/day names and @hourly-style macros.
// Times are computed in UTC, the engine's schedule time zone.

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], base: 1 },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], base: 0 },
];

const MACROS = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function parseValue(text, field) {
  const lower = text.toLowerCase();
  if (field.names) {
    const idx = field.names.indexOf(lower);
    if (idx >= 0) return idx + field.base;
  }
  if (!/^\d+$/.test(text)) throw new Error(`invalid ${field.name} value "${text}"`);
  const n = Number(text);
  if (n < field.min || n > field.max) throw new Error(`${field.name} ${n} is out of range ${field.min}-${field.max}`);
  return n;
}

function parseField(text, field) {
  const values = new Set();
  for (const part of text.split(",")) {
    if (!part) throw new Error(`empty list item in ${field.name}`);
    const [rangePart, stepPart, extra] = part.split("/");
    if (extra !== undefined) throw new Error(`invalid step in ${field.name}`);
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) === 0) throw new Error(`invalid step "${stepPart}" in ${field.name}`);
      step = Number(stepPart);
    }
    let lo;
    let hi;
    if (rangePart === "*") {
      lo = field.min;
      hi = field.max;
    } else if (rangePart.includes("-")) {
      const [a, b] = rangePart.split("-");
      lo = parseValue(a, field);
      hi = parseValue(b, field);
      if (lo > hi) throw new Error(`range ${rangePart} goes backwards in ${field.name}`);
    } else {
      lo = parseValue(rangePart, field);
      // "5/15" means from 5 to the end in steps of 15.
      hi = stepPart !== undefined ? field.max : lo;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

/** Parse a cron expression; throws an Error with a readable message when it is invalid. */
export function parseCron(expression) {
  let text = String(expression || "").trim();
  if (!text) throw new Error("empty cron expression");
  if (text.startsWith("@")) {
    const macro = MACROS[text.toLowerCase()];
    if (!macro) throw new Error(`unknown macro ${text}`);
    text = macro;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields (minute hour day month weekday), got ${parts.length}`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i]));
  if (weekdays.has(7)) {
    weekdays.delete(7);
    weekdays.add(0);
  }
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    // Vixie cron: when both day fields are restricted, a day matches if EITHER matches.
    // (Like Vixie cron, a field starting with "*" — including "*/2" — counts as unrestricted.)
    dayStar: parts[2].startsWith("*"),
    weekdayStar: parts[4].startsWith("*"),
  };
}

function dayMatches(spec, date) {
  const dom = spec.days.has(date.getUTCDate());
  const dow = spec.weekdays.has(date.getUTCDay());
  if (spec.dayStar && spec.weekdayStar) return true;
  if (spec.dayStar) return dow;
  if (spec.weekdayStar) return dom;
  return dom || dow;
}

/** The next `count` run times (Date, UTC) strictly after `from`. */
export function nextRuns(expression, count = 3, from = new Date()) {
  const spec = parseCron(expression);
  const runs = [];
  const d = new Date(from.getTime());
  d.setUTCSeconds(0, 0);
  d.setUTCMinutes(d.getUTCMinutes() + 1);
  // Bounded search: 5 years of days is enough for any valid expression (e.g. Feb 29 on a Monday).
  const limit = from.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (runs.length < count && d.getTime() < limit) {
    if (!spec.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(spec, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!spec.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!spec.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    runs.push(new Date(d.getTime()));
    d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
  }
  if (runs.length === 0) throw new Error("this expression never runs");
  return runs;
}

/** "2025-01-31 14:05 UTC" */
export function formatRun(date) {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
