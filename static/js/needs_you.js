// "Needs you": one place at the top of the dashboard listing, newest first,
// everything that waits for the developer: plans awaiting confirmation (the
// plan itself, its revision, and a Start button that confirms exactly that
// revision: a plan registered again since answers 409 and the new one is
// shown), agents asking something (login, a question, an error),
// departments that failed or ended without a report, reports that ask for the
// user's confirmation. Approvals sit in the same section (#approvals, drawn by
// approvals.js). The tab title carries the count; an opt-in desktop
// notification and a short sound announce new items. User text is only ever
// set as textContent.

import { api, toast } from "./api.js";
import { startedText } from "./plan.js";
import * as store from "./store.js";

/** Zhongshu id -> its plan as last fetched ({revision, summary, assignments}), or {error, revision}. */
const plans = new Map();
const loading = new Set();
/** Zhongshu id -> the revision first shown here, to say when the plan changed. */
const firstShown = new Map();

const NOTIFY_KEY = "codex_governance_notify";
const DISMISSED_KEY = "codex_governance_dismissed";

const seen = new Set();
let firstRender = true;

const showSession = (id) => document.dispatchEvent(new CustomEvent("codex-governance:show-session", { detail: id }));
const $ = (sel) => document.querySelector(sel);

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function button(label, cls, onClick, data = {}) {
  const b = node("button", `small ${cls}`, label);
  b.type = "button";
  for (const [k, v] of Object.entries(data)) b.dataset[k] = v;
  b.addEventListener("click", onClick);
  return b;
}

function readSet(key) {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(key) || "[]"));
  } catch (e) {
    return new Set();
  }
}

function dismiss(key) {
  const set = readSet(DISMISSED_KEY);
  set.add(key);
  try {
    sessionStorage.setItem(DISMISSED_KEY, JSON.stringify([...set]));
  } catch (e) {
    // dismissed until the next refresh only
  }
  const item = document.querySelector(`#needs-you-list [data-key="${CSS.escape(key)}"]`);
  if (item) item.remove();
  render(store.get().status);
}

const title = (s) => s.title || s.id;

/** Everything waiting, as {key, at, kind, text, detail, session, actions}. */
function itemsOf(status) {
  const sessions = status.sessions || [];
  const dismissed = readSet(DISMISSED_KEY);
  const items = [];
  for (const s of sessions) {
    if (s.session_kind === "zhongshu" && s.plan_status === "awaiting_confirmation") {
      items.push(planItem(s));
    }
    const attention = s.attention;
    if (s.status === "running" && s.state === "needs_you" && attention && attention.kind !== "approval") {
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
    if (s.session_kind === "department" && (s.state === "failed" || s.state === "no_report")) {
      const key = `ended:${s.id}`;
      if (dismissed.has(key)) continue;
      items.push({
        key,
        at: s.ended_at || s.started_at,
        kind: s.state,
        text: `${title(s)}: ${s.state_text}`,
        detail: [s.state_reason, "Its fallback result goes to its Zhongshu's inbox."]
          .filter(Boolean).join(" "),
        session: s.id,
        actions: [
          button("Show", "", () => showSession(s.id), { action: "show" }),
          button("Dismiss", "", () => dismiss(key), { action: "dismiss" }),
        ],
      });
    }
  }
  items.push(...confirmations(sessions, dismissed));
  items.sort((a, b) => String(b.at || "").localeCompare(String(a.at || "")));
  return items;
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
  const start = button("Start the plan", "primary", () => startPlan(s.id, shown.revision), { action: "start-plan" });
  start.disabled = !shown;
  item.actions.push(start, button("Review it", "", () => showSession(s.id), { action: "show" }));
  if (!shown) {
    item.body = [node("div", "need-detail", plan ? `Cannot load the plan: ${plan.error}` : "Loading the plan…")];
    return item;
  }
  item.revision = shown.revision;
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

/** Departments whose last report asks the user to confirm something. */
function confirmations(sessions, dismissed) {
  return sessions
    .filter((s) => s.report_needs_confirmation && !dismissed.has(`confirm:${s.id}:${s.last_report_id}`))
    .map((s) => {
      const key = `confirm:${s.id}:${s.last_report_id}`;
      const open = button("Open the report", "primary", () => {}, {
        openHandoff: "1", session: s.parent_session_id, department: s.id, report: s.last_report_id,
      });
      return {
        key,
        at: s.reported_at || s.ended_at || s.started_at,
        kind: "confirm",
        text: `${title(s)}: its report asks for your confirmation`,
        detail: s.task,
        session: s.id,
        actions: [open, button("Show", "", () => showSession(s.id), { action: "show" }), button("Dismiss", "", () => dismiss(key), { action: "dismiss" })],
      };
    });
}

async function startPlan(id, revision) {
  try {
    const answer = await api("/api/start_assignments", { parent_session_id: id, revision });
    toast(startedText(answer, 0, id));
  } catch (e) {
    if (e.status === 409) {
      // Registered again since it was shown: fetch the new one, nothing started.
      plans.delete(id);
      render(store.get().status);
    }
    toast(`Could not start the plan of ${id}: ${e.message}`, "error");
  }
}

function render(status) {
  const items = itemsOf(status);
  const approvals = (status.sessions || []).reduce((n, s) => n + (s.pending_approvals || []).length, 0);
  const count = items.length + approvals;
  $("#needs-you").hidden = count === 0;
  $("#needs-you-count").textContent = count ? String(count) : "";
  store.setNeedsYou(count);
  const list = $("#needs-you-list");
  list.replaceChildren(...items.map((item) => {
    const li = node("li", `need need-${item.kind}`);
    li.dataset.key = item.key;
    li.dataset.kind = item.kind;
    li.dataset.session = item.session;
    if (item.revision !== undefined) li.dataset.revision = String(item.revision);
    li.append(node("div", "need-text", item.text));
    if (item.detail) li.append(node("div", "need-detail", item.detail));
    if (item.body) li.append(...item.body);
    const actions = node("div", "need-actions");
    actions.append(...item.actions);
    li.append(actions);
    return li;
  }));
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
  store.subscribe((changed) => {
    if (changed.has("status")) render(store.get().status);
  });
}
