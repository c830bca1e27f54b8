// Sessions, grouped by Zhongshu: each row has one state word, how long it ran,
// its heartbeat, model, tokens (and cost when prices are set), and its actions
// (continue, interrupt, resume, stop plan, close, retry, the attempt's
// conversation in the drawer, open the terminal;
// control.js asks before stopping anything). A finished group (nothing
// running or queued) says how its plan ended and is collapsed to its Zhongshu
// row until opened.

import { $, armedButton, el, emptyNote, replaceChildren, setBreakable, setText, syncChildren, withCode } from "./dom.js";
import { api, toast } from "./api.js";
import { clock, costText, dateTime, list, outcomeWords, planWords, runText, taskWords, tokensText } from "./format.js";
import { actionButton, closePlanner, interrupt, interruptible, retry, retryable, stopPlan } from "./control.js";
import { showState, terminalUrl, updateHeartbeat } from "./grid.js";
import { changesButton, workspaceBadge } from "./changes.js";
import * as store from "./store.js";

const rows = new Map(); // session id -> row parts
const groups = new Map(); // zhongshu id -> group parts
const opened = new Map(); // zhongshu id -> the user's open/closed choice

/** The same sum for one session or several: tokens and, when priced, cost. */
export function usageText(sessions) {
  const tokens = sessions.reduce((n, s) => n + ((s.token_usage && s.token_usage.total_tokens) || 0), 0);
  const priced = sessions.filter((s) => typeof s.cost_usd === "number");
  const cost = priced.length ? priced.reduce((n, s) => n + s.cost_usd, 0) : null;
  // One session's context, as its agent reports it (ACP): used of its window.
  const r = sessions.length === 1 ? sessions[0].reported_usage : null;
  const context = r && r.context_size ? `context ${Math.round((100 * r.context_used) / r.context_size)}%` : "";
  return [tokensText(tokens), context, costText(cost)].filter(Boolean).join(" · ");
}

function continueForm(r, id) {
  r.input = el("input", { class: "continue-input", type: "text", attrs: { placeholder: "Message to type into the session, then Enter", "aria-label": `message to ${id}` } });
  r.continueForm = el("form", { class: "row-form continue-form", attrs: { hidden: true } },
    r.input, el("button", { type: "submit", class: "small primary", text: "Send" }));
  r.continueForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = r.input.value;
    if (!input.trim()) return;
    try {
      await api("/api/session_input", { session_id: id, input });
      r.input.value = "";
      r.continueForm.hidden = true;
      toast(`Sent to ${id}.`);
    } catch (e) {
      toast(`Could not send to ${id}: ${e.message}`, "error");
    }
  });
  r.btnContinue.addEventListener("click", () => {
    r.continueForm.hidden = !r.continueForm.hidden;
    if (r.resumeForm) r.resumeForm.hidden = true;
    if (!r.continueForm.hidden) r.input.focus();
  });
}

function resumeForm(r, id) {
  r.resumeModel = el("select", { class: "resume-model", attrs: { "aria-label": "model for the resumed session" } });
  r.resumeForm = el("form", { class: "row-form resume-form", attrs: { hidden: true } },
    el("span", { class: "label", text: "Resume with model" }), r.resumeModel,
    el("button", { type: "submit", class: "small primary", text: "Resume" }));
  r.resumeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const res = await api("/api/restart_zhongshu_session", { session_id: id, model: r.resumeModel.value || undefined });
      r.resumeForm.hidden = true;
      const newId = res.session_id || (res.session && res.session.id);
      if (res.resumed_inline) {
        toast(`Typed a resume prompt into ${id}.`);
      } else {
        toast(`Resumed ${id} as ${newId || "a new session"}.`);
        if (newId) store.setFocus(newId, false);
      }
    } catch (e) {
      toast(`Could not resume ${id}: ${e.message}`, "error");
    }
  });
  r.btnResume.addEventListener("click", () => {
    r.resumeForm.hidden = !r.resumeForm.hidden;
    r.continueForm.hidden = true;
  });
}

function buildRow(id, kind) {
  const r = { id, kind };
  r.name = el("span", { class: "row-name" });
  r.status = el("span", { class: "badge" });
  r.report = el("span", { class: "badge report", hidden: true });
  r.plan = el("span", { class: "badge plan" });
  r.unread = el("span", { class: "hint planner-unread", title: "results its planner has not read yet (it reads its inbox itself)" });
  r.hb = el("span", { class: "hb" });
  r.model = el("span", { class: "row-model" });
  r.started = el("span", { class: "row-time" });
  r.endsAtStop = el("span", { class: "hint ends-at-stop", text: "ends when the launcher stops", title: "its agent cannot load its conversation again after a restart (it offers no session/load): stopping the launcher ends this session", hidden: true });
  r.task = el("div", { class: "row-task" });
  r.error = el("div", { class: "row-error" });
  r.btnContinue = el("button", { type: "button", class: "small act-continue", text: "Message…", title: "type your own message into this session's terminal" });
  r.btnClose = el("button", { type: "button", class: "small act-close", text: "Close", title: "stop this session" });
  r.btnInterrupt = actionButton("Interrupt", "act-interrupt", "stop the agent's running turn (the session stays)", () => interrupt(id));
  r.conversation = el("button", { type: "button", class: "small act-conversation", text: "Conversation", title: "what this attempt said and did, in the drawer", data: { openConversation: id }, attrs: { "aria-label": `conversation of ${id}` } });
  r.open = el("a", { class: "act-open small-link", text: "terminal ↗", attrs: { target: "_blank", rel: "noopener noreferrer", "aria-label": `terminal of ${id}, in a new tab` } });
  const actions = [r.btnContinue, r.btnInterrupt];
  if (kind === "zhongshu") {
    r.btnResume = el("button", { type: "button", class: "small act-resume", text: "Resume…" });
    r.btnFocus = el("button", { type: "button", class: "small act-focus", text: "Plan & inbox", title: "show this session's plan and inbox" });
    r.btnStop = actionButton("Stop plan", "act-stop-plan", "stop this planner, its departments and its queue (asks first)", () => stopPlan(id));
    actions.push(r.btnResume, r.btnFocus, r.btnStop);
    r.btnFocus.addEventListener("click", () => {
      store.setFocus(id);
      document.dispatchEvent(new CustomEvent("codex-governance:show-panel", { detail: "focus-panel" }));
    });
    r.btnClose.addEventListener("click", () => closePlanner(id));
  } else {
    r.btnRetry = actionButton("Retry", "act-retry", "queue this department's assignment again", () => retry(id));
    actions.push(r.btnRetry);
    armedButton(r.btnClose, "Close", "Really close?", async () => {
      try {
        await api("/api/close_session", { session_id: id });
        toast(`Closed ${id}.`);
      } catch (e) {
        toast(`Could not close ${id}: ${e.message}`, "error");
      }
    });
  }
  if (kind === "department") {
    r.workspace = el("span", { class: "row-workspace" });
    r.btnChanges = changesButton(id);
    r.btnChanges.hidden = true;
    actions.push(r.btnChanges);
  }
  actions.push(r.conversation, r.btnClose, r.open);
  continueForm(r, id);
  if (kind === "zhongshu") resumeForm(r, id);
  r.root = el("div", { class: `session-row kind-${kind}`, data: { id, kind } },
    el("div", { class: "row-head" }, r.name, el("span", { class: "row-badges" }, r.status, r.report, r.workspace || null, r.plan, r.unread)),
    el("div", { class: "row-meta" }, r.hb, r.model, r.started, r.endsAtStop),
    r.task, r.error,
    el("div", { class: "row-actions" }, actions),
    r.continueForm, r.resumeForm || null);
  return r;
}

function updateDepartment(r, s) {
  const rs = s.report_status || "pending";
  // "report pending" only while it can still report; the state says the rest
  // (its badge's title says when it reported).
  r.report.hidden = !(rs !== "reported" && store.isRunning(s));
  setText(r.report, "report pending");
  if (rs === "reported" && s.reported_at) r.status.title = `reported ${dateTime(s.reported_at)}`;
  r.report.className = `badge report report-${rs}`;
  r.root.dataset.report = rs;
  r.plan.hidden = !s.retried_as;
  setText(r.plan, s.retried_as ? `retried (${s.retried_as})` : "");
  r.plan.className = "badge plan retried";
  r.unread.hidden = true;
  const ws = workspaceBadge(s);
  replaceChildren(r.workspace, ws);
  r.btnChanges.hidden = !ws;
  r.btnRetry.hidden = !retryable(s);
  const why = s.state_reason || "";
  // Commands in a reason show as code, never as raw backticks.
  replaceChildren(r.error, ...withCode(why));
  r.error.hidden = !why;
  r.error.className = s.failed ? "row-error" : "row-note";
}

function updateZhongshu(r, s) {
  r.report.hidden = true;
  const ps = s.plan_status || "none";
  r.plan.hidden = ps === "none";
  setText(r.plan, planWords(s));
  r.plan.className = `badge plan plan-${ps}`;
  r.btnStop.hidden = !(store.isRunning(s) && ["dispatched", "awaiting_confirmation"].includes(ps));
  const unread = s.unread_result_count || 0;
  r.unread.hidden = unread === 0;
  setText(r.unread, `planner hasn't read ${unread}`);
  r.error.hidden = true;
  const choices = list(store.get().status.model_choices);
  const key = JSON.stringify(choices);
  if (r.resumeModel.dataset.key !== key) {
    r.resumeModel.dataset.key = key;
    replaceChildren(r.resumeModel, choices.map((m) => el("option", { text: m, attrs: { value: m } })));
    r.resumeModel.value = choices.includes(s.model) ? s.model : (choices[0] || "");
  }
  // Running, it is reminded of its plan and results; ended, a new planner
  // takes over the plan.
  const running = store.isRunning(s);
  // A running planner with no plan has nothing to be reminded of.
  r.btnResume.hidden = running && !s.plan_revision;
  r.btnResume.textContent = running ? "Remind of its plan…" : "Resume…";
  r.btnResume.title = running
    ? "type the launcher's reminder of the task, the plan and the results into it"
    : "start a new planner with this one's plan and results";
}

function updateRow(r, s) {
  const who = { department: () => store.deptTitle(s.department), reviewer: () => "reviewer", zhongshu: () => "planner" }[s.session_kind] || (() => s.session_kind);
  setBreakable(r.name, `${who()} · ${s.id}`);
  showState(r.status, s);
  r.root.dataset.status = s.status;
  r.root.dataset.state = s.state || "";
  updateHeartbeat(r.hb, s);
  setText(r.model, [store.modelShown(s.model), usageText([s])].filter(Boolean).join(" · "));
  setText(r.started, [runText(s), `started ${clock(s.started_at)}`].filter(Boolean).join(" · "));
  r.started.title = `started ${dateTime(s.started_at)}${s.ended_at ? `, ended ${dateTime(s.ended_at)} (${s.ended_reason || "exited"})` : ""}`;
  r.endsAtStop.hidden = !s.ends_at_stop;
  setText(r.task, taskWords(s.task));
  r.task.title = taskWords(s.task);
  if (s.session_kind === "department") updateDepartment(r, s);
  else updateZhongshu(r, s);
  const running = store.isRunning(s);
  r.btnContinue.hidden = !running;
  if (!running) r.continueForm.hidden = true;
  r.btnClose.hidden = !running;
  r.btnInterrupt.hidden = !interruptible(s);
  const url = terminalUrl(s);
  r.open.hidden = !url;
  if (url) r.open.href = url;
  else r.open.removeAttribute("href");
}

function row(s) {
  let r = rows.get(s.id);
  if (!r) {
    r = buildRow(s.id, s.session_kind);
    rows.set(s.id, r);
  }
  updateRow(r, s);
  return r.root;
}

function group(id) {
  let g = groups.get(id);
  if (!g) {
    g = { children: el("div", { class: "zgroup-children", attrs: { id: `children-${id}` } }), info: el("span", { class: "zgroup-text" }) };
    g.toggle = el("button", { type: "button", class: "small zgroup-toggle", attrs: { "aria-controls": `children-${id}` } });
    g.toggle.addEventListener("click", () => {
      opened.set(id, g.children.hidden);
      render();
    });
    g.head = el("div", { class: "zgroup-info" }, g.info, g.toggle);
    g.root = el("div", { class: "zgroup", data: { id } });
    groups.set(id, g);
  }
  return g;
}

function renderGroup(z, ds, queue) {
  const g = group(z.id);
  const kids = ds.filter((d) => d.parent_session_id === z.id);
  const queued = queue.filter((q) => q.parent_session_id === z.id).length;
  // `reported`, not `report_status`: a launcher_fallback counts as reported, as in Python.
  const done = kids.filter((d) => d.reported).length;
  const running = kids.filter((d) => store.isRunning(d) && !d.suspended).length;
  const suspended = kids.filter((d) => d.suspended).length;
  const planDone = (z.plan_status === "finished" || z.plan_status === "stopped") && z.plan_outcome;
  const finished = !store.isRunning(z) && running === 0 && suspended === 0 && queued === 0;
  const usage = usageText([z, ...kids]);
  const counts = kids.length || queued
    ? `${kids.length} department${kids.length === 1 ? "" : "s"}: ${running} running, ${suspended ? `${suspended} suspended, ` : ""}${done} reported, ${queued} queued`
    : "no departments yet";
  setText(g.info, (planDone ? `plan ${z.plan_status} · ${outcomeWords(z.plan_outcome)}` : counts) + (usage ? ` · ${usage} in all` : ""));
  g.info.classList.toggle("zgroup-done", !!planDone);
  const open = opened.has(z.id) ? opened.get(z.id) : !finished;
  g.children.hidden = !open || !kids.length;
  g.toggle.hidden = !kids.length;
  setText(g.toggle, open ? "hide departments" : `show ${kids.length} department${kids.length === 1 ? "" : "s"}`);
  g.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  g.root.classList.toggle("finished", finished);
  g.root.classList.toggle("plan-done", !!planDone);
  g.root.classList.toggle("focused", z.id === store.get().focus);
  syncChildren(g.children, kids.map(row));
  syncChildren(g.root, [row(z), g.head, g.children]);
  return { root: g.root, ids: [z.id, ...kids.map((k) => k.id)] };
}

function render() {
  const st = store.get().status;
  const zs = st.zhongshu_sessions || [];
  const ds = (st.department_sessions || []).slice().reverse(); // start order
  const queue = st.queue || [];
  const container = $("#sessions");
  const nodes = [];
  const seen = new Set();
  for (const z of zs) {
    const g = renderGroup(z, ds, queue);
    g.ids.forEach((id) => seen.add(id));
    nodes.push(g.root);
  }
  const orphans = ds.filter((d) => !seen.has(d.id));
  if (orphans.length) {
    let g = groups.get("__orphans");
    if (!g) {
      g = { children: el("div", { class: "zgroup-children" }) };
      g.root = el("div", { class: "zgroup orphans" }, el("div", { class: "zgroup-info", text: "Departments without a known planner" }), g.children);
      groups.set("__orphans", g);
    }
    syncChildren(g.children, orphans.map(row));
    orphans.forEach((k) => seen.add(k.id));
    nodes.push(g.root);
  }
  for (const [id] of rows) if (!seen.has(id)) rows.delete(id);
  for (const [id] of groups) if (id !== "__orphans" && !zs.some((z) => z.id === id)) groups.delete(id);
  if (!nodes.length) emptyNote(container, "No sessions yet. Start a planner above.");
  else syncChildren(container, nodes);
}

/** Once a second: advance the heartbeats and running times. */
function tick() {
  for (const [id, r] of rows) {
    const s = store.session(id);
    if (s && store.isRunning(s)) {
      updateHeartbeat(r.hb, s);
      setText(r.started, [runText(s), `started ${clock(s.started_at)}`].filter(Boolean).join(" · "));
    }
  }
}

export function mount() {
  store.subscribe((changed) => {
    if (!store.get().status) return;
    if (changed.has("status")) render();
    else if (changed.has("focus")) for (const [id, g] of groups) g.root.classList.toggle("focused", id === store.get().focus);
  });
  setInterval(tick, 1000);
}
