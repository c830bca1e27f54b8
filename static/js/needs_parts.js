// One "Needs you" item as the server sent it (status.needs_you, made by
// src/views/needs_you/): its words, the parts under them, the box it
// offers to write in, and its actions (need_actions.js). Nothing here
// decides whether an item exists or what it says. User text is only ever
// set as textContent.

import { el, pathList, withCode } from "./dom.js";
import { actionButton } from "./need_actions.js";
import { link } from "./pull_request.js";
import * as store from "./store.js";

/** Item key + box name -> the box, made once, so a redraw keeps what is typed. */
const boxes = new Map();
/** Planner id -> the revision of its plan first shown here. */
const firstShown = new Map();

export function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

/** The box of `item`, made once per item. */
function box(item) {
  const spec = item.input;
  const key = `${item.key}\n${spec.name}`;
  let b = boxes.get(key);
  if (b) return b;
  if (spec.rows) {
    b = node("textarea", spec.class);
    b.rows = spec.rows;
    if (spec.placeholder) b.placeholder = spec.placeholder;
  } else {
    b = node("input", spec.class);
    b.type = "number";
    b.min = "0";
    if (spec.step) b.step = spec.step;
    if (spec.value !== undefined) b.value = spec.value;
  }
  b.setAttribute("aria-label", spec.label);
  boxes.set(key, b);
  return b;
}

/** Forgets the boxes of items no longer shown. */
export function forgetBoxes(keys) {
  for (const key of boxes.keys()) if (!keys.has(key.split("\n")[0])) boxes.delete(key);
}

/** What a plan would start, and whether it changed since first shown here. */
function plan(item, p) {
  const out = [];
  const id = item.session;
  if (!firstShown.has(id)) firstShown.set(id, item.revision);
  const first = firstShown.get(id);
  if (first !== item.revision) {
    out.push(node("div", "need-changed", `The plan changed since it was first shown here (revision ${first} → ${item.revision}): this is the new plan.`));
  }
  const list = node("ol", "need-plan");
  for (const a of p.assignments || []) {
    const li = node("li", a.selected === false ? "unselected" : "");
    li.dataset.department = a.department;
    li.append(node("span", "row-name", store.deptTitle(a.department)), ": ", node("span", "need-task", a.task));
    list.append(li);
  }
  out.push(list);
  return out;
}

/** The review queue's departments, each a button that opens its changes. */
function queue(entries) {
  return el("ul", { class: "queue-list", attrs: { "aria-label": "waiting changes" } }, entries.map((e) =>
    el("li", { class: "queue-entry", data: { session: e.session } },
      el("button", { type: "button", class: "small badge-link", text: e.line, title: e.title, data: { openChanges: e.session } }),
      ...e.parts.map((p) => part(null, p)))));
}

/** One part under an item's words. */
function part(item, p) {
  switch (p.part) {
    case "line": return node("div", p.class, p.text);
    case "why": return node("p", "need-why", p.text);
    case "said": return node("blockquote", "need-said", p.text);
    case "output": return node("pre", "need-output", p.text);
    case "paths": return pathList(p.label, p.paths);
    case "link": return el("p", { class: "need-files" }, link(p.url, p.url));
    case "plan": return plan(item, p);
    case "queue": return queue(p.entries);
    default: return null;
  }
}

/** The item's node. */
export function itemNode(item) {
  const li = node("li", `need need-${item.kind}`);
  li.dataset.key = item.key;
  li.dataset.kind = item.kind;
  if (item.session) li.dataset.session = item.session;
  if (item.revision !== undefined) li.dataset.revision = String(item.revision);
  li.append(node("div", "need-text", item.text));
  if (item.detail) li.append(el("div", { class: "need-detail" }, withCode(item.detail)));
  for (const p of item.body || []) {
    const made = part(item, p);
    if (made) li.append(...[made].flat().filter(Boolean));
  }
  const input = item.input ? box(item) : null;
  if (input && !item.input.in_actions) li.append(input);
  const actions = node("div", "need-actions");
  if (input && item.input.in_actions) actions.append(input);
  actions.append(...item.actions.map((a) => actionButton(item, a, li, input)));
  li.append(actions);
  return li;
}
