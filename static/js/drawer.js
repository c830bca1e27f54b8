// The review drawer: a side panel that opens a result's handoff packet (HTML
// the server rendered with all raw HTML escaped, arranged for reading by
// packet.js: a header table, prose as text, each changed file once with its
// diff), the report as received, a changed file's diff with line numbers
// (with Back to the packet it came from), and a department's own changes
// (decision.js: every changed file's diff stacked, the decision at the foot,
// its keys while it shows, and where it stands in the review queue with
// Review next). Opened from any button carrying data-open-handoff,
// data-open-diff (inbox cards, the governance report, the timeline's report
// marks), data-open-changes (session rows, plan assignments) or
// data-open-conversation (every session row: that attempt's conversation,
// or its transcript, kept current while it shows); Esc or Close
// shuts it and gives the focus back to the button that opened it (or, when a
// redraw replaced that button, to its successor).

import { api } from "./api.js";
import { conversationView } from "./conversation.js";
import { showChanges } from "./decision.js";
import { diffTables } from "./diff_table.js";
import { readable } from "./packet.js";
import { nextAfter, position, reviewNextButton } from "./review_queue.js";
import * as store from "./store.js";

const $ = (sel) => document.querySelector(sel);
let opener = null;
/** What reopens the opener when a redraw replaced it: its data attributes. */
let openerKey = null;
/** What the drawer shows ({label, reopen}: a packet or a department's
 * changes), for Back from a diff opened there. */
let packetShown = null;
/** The keys of what the drawer shows (the changes' decision), or null. */
let keys = null;
/** Bumped by each opening of the drawer: a load of a department's changes
 * that finishes after a newer opening began (a reload after a decision,
 * then another department opened) shows nothing. */
let loads = 0;

function node(tag, cls, text, children = []) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  n.append(...children);
  return n;
}

function open(title, ...content) {
  if (unfollow) unfollow();
  unfollow = null;
  keys = null;
  loads += 1;
  const drawer = $("#drawer");
  $("#drawer-title").textContent = title;
  $("#drawer-body").replaceChildren(...content);
  drawer.hidden = false;
  $("#drawer-close").focus();
}

/** Unsubscribes the conversation the drawer shows from the store, if one. */
let unfollow = null;

/** Session `id`'s conversation (its transcript for a terminal agent), as it goes on. */
function showConversation(id) {
  const conv = conversationView(id, { input: false });
  open(`Conversation of ${id}`, conv.root);
  const s = store.session(id);
  if (s) conv.update(s);
  unfollow = store.subscribe((changed) => {
    const now = store.session(id);
    if (changed.has("status") && now) conv.update(now);
  });
}

function close() {
  if (unfollow) unfollow();
  unfollow = null;
  keys = null;
  $("#drawer").hidden = true;
  $("#drawer-body").replaceChildren();
  packetShown = null;
  const back = opener && document.contains(opener) ? opener : successor();
  if (back) back.focus();
  opener = null;
  openerKey = null;
}

/** The button that now stands where the opener stood (same data), if any. */
function successor() {
  if (!openerKey) return null;
  const sel = Object.entries(openerKey)
    .map(([k, v]) => `[data-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}="${CSS.escape(v)}"]`)
    .join("");
  return sel ? document.querySelector(sel) : null;
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

/** The developer saw these results (the page's read state, kept by the
 * launcher); a failure only leaves them new. */
function markSeen(parent, department, report) {
  if (!parent) return;
  store.markSeen(parent, department, report);
  api("/api/mark_seen", { parent_session_id: parent, department_session_id: department, report_id: report }).catch(() => {});
}

async function showHandoff(b) {
  const q = new URLSearchParams({
    session_id: b.dataset.session,
    department_session_id: b.dataset.department,
    report_id: b.dataset.report,
  });
  const dept = store.session(b.dataset.department);
  const who = `${dept ? store.deptTitle(dept.department) : b.dataset.department} · ${b.dataset.department}`;
  const title = `Report of ${who}${b.dataset.report !== b.dataset.department ? ` (${b.dataset.report})` : ""}`;
  open(title, node("p", "hint", "Loading…"));
  try {
    const v = await api(`/api/handoff?${q}`);
    markSeen(b.dataset.session, b.dataset.department, b.dataset.report);
    const packet = node("section", "drawer-section");
    packet.append(node("h3", "sub", "Handoff packet"));
    let listed = false;
    if (v.html) {
      const md = node("div", "drawer-markdown");
      md.innerHTML = v.html; // rendered by the server with every raw HTML piece escaped
      packetLinks(md);
      listed = readable(md, v.result);
      packet.append(md);
    } else {
      packet.append(node("p", "empty-note", "No handoff packet was written."));
    }
    const parts = [packet];
    if (!listed && (v.result.changed_files || []).length) {
      // No packet to list them: the files with their diffs.
      const files = node("section", "drawer-section");
      files.append(node("h3", "sub", "Changed files"));
      const list = node("ul", "file-list");
      for (const f of v.result.changed_files) {
        const li = node("li");
        const diff = node("button", "small open-diff", "diff");
        diff.type = "button";
        diff.dataset.openDiff = "1";
        diff.dataset.path = f;
        li.append(node("code", "", f), " ", diff);
        list.append(li);
      }
      files.append(list);
      parts.push(files);
    }
    const raw = node("details", "drawer-section drawer-raw-section");
    raw.append(node("summary", "sub", v.raw_source === "mailbox_file" ? "The report as received" : "The stored result (no mailbox file)"));
    raw.append(node("pre", "drawer-raw", v.raw));
    parts.push(raw);
    $("#drawer-body").replaceChildren(...parts);
    const shown = {
      label: "← Back to the report",
      reopen: () => {
        open(title, ...parts);
        packetShown = shown;
      },
    };
    packetShown = shown;
  } catch (e) {
    $("#drawer-body").replaceChildren(node("p", "form-msg error", `Cannot open it: ${e.message}`));
  }
}

/** The review queue's place of `id`, and the button to the next waiting work. */
function queueNav(id) {
  const { at, of } = position(id);
  const next = nextAfter(id);
  if (!of) return null;
  const where = at ? `Waiting for your review: ${at} of ${of}` : `${of === 1 ? "1 department's changes wait" : `${of} departments' changes wait`} for your review`;
  return node("p", "drawer-queue", where, next ? [" ", reviewNextButton(next, at ? "Review next ▸" : "Review next")] : []);
}

async function changes(id) {
  open(`Changes of ${id}`, node("p", "hint", "Loading…"));
  const mine = loads;
  packetShown = null;
  keys = null;
  try {
    // After a decision the drawer shows the department anew, unless the
    // user opened something else while it was being carried out.
    const shown = await showChanges(id, () => {
      if (mine === loads && !$("#drawer").hidden) changes(id);
    });
    if (mine !== loads || $("#drawer").hidden) return;
    $("#drawer-title").replaceChildren(...[shown.title, shown.badge].filter(Boolean));
    $("#drawer-body").replaceChildren(...[queueNav(id), ...shown.parts].filter(Boolean));
    keys = shown.keys;
    packetShown = { label: "← Back to the changes", reopen: () => changes(id) };
    const dept = store.session(id);
    if (dept && dept.parent_session_id) markSeen(dept.parent_session_id, id);
  } catch (e) {
    if (mine === loads) $("#drawer-body").replaceChildren(node("p", "form-msg error", `Cannot show its changes: ${e.message}`));
  }
}

/** Back from a diff to the packet (or the changes) it was opened from. */
function backButton() {
  const shown = packetShown;
  if (!shown) return null;
  const back = node("button", "small drawer-back", shown.label);
  back.type = "button";
  back.addEventListener("click", shown.reopen);
  return back;
}

async function showDiff(b) {
  const path = b.dataset.path;
  const base = b.dataset.base || "";
  const session = b.dataset.session || "";
  const back = $("#drawer").contains(b) ? backButton() : null;
  if (!back) packetShown = null;
  const against = session ? ` by ${session}` : base ? ` against ${base}` : " against HEAD";
  open(`${path}${against}`, ...[back, node("p", "hint", "Loading…")].filter(Boolean));
  try {
    const q = new URLSearchParams({ path });
    if (base) q.set("base", base);
    if (session) q.set("session_id", session);
    const d = await api(`${session ? "/api/changes" : "/api/diff"}?${q}`);
    const head = node("p", "diff-summary", `${d.status} · +${d.added} −${d.removed}`);
    const parts = [back, head, ...diffTables(d)].filter(Boolean);
    $("#drawer-body").replaceChildren(...parts);
  } catch (e) {
    $("#drawer-body").replaceChildren(...[back, node("p", "form-msg error", `Cannot show the diff: ${e.message}`)].filter(Boolean));
  }
}

export function mount() {
  document.addEventListener("click", onClick);
  document.addEventListener("keydown", (event) => {
    if ($("#drawer").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
    if (keys && keys(event)) {
      event.preventDefault();
      return;
    }
    if (event.key === "Escape") close();
  });
  $("#drawer-close").addEventListener("click", close);
}

function onClick(event) {
  const b = event.target.closest && event.target.closest("[data-open-handoff], [data-open-diff], [data-open-changes], [data-open-conversation]");
  if (!b) return;
  event.preventDefault();
  if (!$("#drawer").contains(b)) {
    opener = b;
    openerKey = b.dataset.openHandoff
      ? { openHandoff: "1", department: b.dataset.department, report: b.dataset.report }
      : b.dataset.openChanges
        ? { openChanges: b.dataset.openChanges }
        : b.dataset.openConversation
          ? { openConversation: b.dataset.openConversation }
          : { openDiff: "1", path: b.dataset.path };
  }
  if (b.dataset.openHandoff) showHandoff(b);
  else if (b.dataset.openChanges) changes(b.dataset.openChanges);
  else if (b.dataset.openConversation) showConversation(b.dataset.openConversation);
  else showDiff(b);
}
