// Approvals the agents wait for (Codex backend): what it wants to run, where
// and why, with approve / approve for the session / decline. They sit in
// "Needs you"; the agent sees each decision.

import { $, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import * as store from "./store.js";

let key = "";

function decide(a, decision, label) {
  return el("button", {
    type: "button",
    class: decision === "decline" ? "danger" : "primary",
    text: label,
    data: { decision },
    on: { click: async (ev) => {
      ev.target.disabled = true;
      try {
        await api("/api/approval", { session_id: a.session_id, request_id: a.request_id, decision });
        toast(`${label}: ${a.command || a.kind}`, "info");
      } catch (e) {
        ev.target.disabled = false;
        toast(`Could not answer the approval: ${e.message}`, "error");
      }
    } },
  });
}

function card({ a, title }) {
  return el("div", { class: "approval-card", data: { session: a.session_id, request: a.request_id } },
    el("div", { class: "approval-head", text: `${title} asks to run a ${a.kind.replace("_", " ")}` }),
    a.command ? el("pre", { class: "approval-command", text: a.command }) : null,
    a.cwd ? el("div", { class: "hint", text: `in ${a.cwd}` }) : null,
    a.reason ? el("div", { class: "approval-reason", text: `Reason: ${a.reason}` }) : null,
    el("div", { class: "approval-actions" },
      decide(a, "accept", "Approve"),
      decide(a, "accept_for_session", "Approve for this session"),
      decide(a, "decline", "Decline")));
}

function render() {
  const waiting = store.sessions().flatMap((s) =>
    (s.pending_approvals || []).map((a) => ({ a, title: s.title || s.id })));
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
