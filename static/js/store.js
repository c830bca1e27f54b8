// The page's one state, with subscriptions. Views read it and subscribe; only
// live.js and user actions write it. A change names the parts it touched
// ("status", "focus", "plan", "inbox", "needsYou") so a view redraws only
// when its data changed.

const state = {
  status: null, // GET /api/status, kept current by deltas
  byId: new Map(), // session id -> session view
  focus: null, // the Zhongshu whose plan and inbox are shown
  focusPinned: false, // the user picked it (else: follow the newest)
  focusEarly: null, // {id, at}: a planner just started, not yet listed
  inbox: null, // GET /api/zhongshu_inbox of the focus (first page), or {error}
  plan: null, // GET /api/zhongshu_plan of the focus, or {error}
  needsYou: 0, // items in "Needs you", shown in the tab title
  planStamp: 0, // bumped when a delta brings the focus's plan
  early: [], // results of the focus that came while its inbox was loading
};

const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(...parts) {
  const changed = new Set(parts);
  for (const fn of listeners) {
    try {
      fn(changed);
    } catch (e) {
      console.error("a view failed to draw:", e);
    }
  }
}

export const get = () => state;
export const sessions = () => (state.status && state.status.sessions) || [];
export const session = (id) => state.byId.get(id) || null;
export const isRunning = (s) => !!s && s.status === "running";

/** A model's name as a chip, or null where models do not reach the agents
 * (a PTY command without `{model}`, the demo's scripted agent). */
export const modelShown = (model) => {
  const agents = state.status && state.status.agents;
  return agents && agents.models_apply === false ? null : model;
};

/** English beside the built-in departments' Chinese titles (issue 37). */
const BUILT_IN = {
  menxia: ["门下省", "review"],
  zhilibu: ["治理部", "governance & docs"],
  gongchengbu: ["工程部", "engineering & tooling"],
  lingyubu: ["领域部", "domain code"],
};

/** "zhilibu 治理部 · governance & docs" for a built-in department, "key title" for another. */
export function deptTitle(key) {
  if (!key) return "";
  const d = ((state.status && state.status.department_list) || []).find((x) => x.key === key);
  const title = key === "menxia" ? "门下省" : d && d.title;
  const builtIn = BUILT_IN[key];
  const english = builtIn && builtIn[0] === title ? ` · ${builtIn[1]}` : "";
  return title ? `${key} ${title}${english}` : key;
}

/** Seconds since the session's last output, advanced locally since it arrived. */
export function idleNow(s) {
  if (s.idle_seconds === null || s.idle_seconds === undefined) return null;
  const extra = isRunning(s) ? (Date.now() - (s._at || Date.now())) / 1000 : 0;
  return s.idle_seconds + extra;
}

function stamp(s, at) {
  Object.defineProperty(s, "_at", { value: at, enumerable: false, writable: true });
  return s;
}

/** Rebuilds the lists the views read (the API's shape) from `byId` and `order`. */
function relist(order) {
  const all = order.map((id) => state.byId.get(id)).filter(Boolean);
  state.status.sessions = all;
  state.status.zhongshu_sessions = all.filter((s) => s.session_kind === "zhongshu");
  state.status.department_sessions = all.filter((s) => s.session_kind === "department");
}

/** How long a planner just started stays the focus before the status lists it. */
const EARLY_FOCUS_MS = 60000;

function pickFocus() {
  const zs = state.status.zhongshu_sessions || [];
  const listed = zs.some((z) => z.id === state.focus);
  // A planner just started hides while it launches: it stays the focus
  // until the status lists it (or a minute passes), rather than the page
  // showing another planner meanwhile.
  const early = state.focusEarly && state.focusEarly.id === state.focus;
  if (listed || (early && Date.now() - state.focusEarly.at > EARLY_FOCUS_MS)) state.focusEarly = null;
  if (!listed && state.focusEarly) return;
  if (!listed) state.focusPinned = false;
  if (!state.focusPinned) state.focus = zs.length ? zs[0].id : null;
}

/** A whole status, as fetched. */
export function setStatus(status) {
  // A whole status fetched before a change whose delta was applied meanwhile
  // is older than what we show: keep ours (its deltas carried the change).
  if (state.status && (status.audit_seq || 0) < (state.status.audit_seq || 0)) return false;
  const at = Date.now();
  const before = state.focus;
  state.status = status;
  state.byId = new Map((status.sessions || []).map((s) => [s.id, stamp(s, at)]));
  relist((status.sessions || []).map((s) => s.id));
  pickFocus();
  emit("status", ...(state.focus !== before ? ["focus"] : []));
}

/** A delta from the event stream (see launcher/deltas.rs); false if it is older than what we have. */
export function applyDelta(delta) {
  const st = state.status;
  if (!st || (delta.seq || 0) < (st.audit_seq || 0)) return false;
  const at = Date.now();
  st.audit_seq = delta.seq;
  // A new session comes whole, a known one as the fields that changed.
  for (const [id, part] of Object.entries(delta.sessions || {})) {
    const known = state.byId.get(id);
    state.byId.set(id, stamp(known ? Object.assign({}, known, part) : part, at));
  }
  for (const id of delta.removed || []) state.byId.delete(id);
  Object.assign(st, delta.fields || {});
  const order = delta.order || st.sessions.map((s) => s.id);
  for (const id of state.byId.keys()) if (!order.includes(id)) order.unshift(id);
  relist(order);
  const before = state.focus;
  pickFocus();
  const parts = ["status"];
  if (state.focus !== before) parts.push("focus");
  const plan = (delta.plans || {})[state.focus];
  if (plan && state.focus === before) {
    state.plan = plan;
    state.planStamp += 1;
    parts.push("plan");
  }
  if (state.focus === before && upsertResults(delta.results || [])) parts.push("inbox");
  emit(...parts);
  return true;
}

/** Puts new or updated results of the focus into its loaded inbox page. */
function upsertResults(results) {
  const inbox = state.inbox;
  const mine = results.filter((r) => r.parent_session_id === state.focus);
  if (!mine.length) return false;
  if (!inbox) state.early.push(...mine); // the page being fetched may predate them
  if (!inbox || inbox.error) return false;
  const key = (r) => `${r.department_session_id}/${r.report_id}`;
  const list = inbox.results || [];
  for (const r of mine) {
    const i = list.findIndex((x) => key(x) === key(r));
    if (i >= 0) list[i] = r;
    else list.unshift(r);
  }
  inbox.results = list;
  return true;
}

/** The focus's results were read by its planner. */
export function markFocusRead(parent) {
  if (parent !== state.focus || !state.inbox || state.inbox.error) return;
  for (const r of state.inbox.results || []) r.read = true;
  emit("inbox");
}

/** The developer saw results of `parent` (all, one department's, or one
 * report): the page's own read state. The launcher keeps it; this shows it
 * at once. */
export function markSeen(parent, department, report) {
  if (parent !== state.focus || !state.inbox || state.inbox.error) return;
  for (const r of state.inbox.results || []) {
    if ((!department || r.department_session_id === department) && (!report || r.report_id === report)) r.seen = true;
  }
  emit("inbox");
}

/** The user picks a Zhongshu (`pinned`), or a start makes a new one the focus. */
export function setFocus(id, pinned = true) {
  if (!id || id === state.focus) return;
  state.focus = id;
  state.focusPinned = pinned;
  // One the user did not pick is a planner just started (see pickFocus).
  state.focusEarly = pinned ? null : { id, at: Date.now() };
  state.inbox = null;
  state.plan = null;
  state.early = [];
  emit("focus");
}

/** The plan and inbox fetched for `id`, asked for when the plan stamp was `stamp`. */
export function setFocusData(id, plan, inbox, stamp) {
  if (id !== state.focus) return;
  if (stamp === state.planStamp) state.plan = plan; // else a delta brought a newer one
  state.inbox = inbox;
  const early = state.early;
  state.early = [];
  upsertResults(early);
  emit("plan", "inbox");
}

export function setNeedsYou(count) {
  if (state.needsYou === count) return;
  state.needsYou = count;
  emit("needsYou");
}
