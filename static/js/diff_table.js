// One file's diff as tables with line numbers (the API's FileDiff: hunks of
// add/del/ctx lines). The drawer shows a diff opened on its own with it, and
// the changes drawer stacks each changed file's. Agent text: set as text only.

import { el } from "./dom.js";

const MARK = { add: "+", del: "−", ctx: " " };
const number = (n) => (n === null || n === undefined ? "" : String(n));

/** A row's line numbers as data (`data-old-line`, `data-new-line`), for review comments. */
function lineNumbers(line) {
  const data = {};
  if (line.old_line !== null && line.old_line !== undefined) data.oldLine = line.old_line;
  if (line.new_line !== null && line.new_line !== undefined) data.newLine = line.new_line;
  return data;
}

/** The tables of a FileDiff's hunks, plus a note for a binary file. */
export function diffTables(d) {
  const parts = [];
  if (d.binary) parts.push(el("p", { class: "empty-note", text: "A binary file: its content is not shown." }));
  for (const h of d.hunks || []) {
    parts.push(el("table", { class: "diff" },
      el("caption", { text: h.header }),
      el("tbody", {}, (h.lines || []).map((line) => el("tr", { class: `diff-line diff-${line.kind}`, data: lineNumbers(line) },
        el("td", { class: "ln", text: number(line.old_line) }),
        el("td", { class: "ln", text: number(line.new_line) }),
        el("td", { class: "mark", text: MARK[line.kind] || " " }),
        el("td", { class: "code", text: line.text }))))));
  }
  if (d.truncated) parts.push(el("p", { class: "hint", text: "Cut here: the diff is too long to show whole." }));
  return parts;
}

/** "modified · +3 −1" for a FileDiff or a changed file. */
export function diffCounts(d) {
  return `${d.status} · ${d.binary ? "binary" : `+${d.added} −${d.removed}`}`;
}
