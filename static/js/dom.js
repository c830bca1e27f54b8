// DOM helpers shared by the views. Nothing here parses text as HTML: nodes are
// built with createElement and filled with textContent.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const SVG_NS = "http://www.w3.org/2000/svg";

/** el("div", {class, text, title, data: {...}, attrs: {...}, on: {...}}, ...children) */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  applyOpts(node, opts);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" || typeof child === "number"
      ? document.createTextNode(String(child)) : child);
  }
  return node;
}

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function applyOpts(node, opts) {
  if (opts.class) node.className = opts.class;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  if (opts.title) node.title = opts.title;
  if (opts.type) node.type = opts.type;
  if (opts.hidden) node.hidden = true;
  for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = String(v);
  for (const [k, v] of Object.entries(opts.attrs || {})) {
    if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [k, v] of Object.entries(opts.on || {})) node.addEventListener(k, v);
}

/** `text` as nodes, its `quoted` parts (commands, names) as code. */
export function withCode(text) {
  return String(text).split("`").map((part, i) => (i % 2 ? el("code", { text: part }) : part));
}

/** Replaces a node's children with `nodes`. */
export function replaceChildren(parent, ...nodes) {
  parent.replaceChildren(...nodes.flat().filter(Boolean));
}

/** Puts exactly `nodes` into `parent` in order, moving only what is out of place. */
export function syncChildren(parent, nodes) {
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

export function setText(node, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function setClass(node, base, modifier) {
  const value = modifier ? `${base} ${modifier}` : base;
  if (node.className !== value) node.className = value;
}

/** A placeholder paragraph, kept if it is already there. */
export function emptyNote(container, text) {
  const note = $(":scope > .empty-note", container);
  if (note && container.children.length === 1) {
    setText(note, text);
    return;
  }
  replaceChildren(container, el("p", { class: "empty-note", text }));
}

/** A button that asks "Really …?" before it acts. */
export function armedButton(button, label, armedLabel, action) {
  let armed = null;
  const reset = () => {
    armed = null;
    button.textContent = label;
    button.classList.remove("armed");
  };
  button.addEventListener("click", () => {
    if (armed === null) {
      button.textContent = armedLabel;
      button.classList.add("armed");
      armed = setTimeout(reset, 4000);
      return;
    }
    clearTimeout(armed);
    reset();
    action();
  });
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) {
    // fall through to the textarea way
  }
  const area = el("textarea", { class: "copy-buffer", attrs: { readonly: true, "aria-hidden": "true" } });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (e) {
    ok = false;
  }
  area.remove();
  return ok;
}

export function copyButton(text, title = "copy") {
  const button = el("button", { type: "button", class: "small copy-btn", text: "copy", title, attrs: { "aria-label": title } });
  button.dataset.copy = text;
  button.addEventListener("click", async () => {
    const ok = await copyText(text);
    button.textContent = ok ? "copied" : "copy failed";
    button.classList.toggle("copied", ok);
    setTimeout(() => {
      button.textContent = "copy";
      button.classList.remove("copied");
    }, 1500);
  });
  return button;
}

/** A button that opens a changed file's diff in the drawer (drawer.js). */
export function diffButton(path, base) {
  return el("button", {
    type: "button",
    class: "small open-diff",
    text: "diff",
    title: `show the changes of ${path}`,
    attrs: { "aria-label": `diff of ${path}` },
    data: { openDiff: "1", path, base: base || "" },
  });
}

/** "label: " and the paths as a list of code, or null when there are none. */
export function pathList(label, paths) {
  const all = (paths || []).filter(Boolean);
  if (!all.length) return null;
  return el("div", { class: "need-files" },
    el("span", { class: "need-files-label", text: `${label}: ` }),
    el("ul", { attrs: { "aria-label": label } }, all.map((p) => el("li", {}, el("code", { text: p })))));
}

/** `text` as nodes that may wrap after each '-' (a <wbr>), so a title like
 * "gongchengbu-1" wraps there on a phone, never in the middle of a word. */
export function breakable(text) {
  const parts = String(text === null || text === undefined ? "" : text).split(/(?<=-)/);
  return parts.flatMap((p, i) => (i < parts.length - 1 ? [p, document.createElement("wbr")] : [p]));
}

/** Sets a title's text as [breakable] nodes, when it changed. */
export function setBreakable(node, text) {
  const value = String(text === null || text === undefined ? "" : text);
  if (node.textContent === value && node.dataset.wraps === "1") return;
  node.replaceChildren(...breakable(value));
  node.dataset.wraps = "1";
}
