// The focused Zhongshu: which one (the select), and its inbox of department
// results. Counts come from the status (running, reported, failed, without a
// report, stopped, queued: a failure is never counted as done); the results
// from the first inbox page, kept current by deltas. Cards are compact: only
// what a report has, in plain words, the files on disk behind "Files"; each
// opens its handoff packet in the drawer. "New" is the developer's own read
// state (opening a packet or the department's changes, or Mark all read, sets
// it); whether the planner has read a result is only a small hint.

import { $, breakable, copyButton, diffButton, el, replaceChildren, setText } from "./dom.js";
import { api, toast } from "./api.js";
import { cutText, dateTime, list, parseTime } from "./format.js";
import * as store from "./store.js";

let selectKey = "";
let inboxKey = "";

function renderSelect() {
  const { status, focus } = store.get();
  const zs = (status && status.zhongshu_sessions) || [];
  const select = $("#focus");
  // A planner just started is the focus before the status lists it: it gets
  // its option at once, so the select never shows nothing beside its plan.
  const early = focus && !zs.some((z) => z.id === focus) ? focus : "";
  const key = JSON.stringify([zs.map((z) => [z.id, z.state_text || z.status, z.task]), early]);
  if (key !== selectKey) {
    selectKey = key;
    const options = zs.map((z) => {
      const task = cutText(z.task, 60);
      return el("option", { text: `${z.id} (${z.state_text || z.status}) — ${task}`, attrs: { value: z.id } });
    });
    if (early) options.unshift(el("option", { text: `${early} (starting)`, attrs: { value: early } }));
    if (!options.length) options.push(el("option", { text: "no planner yet", attrs: { value: "" } }));
    replaceChildren(select, options);
  }
  select.disabled = !zs.length && !early;
  if (focus && select.value !== focus) select.value = focus;
}

function counts(focus) {
  const st = store.get().status;
  const kids = ((st && st.department_sessions) || []).filter((d) => d.parent_session_id === focus);
  const by = (state) => kids.filter((d) => d.state === state).length;
  const queued = ((st && st.queue) || []).filter((q) => q.parent_session_id === focus).length;
  return {
    running: kids.filter((d) => store.isRunning(d) && !d.reported).length,
    reported: by("reported"),
    failed: by("failed"),
    noReport: by("no_report"),
    stopped: by("stopped_by_you"),
    queued,
  };
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
  const fresh = results.filter((r) => !r.seen).length;
  unreadBadge.hidden = fresh === 0;
  setText(unreadBadge, `${fresh} new`);
  markRead.disabled = fresh === 0;
  replaceChildren($("#inbox-summary"),
    stat(c.running, "running"), stat(c.reported, "reported"),
    c.failed ? stat(c.failed, "failed") : null, c.noReport ? stat(c.noReport, "without a report") : null,
    c.stopped ? stat(c.stopped, "stopped") : null, stat(c.queued, "queued"), stat(results.length, "results"));
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

function pathField(label, value) {
  if (!value) return null;
  return el("li", {},
    el("span", { class: "kv-key", text: label }), " ",
    el("code", { class: "path", text: value }), " ", copyButton(value, `copy the ${label.toLowerCase()} path`));
}

/** A list of what the report has; nothing at all when it has none. */
function listField(label, items, cls) {
  items = list(items);
  if (!items.length) return null;
  const code = cls === "result-files" || cls === "result-verifications";
  return el("div", { class: `kv ${cls}` },
    el("span", { class: "kv-key", text: label }),
    el("ul", { class: "kv-list" }, items.map((x) => el("li", {},
      code ? el("code", { text: x }) : x,
      cls === "result-files" ? diffButton(x) : null))));
}

/** How the report reached the launcher, in plain words (the title says more). */
function provenance(r) {
  if (r.source === "launcher_fallback") {
    return el("span", { class: "badge source-launcher_fallback", text: "no report: launcher fallback", title: "the department ended without reporting; the launcher wrote this in its place" });
  }
  return r.verified
    ? el("span", { class: "badge verified", text: "sent by its session", title: "submitted with the department session's own token: the launcher knows who sent it" })
    : el("span", { class: "badge unverified", text: "file in its mailbox", title: "a report file found in the department's mailbox folder: the launcher cannot prove which process wrote it" });
}

function confirmationBadge(r) {
  if (!r.needs_user_confirmation) return null;
  const a = r.confirmation;
  const words = { confirmed: "you confirmed", rejected: "you rejected", dismissed: "put aside" };
  return el("span", { class: `badge needs-confirmation${a ? " answered" : ""}`, text: a ? words[a.decision] || a.decision : "asks your confirmation" });
}

function resultCard(r) {
  const fallback = r.source === "launcher_fallback";
  const next = r.next_action && r.next_action.trim().toLowerCase() !== "none" ? r.next_action : "";
  const files = [pathField("Packet", r.handoff_packet), pathField("Report file", r.mailbox_file)].filter(Boolean);
  return el("article", {
    class: `inbox-result ${r.seen ? "seen" : "unseen"}${fallback ? " fallback" : ""}`,
    data: { reportId: r.report_id, seen: r.seen ? "true" : "false", read: r.read ? "true" : "false", department: r.department, source: r.source },
  },
  el("div", { class: "row-head" },
    el("span", { class: "row-name" }, breakable(`${store.deptTitle(r.department)} · ${r.department_session_id}`)),
    el("span", { class: "row-badges" },
      r.seen ? null : el("span", { class: "badge unread", text: "new" }),
      r.read ? null : el("span", { class: "hint planner-unread", text: "planner hasn't read it", title: "its planner has not read this result yet (it reads its inbox itself)" }),
      provenance(r),
      confirmationBadge(r))),
  el("p", { class: "result-summary", text: r.summary }),
  listField("Changed files", r.changed_files, "result-files"),
  listField("Checks run", r.verifications_run, "result-verifications"),
  listField("Checks skipped", r.verifications_skipped, "result-skipped"),
  listField("Risks", r.risks, "result-risks"),
  field(r.needs_user_confirmation ? "Asks" : "Next", next, "result-next"),
  el("div", { class: "row-actions result-actions" },
    el("button", {
      type: "button",
      class: "small open-handoff",
      text: "Open packet",
      title: "read the handoff packet and the report as received, in a drawer",
      data: { openHandoff: "1", session: r.parent_session_id, department: r.department_session_id, report: r.report_id },
    }),
    el("span", { class: "row-time", text: `${dateTime(r.reported_at)} · ${r.report_id}`, title: `reported ${r.reported_at}` }),
    files.length
      ? el("details", { class: "result-paths" }, el("summary", { text: "Files" }), el("ul", { class: "path-list" }, files))
      : null));
}

/** The developer's read state only: the planner's stays as it is. */
async function markAllRead() {
  const id = store.get().focus;
  if (!id) return;
  try {
    await api("/api/mark_seen", { parent_session_id: id });
    store.markSeen(id);
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
