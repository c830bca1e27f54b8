// The developer's control over agents and plans: Interrupt a working Codex
// turn, Stop a plan (asked first: its planner, its running departments and its
// queue), Close a planner (asked whether its departments stop too; its queue
// never starts either way), Retry a department that failed or ended without a
// report. Rows, tiles and "Needs you" get their buttons from here; one
// <dialog> (#control-dialog) asks the questions.

import { $, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import * as store from "./store.js";

/** A session whose running turn can be interrupted: a working agent whose backend can. */
export function interruptible(s) {
  return !!s && !!s.interruptible;
}

/** A department that ended without a report and was not retried yet. */
export function retryable(s) {
  return !!s && s.session_kind === "department" && !store.isRunning(s) && !s.retried_as &&
    ["failed", "no_report", "stopped_by_you"].includes(s.state);
}

export async function interrupt(id) {
  try {
    await api("/api/interrupt", { session_id: id });
    toast(`Interrupted the turn of ${id}.`);
  } catch (e) {
    toast(`Could not interrupt ${id}: ${e.message}`, "error");
  }
}

export async function retry(id) {
  try {
    await api("/api/retry", { session_id: id });
    toast(`Queued ${id}'s assignment again: it starts when a slot is free.`);
  } catch (e) {
    toast(`Could not retry ${id}: ${e.message}`, "error");
  }
}

/** A small button; `act` runs on click with the button disabled meanwhile. */
export function actionButton(label, cls, title, act) {
  const b = el("button", { type: "button", class: `small ${cls}`, text: label, title });
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await act();
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** The departments of Zhongshu `zid` that run, and its queued items. */
function group(zid) {
  const st = store.get().status || {};
  const running = (st.department_sessions || []).filter((d) => d.parent_session_id === zid && store.isRunning(d));
  const queued = (st.queue || []).filter((q) => q.parent_session_id === zid);
  return { running, queued };
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** Asks in #control-dialog; resolves with the value of the button chosen (null: cancelled). */
function ask(title, lines, choices) {
  const dialog = $("#control-dialog");
  const opener = document.activeElement;
  replaceChildren($("#control-dialog-title"), title);
  replaceChildren($("#control-dialog-body"), lines.filter(Boolean).map((t) => el("p", { text: t })));
  const buttons = [...choices, { value: "", label: "Cancel", cls: "" }].map((c) =>
    el("button", { type: "submit", class: c.cls, text: c.label, attrs: { value: c.value }, data: { choice: c.value || "cancel" } }));
  replaceChildren($("#control-dialog-actions"), buttons);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue || null);
      if (opener && document.contains(opener)) opener.focus();
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    buttons[0].focus();
  });
}

/** "Stop plan": asked first, then the planner, its departments and its queue stop. */
export async function stopPlan(zid) {
  const { running, queued } = group(zid);
  const choice = await ask(`Stop the plan of ${zid}?`, [
    `Its planner ${zid} stops.`,
    running.length ? `${plural(running.length, "running department stops", "running departments stop")}: ${running.map((d) => d.id).join(", ")}.` : "No department runs.",
    queued.length ? `${plural(queued.length, "queued assignment", "queued assignments")} will never start.` : null,
    "What the departments reported stays in the inbox.",
  ], [{ value: "stop", label: "Stop the plan", cls: "danger" }]);
  if (choice !== "stop") return;
  try {
    const res = await api("/api/stop_plan", { session_id: zid });
    toast(`Stopped the plan of ${zid}: ${plural(res.stopped_departments.length, "department", "departments")} stopped, ${res.dropped.length} queued dropped.`);
  } catch (e) {
    toast(`Could not stop the plan of ${zid}: ${e.message}`, "error");
  }
}

/** Closing a planner asks whether its running departments stop too. */
export async function closePlanner(zid) {
  const { running, queued } = group(zid);
  const lines = [
    queued.length ? `${plural(queued.length, "queued assignment", "queued assignments")} of its plan will never start.` : null,
    running.length
      ? `${plural(running.length, "department is", "departments are")} still running (${running.map((d) => d.id).join(", ")}). Stop them too, or let them finish and report to its inbox?`
      : "None of its departments is running.",
  ];
  const choices = running.length
    ? [{ value: "stop", label: "Close and stop its departments", cls: "danger" }, { value: "keep", label: "Close, let them finish", cls: "" }]
    : [{ value: "keep", label: `Close ${zid}`, cls: "danger" }];
  const choice = await ask(`Close ${zid}?`, lines, choices);
  if (!choice) return;
  try {
    const res = await api("/api/close_session", { session_id: zid, stop_departments: choice === "stop" });
    const stopped = (res.stopped_departments || []).length;
    toast(`Closed ${zid}${stopped ? ` and ${plural(stopped, "department", "departments")}` : ""}.`);
  } catch (e) {
    toast(`Could not close ${zid}: ${e.message}`, "error");
  }
}
