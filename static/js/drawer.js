// The review drawer: a side panel that opens a result's handoff packet (HTML
// the server rendered with all raw HTML escaped), the report as received, and
// a changed file's diff with line numbers. Opened from any button carrying
// data-open-handoff, data-open-diff (inbox cards, the governance report, the
// timeline's report marks) or data-open-changes (a department's own changes,
// changes.js: a diff there is its recorded commit's against its base);
// Esc or Close shuts it and gives the focus back to the button.

import { api } from "./api.js";
import { showChanges } from "./changes.js";

const $ = (sel) => document.querySelector(sel);
let opener = null;

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function open(title, ...content) {
  const drawer = $("#drawer");
  $("#drawer-title").textContent = title;
  $("#drawer-body").replaceChildren(...content);
  drawer.hidden = false;
  $("#drawer-close").focus();
}

function close() {
  $("#drawer").hidden = true;
  $("#drawer-body").replaceChildren();
  if (opener && document.contains(opener)) opener.focus();
  opener = null;
}

/** A packet's links never act on this page: one to a fragment (the server
 * already turns `#token…` into `#`) goes nowhere, any other opens in a new
 * tab that gets neither this page's window nor its address. */
function packetLinks(root) {
  for (const a of root.querySelectorAll("a[href]")) {
    if (a.getAttribute("href").startsWith("#")) {
      a.removeAttribute("href");
      continue;
    }
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
}

async function showHandoff(b) {
  const q = new URLSearchParams({
    session_id: b.dataset.session,
    department_session_id: b.dataset.department,
    report_id: b.dataset.report,
  });
  open(`Report ${b.dataset.report} of ${b.dataset.department}`, node("p", "hint", "Loading…"));
  try {
    const v = await api(`/api/handoff?${q}`);
    const packet = node("section", "drawer-section");
    packet.append(node("h3", "sub", "Handoff packet"));
    if (v.html) {
      const md = node("div", "drawer-markdown");
      md.innerHTML = v.html; // rendered by the server with every raw HTML piece escaped
      packetLinks(md);
      packet.append(md);
    } else {
      packet.append(node("p", "empty-note", "No handoff packet was written."));
    }
    const files = node("section", "drawer-section");
    files.append(node("h3", "sub", "Changed files"));
    const list = node("ul", "file-list");
    for (const f of v.result.changed_files || []) {
      const li = node("li");
      const diff = node("button", "small open-diff", "diff");
      diff.type = "button";
      diff.dataset.openDiff = "1";
      diff.dataset.path = f;
      li.append(node("code", "", f), " ", diff);
      list.append(li);
    }
    if (!list.children.length) list.append(node("li", "none", "none"));
    files.append(list);
    const raw = node("section", "drawer-section");
    raw.append(node("h3", "sub", v.raw_source === "mailbox_file" ? "The report as received" : "The stored result (no mailbox file)"));
    raw.append(node("pre", "drawer-raw", v.raw));
    $("#drawer-body").replaceChildren(packet, files, raw);
  } catch (e) {
    $("#drawer-body").replaceChildren(node("p", "form-msg error", `Cannot open it: ${e.message}`));
  }
}

async function changes(id) {
  open(`Changes of ${id}`, node("p", "hint", "Loading…"));
  try {
    $("#drawer-body").replaceChildren(...(await showChanges(id, () => changes(id))));
  } catch (e) {
    $("#drawer-body").replaceChildren(node("p", "form-msg error", `Cannot show its changes: ${e.message}`));
  }
}

async function showDiff(b) {
  const path = b.dataset.path;
  const base = b.dataset.base || "";
  const session = b.dataset.session || "";
  open(`${path}${session ? ` by ${session}` : base ? ` against ${base}` : " against HEAD"}`, node("p", "hint", "Loading…"));
  try {
    const q = new URLSearchParams({ path });
    if (base) q.set("base", base);
    if (session) q.set("session_id", session);
    const d = await api(`${session ? "/api/changes" : "/api/diff"}?${q}`);
    const head = node("p", "diff-summary", `${d.status} · +${d.added} −${d.removed}${d.truncated ? " · cut: too long to show whole" : ""}`);
    const parts = [head];
    if (d.binary) parts.push(node("p", "empty-note", "A binary file: its content is not shown."));
    for (const h of d.hunks) {
      const table = node("table", "diff");
      const caption = node("caption", "", h.header);
      table.append(caption);
      for (const line of h.lines) {
        const tr = node("tr", `diff-${line.kind}`);
        tr.append(
          node("td", "ln", line.old_line === null ? "" : String(line.old_line)),
          node("td", "ln", line.new_line === null ? "" : String(line.new_line)),
          node("td", "mark", line.kind === "add" ? "+" : line.kind === "del" ? "−" : " "),
          node("td", "code", line.text));
        table.append(tr);
      }
      parts.push(table);
    }
    $("#drawer-body").replaceChildren(...parts);
  } catch (e) {
    $("#drawer-body").replaceChildren(node("p", "form-msg error", `Cannot show the diff: ${e.message}`));
  }
}

export function mount() {
  document.addEventListener("click", onClick);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#drawer").hidden) close();
  });
  $("#drawer-close").addEventListener("click", close);
}

function onClick(event) {
  const b = event.target.closest && event.target.closest("[data-open-handoff], [data-open-diff], [data-open-changes]");
  if (!b) return;
  event.preventDefault();
  if (!$("#drawer").contains(b)) opener = b;
  if (b.dataset.openHandoff) showHandoff(b);
  else if (b.dataset.openChanges) changes(b.dataset.openChanges);
  else showDiff(b);
}
