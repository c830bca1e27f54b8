// Approvals the agents wait for (Codex backend): the command it wants to run,
// or the files a patch would change with their diffs, where and why, with
// approve / approve for the session / decline. They sit in "Needs you" (the
// server lists them there, status.needs_you); the agent sees each decision.

import { $, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import * as store from "./store.js";

let key = "";

/** Whether this page may approve `a`: at the desk always; on a paired phone
 * as the status says the user allowed (notify.remote_decisions). */
function mayApprove(a, decision) {
  const phone = (store.get().status || {}).phone;
  if (!phone) return true;
  if (decision === "accept_for_session" && !phone.approve_for_session) return false;
  return a.kind === "file_change" ? phone.approve_file_changes : phone.approve_commands;
}

/** A button that answers approval `a` with `decision` (the agent sees it);
 * none for an approval this page may not give. */
export function decisionButton(a, decision, label) {
  if (decision !== "decline" && !mayApprove(a, decision)) return null;
  return el("button", {
    type: "button",
    class: decision === "decline" ? "danger" : "primary",
    text: label,
    data: { decision },
    on: { click: async (ev) => {
      ev.target.disabled = true;
      try {
        await api("/api/approval", { session_id: a.session_id, request_id: a.request_id, decision });
        toast(`${label}: ${summary(a)}`, "info");
      } catch (e) {
        ev.target.disabled = false;
        toast(`Could not answer the approval: ${e.message}`, "error");
      }
    } },
  });
}

const ASKS = { command: "to run a command", file_change: "to change files", permissions: "for permissions" };

function summary(a) {
  if (a.command) return a.command;
  if (a.changes && a.changes.length) return a.changes.map((c) => c.path).join(", ");
  return a.kind.replace("_", " ");
}

// Each file a patch changes: what happens to it, then its diff as sent.
function changes(a) {
  if (a.kind !== "file_change") return null;
  if (!a.changes || !a.changes.length) {
    return el("div", { class: "hint", text: "The files are not known here (asked again after a restart): read the patch in the agent's terminal before deciding." });
  }
  return el("div", { class: "approval-changes" }, ...a.changes.map((c) => el("div", { class: "approval-file" },
    el("div", { class: "approval-path", text: `${c.kind} ${c.path}${c.move_to ? ` → ${c.move_to}` : ""}` }),
    c.diff ? el("pre", { class: "approval-diff", text: c.diff, attrs: { tabindex: "0", "aria-label": `diff of ${c.path}` } }) : null,
    c.diff_cut ? el("div", { class: "hint", text: "The diff is cut here: the rest is in the agent's terminal." }) : null)));
}

function card({ a, title }) {
  return el("div", { class: "approval-card", data: { session: a.session_id, request: a.request_id, kind: a.kind } },
    el("div", { class: "approval-head", text: `${title} asks ${ASKS[a.kind] || a.kind}` }),
    a.command ? el("pre", { class: "approval-command", text: a.command }) : null,
    changes(a),
    a.cwd ? el("div", { class: "hint", text: `in ${a.cwd}` }) : null,
    a.reason ? el("div", { class: "approval-reason", text: `Reason: ${a.reason}` }) : null,
    el("div", { class: "approval-actions" },
      decisionButton(a, "accept", "Approve"),
      decisionButton(a, "accept_for_session", "Approve for this session"),
      decisionButton(a, "decline", "Decline")));
}

/** The approvals the server lists in Needs you, each with its request as
 * its session holds it (the command, the diffs). */
function render() {
  const status = store.get().status || {};
  const waiting = (status.needs_you || []).filter((i) => i.kind === "approval").flatMap((i) => {
    const s = store.session(i.session);
    const a = s && (s.pending_approvals || []).find((x) => x.request_id === i.request);
    return a ? [{ a, title: s.title || s.id }] : [];
  });
  const next = JSON.stringify(waiting);
  if (next === key) return; // keep the buttons the user may be on
  key = next;
  $("#approvals").hidden = waiting.length === 0;
  replaceChildren($("#approval-list"), waiting.map(card));
}

export function mount() {
  store.subscribe((changed) => {
    if (changed.has("status")) render();
  });
}
