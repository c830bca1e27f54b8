// The focused Zhongshu: which one (the select), and its inbox of department
// results. Counts come from the status; the results from the first inbox page,
// kept current by deltas. Each card opens its handoff packet in the drawer.

import { $, copyButton, diffButton, el, replaceChildren, setText } from "./dom.js";
import { api, toast } from "./api.js";
import { dateTime, enc, list, parseTime } from "./format.js";
import * as store from "./store.js";

let selectKey = "";
let inboxKey = "";

function renderSelect() {
  const { status, focus } = store.get();
  const zs = (status && status.zhongshu_sessions) || [];
  const select = $("#focus");
  const key = JSON.stringify(zs.map((z) => [z.id, z.status, z.task, z.unread_result_count]));
  if (key !== selectKey) {
    selectKey = key;
    if (!zs.length) {
      replaceChildren(select, el("option", { text: "no Zhongshu session yet", attrs: { value: "" } }));
    } else {
      replaceChildren(select, zs.map((z) => {
        const task = z.task.length > 60 ? `${z.task.slice(0, 59)}…` : z.task;
        const unread = z.unread_result_count ? ` · ${z.unread_result_count} unread` : "";
        return el("option", { text: `${z.id} (${z.status}${unread}) — ${task}`, attrs: { value: z.id } });
      }));
    }
  }
  select.disabled = !zs.length;
  if (focus && select.value !== focus) select.value = focus;
}

function counts(focus) {
  const st = store.get().status;
  const kids = ((st && st.department_sessions) || []).filter((d) => d.parent_session_id === focus);
  const running = kids.filter(store.isRunning).length;
  const queued = ((st && st.queue) || []).filter((q) => q.parent_session_id === focus).length;
  const z = store.session(focus);
  return { running, completed: kids.length - running, queued, unread: (z && z.unread_result_count) || 0 };
}

function stat(value, label) {
  return el("span", { class: "stat" }, el("span", { class: "stat-value", text: value }), ` ${label}`);
}

function renderInbox() {
  const container = $("#inbox");
  const { focus, inbox: data } = store.get();
  const c = focus ? counts(focus) : null;
  const key = JSON.stringify([focus, data, c]);
  if (key === inboxKey) return;
  inboxKey = key;
  const unreadBadge = $("#inbox-unread");
  const markRead = $("#inbox-mark-read");
  if (!focus || !data || data.error) {
    markRead.disabled = true;
    unreadBadge.hidden = true;
    replaceChildren($("#inbox-summary"));
    replaceChildren(container, data && data.error
      ? el("p", { class: "form-msg error", text: `Cannot load the inbox: ${data.error}` })
      : el("p", { class: "empty-note", text: "Department reports arrive here." }));
    return;
  }
  const results = list(data.results).slice();
  results.sort((a, b) => (parseTime(b.reported_at) || 0) - (parseTime(a.reported_at) || 0));
  unreadBadge.hidden = c.unread === 0;
  setText(unreadBadge, `${c.unread} unread`);
  markRead.disabled = c.unread === 0;
  replaceChildren($("#inbox-summary"),
    stat(c.running, "running"), stat(c.completed, "completed"), stat(c.queued, "queued"), stat(results.length, "results"));
  if (!results.length) {
    replaceChildren(container, el("p", { class: "empty-note", text: "No department has reported yet." }));
    return;
  }
  replaceChildren(container, results.map(resultCard));
}

function field(label, value, cls) {
  if (value === null || value === undefined || value === "") return null;
  return el("div", { class: `kv ${cls || ""}` }, el("span", { class: "kv-key", text: label }), el("span", { class: "kv-value", text: value }));
}

function pathField(label, value, cls) {
  if (!value) return null;
  return el("div", { class: `kv ${cls}` },
    el("span", { class: "kv-key", text: label }),
    el("span", { class: "kv-value" }, el("code", { class: "path", text: value }), " ", copyButton(value, `copy the ${label.toLowerCase()} path`)));
}

function listOrNone(label, items, cls) {
  items = list(items);
  const code = cls === "result-files" || cls === "result-verifications";
  return el("div", { class: `kv ${cls}` },
    el("span", { class: "kv-key", text: label }),
    items.length
      ? el("ul", { class: "kv-list" }, items.map((x) => el("li", {},
        code ? el("code", { text: x }) : x,
        cls === "result-files" ? diffButton(x) : null)))
      : el("span", { class: "kv-value none", text: "none" }));
}

function badges(r, fallback) {
  return el("span", { class: "row-badges" },
    el("span", { class: `badge ${r.read ? "read" : "unread"}`, text: r.read ? "read" : "unread" }),
    el("span", { class: `badge source-${r.source}`, text: fallback ? "launcher fallback (no mailbox report)" : "mailbox" }),
    fallback ? null : el("span", { class: `badge ${r.verified ? "verified" : "unverified"}`, text: r.verified ? "verified: sent with the session's token" : "unverified: a file dropped by hand" }),
    r.needs_user_confirmation ? el("span", { class: "badge needs-confirmation", text: "needs your confirmation" }) : null);
}

function resultCard(r) {
  const fallback = r.source === "launcher_fallback";
  return el("article", {
    class: `inbox-result ${r.read ? "read" : "unread"}${fallback ? " fallback" : ""}`,
    data: { reportId: r.report_id, read: r.read ? "true" : "false", department: r.department, source: r.source },
  },
  el("div", { class: "row-head" },
    el("span", { class: "row-name", text: `${store.deptTitle(r.department)} · ${r.department_session_id}` }),
    badges(r, fallback)),
  el("div", { class: "row-meta" },
    el("span", { class: "row-time", text: `reported ${dateTime(r.reported_at)}`, title: r.reported_at }),
    el("span", { class: "report-id", text: `report ${r.report_id}` })),
  el("p", { class: "result-summary", text: r.summary }),
  listOrNone("Changed files", r.changed_files, "result-files"),
  listOrNone("Verification run", r.verifications_run, "result-verifications"),
  listOrNone("Verification skipped", r.verifications_skipped, "result-skipped"),
  listOrNone("Risks", r.risks, "result-risks"),
  field("Next action", r.next_action || "none", "result-next"),
  field("Needs confirmation", r.needs_user_confirmation ? "yes" : "no", "result-confirm"),
  field("Parent", r.parent_session_id, "result-parent"),
  el("div", { class: "row-actions" },
    el("button", {
      type: "button",
      class: "small open-handoff",
      text: "Open packet",
      title: "read the handoff packet and the report as received, in a drawer",
      data: { openHandoff: "1", session: r.parent_session_id, department: r.department_session_id, report: r.report_id },
    })),
  pathField("Handoff packet", r.handoff_packet, "result-handoff"),
  pathField("Mailbox file", r.mailbox_file, "result-mailbox"));
}

async function markAllRead() {
  const id = store.get().focus;
  if (!id) return;
  try {
    await api(`/api/zhongshu_inbox?id=${enc(id)}`);
    store.markFocusRead(id);
  } catch (e) {
    toast(`Could not mark read: ${e.message}`, "error");
  }
}

export function mount() {
  $("#focus").addEventListener("change", (event) => store.setFocus(event.target.value));
  $("#inbox-mark-read").addEventListener("click", markAllRead);
  store.subscribe((changed) => {
    if (changed.has("status") || changed.has("focus")) renderSelect();
    if (changed.has("inbox") || changed.has("focus") || changed.has("status")) renderInbox();
  });
}
