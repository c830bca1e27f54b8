// The focused Zhongshu's plan. Awaiting confirmation, it is a form (untick,
// edit tasks and models, start); afterwards each assignment row follows its
// department: the department's own state word, not the plan's "started".

import { $, breakable, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import { clock, list, outcomeWords } from "./format.js";
import { showState } from "./grid.js";
import { changesButton, workspaceBadge } from "./changes.js";
import { reviewNextButton, waiting } from "./review_queue.js";
import * as store from "./store.js";

let formKey = "";
let viewKey = "";
/** The Zhongshu and plan revision the form last showed, to say when it changed. */
let formShown = { session: "", revision: 0 };

function header(plan) {
  const status = {
    awaiting_confirmation: "awaits your confirmation",
    // A registered plan waits for nothing only once declined (issue 70 item 10).
    none: "declined: nothing of it started",
    dispatched: "dispatched",
    ready: "ready (nothing to dispatch)",
    finished: "finished",
    stopped: "stopped by you",
  }[plan.status] || plan.status;
  return el("div", { class: "plan-head" },
    el("span", { class: `badge plan-${plan.status}`, text: status }),
    plan.outcome ? el("span", { class: "plan-outcome", text: outcomeWords(plan.outcome) }) : null,
    el("span", { class: "row-time", text: `registered ${clock(plan.registered_at)}${plan.confirmed_at ? ` · confirmed ${clock(plan.confirmed_at)}` : ""}` }));
}

export function listBlock(label, items) {
  items = list(items);
  if (!items.length) return null;
  return el("div", { class: "kv" },
    el("span", { class: "kv-key", text: label }),
    el("ul", { class: "kv-list" }, items.map((x) => el("li", {}, el("code", { text: x })))));
}

/** The assignment's badge: its department's state once it started. */
function assignmentBadge(a) {
  const s = a.session_id ? store.session(a.session_id) : null;
  if (!s) return el("span", { class: `badge assignment-${a.status || "proposed"}`, text: a.status || "proposed" });
  const badge = el("span", { class: "badge", data: { follows: s.id } });
  showState(badge, s);
  return badge;
}

/** An assignment's earlier attempts: "sent back once; earlier lingyubu-1",
 * "sent back once with 3 comments; ..." when the last send-back carried
 * review comments. */
function reruns(a) {
  const earlier = list(a.earlier_sessions);
  const times = (n) => (n === 1 ? "once" : `${n} times`);
  const sent = a.sent_back || 0;
  const retried = earlier.length - sent;
  const comments = a.review_comments || 0;
  const carried = comments ? ` with ${comments} comment${comments === 1 ? "" : "s"}` : "";
  const how = [sent ? `sent back ${times(sent)}${carried}` : null, retried > 0 ? `retried ${times(retried)}` : null].filter(Boolean);
  return `${how.join(", ")}; earlier ${earlier.join(", ")}`;
}

/** The second opinion on an assignment's work (issue 75): "reviewed by
 * reviewer-3 (gongbu): 2 important, 1 minor". */
function secondOpinion(a) {
  const r = store.session(a.session_id)?.second_opinion;
  if (!r) return null;
  const found = [["important", r.important], ["minor", r.minor], ["nit", r.nit]].filter(([, n]) => n).map(([w, n]) => `${n} ${w}`);
  const said = r.reviewing ? `${r.reviewer} (${r.agent}) is reviewing it`
    : r.failed ? `${r.reviewer} (${r.agent}) ended without a review`
      : `reviewed by ${r.reviewer} (${r.agent}): ${found.length ? found.join(", ") : "nothing found"}`;
  const stamp = r.same_vendor ? " · on the department's own vendor (the other's account is held)" : "";
  return el("div", { class: `row-note second-opinion${r.important ? " row-error" : ""}`, text: said + stamp });
}

/** How the plan's results stand, as the planner's view says it
 * (`plan_results`: integrated, discarded, waiting, conflicting, in review),
 * with Review next when any wait: the review queue. */
function integrationLine(plan) {
  const results = store.session(plan.session_id)?.plan_results;
  if (!results) return null;
  const first = waiting(plan.session_id)[0];
  const waits = results.waiting + results.conflicting;
  return el("p", { class: "plan-integration" }, `${results.text} `,
    first ? reviewNextButton(first, waits > 1 ? "Review them" : "Review it") : null);
}

/** "Resume plan" when the launcher's stop cut some of its departments off. */
function resumeLine(plan) {
  const cut = plan.assignments.filter((a) => store.session(a.session_id)?.cut_by_stop);
  if (!cut.length) return null;
  const button = el("button", { type: "button", class: "small primary resume-plan", text: "Resume plan",
    title: "bring the planner back and queue the cut-off departments again, each in its worktree" });
  button.addEventListener("click", async () => {
    try {
      const res = await api("/api/resume_plan", { session_id: plan.session_id });
      toast(`Resumed under ${res.planner}: ${res.queued.length} department${res.queued.length === 1 ? "" : "s"} queued again.`);
    } catch (e) {
      toast(`${plan.session_id}: ${e.message}`, "error");
    }
  });
  return el("p", { class: "plan-resume" },
    `${cut.length} department${cut.length === 1 ? " was" : "s were"} stopped with the launcher. `, button);
}

function view(plan) {
  return el("div", { class: "plan-view" },
    header(plan),
    plan.summary ? el("p", { class: "plan-summary", text: plan.summary }) : null,
    resumeLine(plan),
    integrationLine(plan),
    el("ol", { class: "plan-list" }, plan.assignments.map((a, i) =>
      el("li", { class: `plan-assignment view status-${a.status || "proposed"}`, data: { index: i, department: a.department, session: a.session_id || "" } },
        el("div", { class: "row-head" },
          el("span", { class: "row-name" }, breakable(store.deptTitle(a.department))),
          el("span", { class: "row-badges" },
            assignmentBadge(a),
            a.session_id ? el("button", { type: "button", class: "small badge-link", text: a.session_id, title: `show ${a.session_id}`, data: { showSession: a.session_id } }) : null,
            workspaceBadge(store.session(a.session_id)),
            store.session(a.session_id)?.workspace ? changesButton(a.session_id) : null,
            store.modelShown(a.model) ? el("span", { class: "badge model", text: a.model }) : null)),
        el("div", { class: "row-task", text: a.task }),
        a.reason ? el("div", { class: "row-note", text: `why: ${a.reason}` }) : null,
        a.scope_note ? el("div", { class: "row-note scope-note", text: `scope: ${a.scope_note}` }) : null,
        list(a.earlier_sessions).length ? el("div", { class: "row-note reruns", text: reruns(a) }) : null,
        secondOpinion(a),
        listBlock("files", a.files),
        listBlock("verify", a.verify),
        a.error ? el("div", { class: "row-error", text: a.error }) : null))));
}

function assignmentField(a, i, choices) {
  const tick = el("input", { type: "checkbox", class: "pa-select", attrs: { "aria-label": `start ${a.department}` } });
  tick.checked = a.selected !== false;
  const task = el("textarea", { class: "pa-task", attrs: { rows: 2, "aria-label": `task for ${a.department}` } });
  task.value = a.task;
  const model = el("select", { class: "pa-model", attrs: { "aria-label": `model for ${a.department}` } },
    (choices.includes(a.model) ? choices : [a.model, ...choices]).map((m) => el("option", { text: m, attrs: { value: m } })));
  model.value = a.model;
  const li = el("li", { class: "plan-assignment", data: { index: i, department: a.department } },
    el("label", { class: "pa-head" }, tick, el("span", { class: "row-name" }, breakable(store.deptTitle(a.department)))),
    el("label", { class: "field" }, el("span", { class: "label", text: "Task" }), task),
    el("label", { class: "field field-inline" }, el("span", { class: "label", text: "Model" }), model),
    a.reason ? el("div", { class: "row-note", text: `why: ${a.reason}` }) : null,
    a.scope_note ? el("div", { class: "row-note scope-note", text: `scope: ${a.scope_note}` }) : null,
    listBlock("files", a.files),
    listBlock("verify", a.verify));
  li.classList.toggle("unselected", !tick.checked);
  return { a, li, tick, task, model };
}

function form(sessionId, plan, changedFrom) {
  const choices = list(store.get().status && store.get().status.model_choices);
  const items = plan.assignments.map((a, i) => assignmentField(a, i, choices));
  const confirm = el("button", { type: "submit", class: "primary", attrs: { id: "plan-confirm" } });
  const msg = el("p", { class: "form-msg", attrs: { "aria-live": "polite" } });
  const updateCount = () => {
    const n = items.filter((x) => x.tick.checked).length;
    confirm.textContent = n ? `Start ${n} ticked assignment${n === 1 ? "" : "s"}` : "Start nothing (no assignment ticked)";
  };
  for (const x of items) {
    x.tick.addEventListener("change", () => {
      x.li.classList.toggle("unselected", !x.tick.checked);
      updateCount();
    });
  }
  updateCount();
  const node = el("form", { class: "plan-form", attrs: { id: "plan-form" } },
    header(plan),
    plan.summary ? el("p", { class: "plan-summary", text: plan.summary }) : null,
    changedFrom ? el("p", { class: "need-changed", text: `The plan changed while you reviewed it (revision ${changedFrom} → ${plan.revision}): this is the new plan; your edits to the old one are gone.` }) : null,
    el("p", { class: "hint", text: "Untick what should not run, edit tasks and models, then start." }),
    el("ol", { class: "plan-list" }, items.map((x) => x.li)),
    el("div", { class: "form-actions" }, confirm),
    msg);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const assignments = items.map((x) => ({
      department: x.a.department,
      task: x.task.value.trim() || x.a.task,
      model: x.model.value || x.a.model,
      files: list(x.a.files),
      verify: list(x.a.verify),
      reason: x.a.reason || undefined,
      selected: x.tick.checked,
    }));
    confirm.disabled = true;
    msg.className = "form-msg";
    msg.textContent = "Starting…";
    try {
      const res = await api("/api/start_assignments", { parent_session_id: sessionId, assignments, revision: plan.revision });
      toast(startedText(res, assignments.filter((a) => a.selected).length, sessionId));
      formKey = "";
    } catch (e) {
      msg.className = "form-msg error";
      msg.textContent = `Could not start: ${e.message}`;
      confirm.disabled = false;
    }
  });
  return node;
}

/** "Started 2, queued 1 for zhongshu-1": what happened, not what was asked. */
export function startedText(res, asked, sessionId) {
  const started = list(res.started || (res.auto_dispatch && res.auto_dispatch.started)).length;
  const queued = list(res.queued).length || res.queued_count || 0;
  if (!started && !queued) return `Sent ${asked} assignment${asked === 1 ? "" : "s"} for ${sessionId}.`;
  return `Started ${started}${queued ? `, queued ${queued}` : ""} for ${sessionId}.`;
}

function render() {
  const container = $("#plan");
  const { focus, plan: data } = store.get();
  const note = (text, cls = "empty-note") => {
    formKey = viewKey = "";
    formShown = { session: "", revision: 0 };
    replaceChildren(container, el("p", { class: cls, text }));
  };
  if (!focus || !data) return note("Start a planner: it reads the governance report and registers a plan here.");
  if (data.error) return note(`Cannot load the plan: ${data.error}`, "form-msg error");
  const plan = data.plan;
  if (!plan || !plan.ready) return note(`${data.session_id} has not registered a plan yet.`);
  if (plan.status === "awaiting_confirmation") {
    // The form holds the user's edits: rebuild it only for a different plan.
    const key = `${data.session_id}|${plan.revision}|${plan.registered_at}`;
    if (key === formKey && $("#plan-form", container)) return;
    const changedFrom = formShown.session === data.session_id && formShown.revision !== plan.revision ? formShown.revision : 0;
    formKey = key;
    formShown = { session: data.session_id, revision: plan.revision };
    viewKey = "";
    replaceChildren(container, form(data.session_id, plan, changedFrom));
    return;
  }
  formKey = "";
  formShown = { session: "", revision: 0 };
  const follows = plan.assignments.map((a) => {
    const s = a.session_id && store.session(a.session_id);
    return s ? [s.state_text, s.workspace ? [s.workspace.state, s.workspace.commit] : null] : "";
  });
  const key = JSON.stringify([data, follows]);
  if (key === viewKey) return;
  viewKey = key;
  replaceChildren(container, view(plan));
}

export function mount() {
  store.subscribe((changed) => {
    if (changed.has("plan") || changed.has("focus") || changed.has("status")) render();
  });
  $("#plan").addEventListener("click", (event) => {
    const b = event.target.closest("[data-show-session]");
    if (b) document.dispatchEvent(new CustomEvent("codex-governance:show-session", { detail: b.dataset.showSession }));
  });
}
