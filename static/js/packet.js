// A handoff packet as the drawer shows it. The server renders the packet's
// Markdown to HTML with every raw HTML piece escaped (review/markdown.rs);
// here that HTML, already parsed into nodes, is only rearranged for reading:
// the header lines become a table, the Objective, Summary and Next Action
// (quoted as code blocks in the file, so a report cannot add structure to
// it) read as plain text, and each changed file gets its diff button in the
// packet's own list (shown once). Text moves only through textContent.

import { diffButton, el } from "./dom.js";

/** The packet's sections whose code blocks are prose. */
const PROSE = new Set(["objective", "summary", "next action"]);

const heading = (h) => h.textContent.trim().toLowerCase();

/** `key: value` header lines (after the title) as a two-column table. */
function headerTable(root) {
  const title = root.querySelector("h1");
  const p = title && title.nextElementSibling;
  if (!p || p.tagName !== "P") return;
  const rows = p.textContent.split("\n").map((line) => {
    const at = line.indexOf(": ");
    return at > 0 ? [line.slice(0, at), line.slice(at + 2)] : null;
  });
  if (!rows.length || rows.some((r) => !r || !/^[a-z_]+$/.test(r[0]))) return;
  p.replaceWith(el("table", { class: "packet-meta" },
    el("tbody", {}, rows.map(([k, v]) =>
      el("tr", {}, el("th", { attrs: { scope: "row" }, text: k.replace(/_/g, " ") }), el("td", { text: v }))))));
}

/** Code blocks under Objective, Summary and Next Action read as text. */
function proseSections(root) {
  let section = "";
  for (const node of Array.from(root.children)) {
    if (node.tagName === "H2") section = heading(node);
    else if (node.tagName === "PRE" && PROSE.has(section)) {
      node.replaceWith(el("p", { class: "packet-text", text: node.textContent.replace(/\n$/, "") }));
    }
  }
}

/** The packet's Changed Files list, each with its diff; returns whether found. */
function fileDiffs(root, files) {
  const h = Array.from(root.querySelectorAll("h2")).find((x) => heading(x) === "changed files");
  const list = h && h.nextElementSibling;
  if (!list || list.tagName !== "UL") return false;
  for (const li of list.children) {
    const code = li.querySelector("code");
    const name = code ? code.textContent : "";
    if (files.includes(name)) li.append(" ", diffButton(name));
  }
  return true;
}

/** Rearranges the rendered packet in `root` for reading (see the top). */
export function readable(root, result) {
  headerTable(root);
  proseSections(root);
  return fileDiffs(root, (result && result.changed_files) || []);
}
