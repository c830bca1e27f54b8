// "Needs you": one place at the top of the dashboard listing, newest first,
// everything that waits for the developer: plans awaiting confirmation (the
// plan itself and its revision; "Review and start" shows the whole plan
// first, plan_dialog.js), agents asking something (login, a question, an
// error), departments that failed or ended without a report (Retry, Dismiss),
// reports that ask for the user's confirmation (Confirm / Reject with a note,
// confirmations.js), and of isolated departments: a plan naming files the
// user has not committed (worktree_needs.js) and one item for all the work
// that waits for the user's review (review_queue.js); near the usage limit, the
// offer Codex's own terminal made (switch the running sessions to a lighter
// model for their next turns, keep them, or keep them and stop asking); a
// planner that ended its turn without a plan, with what it said last and a
// box to answer it; one item closing every planner done with its plan (the
// views decide which).
// Dismissals and answers are kept by the
// launcher, so they hold in every tab; items of a closed planner resolve
// themselves. The first three items show, the rest behind "Show N more", so
// the task form stays in view. Approvals sit in the same section (#approvals, drawn by
// approvals.js). The tab title carries the count; an opt-in desktop
// notification and a short sound announce new items. User text is only ever
// set as textContent.

import { api, toast } from "./api.js";
import { confirmationItems } from "./confirmations.js";
import { retry, retryable } from "./control.js";
import { el, syncChildren, withCode } from "./dom.js";
import { sentences } from "./format.js";
import { checkAgents } from "./header.js";
import { button, node, showSession, title } from "./needs_parts.js";
import { reviewPlan } from "./plan_dialog.js";
import { finishedPlannersItem, noPlanItem } from "./planner_needs.js";
import { hostItems, quotaItems } from "./quota_needs.js";
import * as store from "./store.js";
import { queueItem } from "./review_queue.js";
import { worktreeItems } from "./worktree_needs.js";

/** Zhongshu id -> its plan as last fetched ({revision, summary, assignments}), or {error, revision}. */
const plans = new Map();
const loading = new Set();
/** Zhongshu id -> the revision first shown here, to say when the plan changed. */
const firstShown = new Map();

const NOTIFY_KEY = "codex_governance_notify";
/** Items shown before "Show N more". */
const FIRST = 3;

const seen = new Set();
let firstRender = true;
let showAll = false;
/** Item key -> {sig, li}: an item's node is rebuilt only when it changed, so
 * a note being typed survives redraws. */
const drawn = new Map();

const $ = (sel) => document.querySelector(sel);

/** Declines planner `id`'s plan at `revision`: nothing of it starts, the planner is told. */
async function declinePlan(id, revision, b) {
  b.disabled = true;
  try {
    await api("/api/decline_plan", { parent_session_id: id, revision });
    toast(`Declined ${id}'s plan: nothing of it started, and its planner was told to revise it or wait for you.`);
  } catch (e) {
    b.disabled = false;
    toast(`Could not decline ${id}'s plan: ${e.message}`, "error");
  }
}

async function dismiss(id, b) {
  b.disabled = true;
  try {
    await api("/api/dismiss", { session_id: id });
  } catch (e) {
    b.disabled = false;
    toast(`Could not dismiss ${id}: ${e.message}`, "error");
  }
}

/** Everything waiting, as {key, at, kind, text, detail, session, actions}. */
function itemsOf(status) {
  const sessions = status.sessions || [];
  const running = new Set(sessions.filter(store.isRunning).map((s) => s.id));
  // A planner done with its plan waits for nothing of yours, suspended or not.
  const restful = new Set(status.finished_planners || []);
  const items = [];
  const suspended = [];
  for (const s of sessions) {
    if (s.session_kind === "zhongshu" && s.plan_status === "awaiting_confirmation") {
      items.push(planItem(s));
    }
    const attention = s.attention;
    if (s.suspended && restful.has(s.id)) continue;
    if (s.suspended) {
      suspended.push(s);
      // A suspended planner's question stands meanwhile.
      const asked = noPlanItem(s);
      if (asked) items.push(asked);
      continue;
    }
    if (s.asks_user && attention && attention.kind !== "approval") {
      items.push({
        key: `attention:${s.id}:${attention.kind}:${attention.text}`,
        at: s.last_activity_at || s.started_at,
        kind: attention.kind,
        text: `${title(s)} needs you (${attention.kind.replace("_", " ")})`,
        detail: attention.text,
        session: s.id,
        actions: [button("Show", "", () => showSession(s.id), { action: "show" })],
      });
    }
    const setup = s.workspace && s.workspace.setup;
    if (s.status === "running" && setup && setup.state === "failed") items.push(setupItem(s, setup));
    const stalled = noPlanItem(s);
    if (stalled) items.push(stalled);
    const ended = s.ended_without_report;
    // Put aside, retried, or its planner closed: nothing left to decide.
    if (ended && !s.dismissed && !s.retried_as && running.has(s.parent_session_id)) {
      const actions = [button("Show", "", () => showSession(s.id), { action: "show" })];
      if (retryable(s)) actions.unshift(button("Retry", "primary", () => retry(s.id), { action: "retry" }));
      actions.push(button("Dismiss", "", (ev) => dismiss(s.id, ev.target), { action: "dismiss" }));
      items.push({
        key: `ended:${s.id}`,
        at: s.ended_at || s.started_at,
        kind: s.state,
        text: `${title(s)}: ${s.state_text}`,
        detail: sentences(s.state_reason, "Its fallback result is in its planner's inbox"),
        session: s.id,
        sig: retryable(s),
        actions,
      });
    }
  }
  if (suspended.length) items.push(suspendedItem(suspended));
  const finished = finishedPlannersItem(status.finished_planners || []);
  if (finished) items.push(finished);
  items.push(...confirmationItems(sessions, title, showSession));
  items.push(...worktreeItems(status, title, showSession));
  const queue = queueItem();
  if (queue) items.push(queue);
  items.push(...quotaItems(status.quota, status.queued_count || 0));
  items.push(...hostItems(status.queue || []));
  items.sort((a, b) => String(b.at || "").localeCompare(String(a.at || "")));
  return items;
}

/** Answers a department's failed worktree set-up (issue 52). */
async function answerSetup(id, action, b) {
  b.disabled = true;
  try {
    await api("/api/worktree_setup", { session_id: id, action });
  } catch (e) {
    b.disabled = false;
    toast(`Could not ${action.replace("_", " ")} for ${id}: ${e.message}`, "error");
  }
}

/** A department whose worktree's set-up failed: its agent waits for the user. */
function setupItem(s, setup) {
  const output = node("pre", "need-output", setup.output || "(no output)");
  return {
    key: `setup:${s.id}`,
    at: s.started_at,
    kind: "setup",
    text: `${title(s)}: its worktree's set-up failed; its agent has not started`,
    detail: setup.failure || "",
    session: s.id,
    sig: setup.output,
    body: [output],
    actions: [
      button("Retry set-up", "primary", (ev) => answerSetup(s.id, "retry", ev.target), { action: "setup-retry" }),
      button("Start anyway", "", (ev) => answerSetup(s.id, "start_anyway", ev.target), { action: "setup-start-anyway" }),
      button("Discard", "", (ev) => answerSetup(s.id, "discard", ev.target), { action: "setup-discard" }),
    ],
  };
}

/** One item for every session suspended (its agent program cannot start,
 * or the repository's changed configuration waits for your trust); the note
 * at the top of the page says what to do, once. */
function suspendedItem(suspended) {
  const n = suspended.length;
  const check = suspended.some((s) => s.resumes_on_check);
  return {
    key: `suspended:${suspended.map((s) => s.id).join(",")}`,
    at: suspended[0].last_activity_at || suspended[0].started_at,
    kind: "suspended",
    text: `${n === 1 ? title(suspended[0]) : `${n} sessions`} suspended: ${n === 1 ? "it resumes" : "they resume"} on the same conversation once the note at the top is dealt with`,
    // One session's own words; for several, theirs in the plural.
    detail: n === 1 ? sentences(suspended[0].attention.text, "Nothing is lost meanwhile")
      : "The note at the top says what they wait for. Nothing is lost meanwhile.",
    session: suspended[0].id,
    actions: check ? [button("Check again", "primary", (ev) => checkAgents(ev.target), { action: "check-agents" })] : [],
  };
}

/** The plan of `s` as of its current revision, fetched when it moved; null while loading. */
function planOf(s) {
  const known = plans.get(s.id);
  if (known && known.revision === s.plan_revision) return known;
  if (!loading.has(s.id)) {
    loading.add(s.id);
    const revision = s.plan_revision;
    api(`/api/zhongshu_plan?id=${encodeURIComponent(s.id)}`)
      .then((v) => plans.set(s.id, v.plan))
      .catch((e) => plans.set(s.id, { error: e.message, revision }))
      .finally(() => {
        loading.delete(s.id);
        render(store.get().status);
      });
  }
  return null;
}

/** A plan awaiting confirmation: what it would start, and Start for exactly that revision. */
function planItem(s) {
  const plan = planOf(s);
  const shown = plan && !plan.error ? plan : null;
  const item = {
    key: `plan:${s.id}`,
    at: s.last_activity_at || s.started_at,
    kind: "plan",
    text: `${title(s)}: its plan awaits your confirmation`,
    detail: shown ? shown.summary || s.task : s.task,
    session: s.id,
    actions: [],
  };
  const start = button("Review and start…", "primary", () => reviewPlan(s.id, shown, () => {
    // Registered again since it was shown: fetch the new one, nothing started.
    plans.delete(s.id);
    render(store.get().status);
  }), { action: "start-plan" });
  start.disabled = !shown;
  item.actions.push(start, button("Show", "", () => showSession(s.id), { action: "show" }));
  if (!shown) {
    item.body = [node("div", "need-detail", plan ? `Cannot load the plan: ${plan.error}` : "Loading the plan…")];
    return item;
  }
  item.revision = shown.revision;
  // Declining is always there, at the desk and on a phone (issue 70 item 10).
  item.actions.push(button("Decline", "", (ev) => declinePlan(s.id, shown.revision, ev.target), { action: "decline-plan" }));
  if (!firstShown.has(s.id)) firstShown.set(s.id, shown.revision);
  const first = firstShown.get(s.id);
  const body = [node("div", "need-revision", `revision ${shown.revision}`)];
  if (first !== shown.revision) {
    body.push(node("div", "need-changed", `The plan changed since it was first shown here (revision ${first} → ${shown.revision}): this is the new plan.`));
  }
  const list = node("ol", "need-plan");
  for (const a of shown.assignments || []) {
    const li = node("li", a.selected === false ? "unselected" : "");
    li.dataset.department = a.department;
    li.append(node("span", "row-name", store.deptTitle(a.department)), ": ", node("span", "need-task", a.task));
    list.append(li);
  }
  body.push(list);
  item.body = body;
  return item;
}

function nodeOf(item) {
  const sig = JSON.stringify([item.text, item.detail, item.revision, item.sig, item.actions.map((a) => a.textContent)]);
  const known = drawn.get(item.key);
  if (known && known.sig === sig) return known.li;
  const li = node("li", `need need-${item.kind}`);
  li.dataset.key = item.key;
  li.dataset.kind = item.kind;
  if (item.session) li.dataset.session = item.session;
  if (item.revision !== undefined) li.dataset.revision = String(item.revision);
  li.append(node("div", "need-text", item.text));
  if (item.detail) li.append(el("div", { class: "need-detail" }, withCode(item.detail)));
  if (item.body) li.append(...item.body);
  const actions = node("div", "need-actions");
  actions.append(...item.actions);
  li.append(actions);
  drawn.set(item.key, { sig, li });
  return li;
}

function render(status) {
  const items = itemsOf(status);
  const approvals = (status.sessions || []).reduce((n, s) => n + (s.pending_approvals || []).length, 0);
  const count = items.length + approvals;
  $("#needs-you").hidden = count === 0;
  $("#needs-you-count").textContent = count ? String(count) : "";
  store.setNeedsYou(count);
  for (const key of drawn.keys()) if (!items.some((i) => i.key === key)) drawn.delete(key);
  const shown = showAll ? items : items.slice(0, FIRST);
  syncChildren($("#needs-you-list"), shown.map(nodeOf));
  const more = $("#needs-you-more");
  more.hidden = items.length <= FIRST;
  more.textContent = showAll ? "Show fewer" : `Show ${items.length - FIRST} more`;
  more.setAttribute("aria-expanded", showAll ? "true" : "false");
  const keys = [
    ...items.map((i) => i.key),
    ...(status.sessions || []).flatMap((s) => (s.pending_approvals || []).map((a) => `approval:${a.session_id}:${a.request_id}`)),
  ];
  const fresh = keys.filter((k) => !seen.has(k));
  keys.forEach((k) => seen.add(k));
  if (!firstRender && fresh.length) announce(fresh.length, items);
  firstRender = false;
}

function notifyWanted() {
  try {
    return localStorage.getItem(NOTIFY_KEY) === "on";
  } catch (e) {
    return false;
  }
}

function announce(n, items) {
  if (!notifyWanted()) return;
  const text = items.length ? items[0].text : `${n} approval${n === 1 ? "" : "s"} waiting`;
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(`codex-governance: ${n} new item${n === 1 ? "" : "s"} need you`, { body: text });
  }
  beep();
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.05;
    osc.frequency.value = 660;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
    osc.onended = () => ctx.close();
  } catch (e) {
    // no sound where audio is not allowed
  }
}

function wireNotify() {
  const toggle = $("#notify-toggle");
  const show = () => {
    const on = notifyWanted();
    toggle.textContent = on ? "Notifications on" : "Notify me";
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
  };
  toggle.addEventListener("click", async () => {
    const on = !notifyWanted();
    if (on && "Notification" in window && Notification.permission === "default") {
      await Notification.requestPermission();
    }
    try {
      localStorage.setItem(NOTIFY_KEY, on ? "on" : "off");
    } catch (e) {
      // not kept
    }
    show();
  });
  show();
}

export function mount() {
  wireNotify();
  $("#needs-you-more").addEventListener("click", () => {
    showAll = !showAll;
    render(store.get().status);
  });
  store.subscribe((changed) => {
    if (changed.has("status")) render(store.get().status);
  });
}
