// The terminal grid: up to four sessions (pinned ones first, then those with
// work in progress, newest Zhongshu with its departments; a planner done with
// its plan after them, a superseded attempt never), one hint when there are none;
// one tile takes the whole width. A tile shows the session's conversation
// where its backend keeps one (conversation.js; its "terminal" button opens
// the agent's own terminal, started on demand, and "conversation" closes it
// again), else its live terminal, and once that is gone its transcript. A tile can be
// pinned (it stays) and maximised (it fills the window; Esc on the tile or the
// button restores it); a working Codex agent's tile has Interrupt. While a
// terminal has the keyboard its bar says which keys do what (Esc goes to the
// agent, Ctrl+] leaves). Tiles never move in the DOM once placed: moving an
// iframe reloads it; the visual order comes from `order`.

import { $, breakable, el, setClass, setText } from "./dom.js";
import { clock, dateTime, duration, runText, taskWords } from "./format.js";
import { actionButton, interrupt, interruptible } from "./control.js";
import { api, toast } from "./api.js";
import { conversationView } from "./conversation.js";
import * as store from "./store.js";

const SLOTS = 4;
const PIN_KEY = "codex_governance_pinned";
const tiles = new Map(); // session id -> tile parts
let hint = null;
let pinned = loadPins();

function loadPins() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(PIN_KEY) || "[]"));
  } catch (e) {
    return new Set();
  }
}

function savePins() {
  try {
    sessionStorage.setItem(PIN_KEY, JSON.stringify([...pinned]));
  } catch (e) {
    // pins last this page's life
  }
}

/** A terminal URL as the launcher makes them (loopback http), else null. */
export function terminalUrl(s) {
  return loopbackUrl(s && s.browser_terminal_url);
}

function loopbackUrl(url) {
  if (typeof url !== "string") return null;
  return /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(url) ? url : null;
}

export function heartbeatText(s) {
  const hb = s.heartbeat_status || "unknown";
  const idle = store.idleNow(s);
  if (hb === "exited") return s.ended_at ? `ended ${clock(s.ended_at)}` : "ended";
  if (hb === "waiting") return s.last_activity_at ? `since ${clock(s.last_activity_at)}` : "";
  if (idle === null) {
    if (s.last_activity_at) return `last output ${clock(s.last_activity_at)}`;
    return (s.transcript_preview || "").trim() ? "output" : "no output yet";
  }
  return `${hb === "unknown" ? "output" : hb} · idle ${duration(idle)}`;
}

export function updateHeartbeat(node, s) {
  setText(node, heartbeatText(s));
  setClass(node, "hb", `hb-${s.heartbeat_status || "unknown"}`);
  node.title = s.last_activity_at ? `last output ${dateTime(s.last_activity_at)}` : "no output yet";
}

/** One state word and colour (server-derived): working, needs you, reported, failed: exit N… */
export function showState(node, s) {
  setText(node, s.state_text || s.status);
  setClass(node, "badge", `state-${s.state || s.status}`);
  // Suspended: nothing runs, something waits for you; not a healthy green.
  node.classList.toggle("state-suspended", Boolean(s.suspended));
  node.title = s.state_reason || "";
}

function slotSessions(st) {
  const zs = st.zhongshu_sessions || [];
  const ds = st.department_sessions || [];
  const order = [];
  const placed = new Set();
  // `in_progress` (views): running, and not a planner done with its plan.
  const live = (z) => z.in_progress || ds.some((d) => d.parent_session_id === z.id && d.in_progress);
  for (const z of [...zs.filter(live), ...zs.filter((z) => !live(z))]) {
    order.push(z);
    placed.add(z.id);
    for (const d of ds.slice().reverse()) { // departments in start order
      if (d.parent_session_id === z.id) {
        order.push(d);
        placed.add(d.id);
      }
    }
  }
  for (const d of ds) if (!placed.has(d.id)) order.push(d);
  // A superseded attempt (sent back, retried) gives its place to the newest.
  const newest = order.filter((s) => !s.superseded_by);
  const chosen = new Set(newest.filter((s) => pinned.has(s.id)).slice(0, SLOTS).map((s) => s.id));
  for (const s of newest.filter((s) => s.in_progress)) if (chosen.size < SLOTS) chosen.add(s.id);
  // Then what ended, and planners done with their plan (views) only last.
  const done = new Set(st.finished_planners || []);
  for (const s of newest) if (chosen.size < SLOTS && !done.has(s.id)) chosen.add(s.id);
  for (const s of newest) if (chosen.size < SLOTS) chosen.add(s.id);
  const rank = (s) => (pinned.has(s.id) ? 0 : s.in_progress ? 1 : done.has(s.id) ? 3 : 2);
  return order.filter((s) => chosen.has(s.id)).sort((a, b) => rank(a) - rank(b));
}

function toggleMax(t, on) {
  const max = on === undefined ? !t.root.classList.contains("maximised") : on;
  for (const other of tiles.values()) if (other !== t) other.root.classList.remove("maximised");
  t.root.classList.toggle("maximised", max);
  t.max.textContent = max ? "restore" : "maximise";
  t.max.setAttribute("aria-pressed", max ? "true" : "false");
  document.body.classList.toggle("has-maximised", max);
}

function buildTile(id) {
  const t = {};
  t.title = el("span", { class: "slot-title" });
  t.status = el("span", { class: "badge" });
  t.hb = el("span", { class: "hb" });
  t.interrupt = actionButton("Interrupt", "slot-interrupt", "stop the agent's running turn (the session stays)", () => interrupt(id));
  t.keys = el("span", { class: "slot-keys", text: "Esc goes to the agent · Ctrl+] leaves" });
  t.pin = el("button", { type: "button", class: "small slot-pin", text: "pin", title: "keep this terminal in the grid" });
  t.max = el("button", { type: "button", class: "small slot-max", text: "maximise", title: "fill the window with this terminal (Esc on the tile restores it)" });
  t.view = el("button", { type: "button", class: "small slot-view", text: "terminal", title: "show the agent's own terminal (started for you; it stops a while after you leave it)", hidden: true });
  t.mode = "conversation";
  t.attachedUrl = null;
  t.view.addEventListener("click", () => toggleView(t, id));
  t.open = el("a", { class: "slot-open", text: "open ↗", attrs: { target: "_blank", rel: "noopener noreferrer" }, title: "open this terminal in its own tab" });
  t.bar = el("div", { class: "slot-bar" }, t.title, el("span", { class: "slot-meta" }, t.status, t.hb, t.keys, t.interrupt, t.view, t.pin, t.max, t.open));
  t.body = el("div", { class: "slot-body" });
  t.frame = null;
  t.conv = null;
  t.root = el("div", { class: "slot", data: { session: id } }, t.bar, t.body);
  t.pin.addEventListener("click", () => {
    if (pinned.has(id)) pinned.delete(id);
    else pinned.add(id);
    savePins();
    render();
  });
  t.max.addEventListener("click", () => toggleMax(t));
  t.root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && t.root.classList.contains("maximised")) toggleMax(t, false);
  });
  return t;
}

/** Terminal or conversation: the terminal is started for this viewer on demand. */
async function toggleView(t, id) {
  if (t.mode === "terminal") {
    t.mode = "conversation";
    t.attachedUrl = null;
    render();
    return;
  }
  t.mode = "terminal";
  const s = store.session(id);
  if (s && !terminalUrl(s)) {
    t.view.disabled = true;
    try {
      const res = await api("/api/session_terminal/attach", { session_id: id });
      t.attachedUrl = loopbackUrl(res.url);
    } catch (e) {
      t.mode = "conversation";
      toast(`Could not open the terminal of ${id}: ${e.message}`, "error");
    } finally {
      t.view.disabled = false;
    }
  }
  render();
}

function showFrame(t, s, url) {
  if (!t.frame) {
    t.frame = el("iframe", {
      class: "slot-frame",
      title: `terminal of ${s.id}`,
      attrs: { referrerpolicy: "no-referrer", sandbox: "allow-scripts allow-same-origin", allow: "clipboard-write" },
    });
    t.body.appendChild(t.frame);
  }
  if (t.frame.getAttribute("src") !== url) t.frame.setAttribute("src", url);
  if (t.conv) t.conv.root.hidden = true;
}

function showConversation(t, s) {
  if (t.frame) t.frame.remove(); // its socket closes: nobody watches that terminal here
  t.frame = null;
  if (!t.conv) {
    t.conv = conversationView(s.id);
    t.body.appendChild(t.conv.root);
  }
  t.conv.root.hidden = false;
  t.conv.update(s);
}

function updateFrame(t, s) {
  const url = terminalUrl(s) || (store.isRunning(s) ? t.attachedUrl : null);
  const caps = s.capabilities || {};
  const items = !!caps.conversation;
  const running = store.isRunning(s);
  t.open.hidden = !url;
  if (url) t.open.href = url;
  else t.open.removeAttribute("href");
  // A backend with a conversation shows it unless the user asked for the
  // terminal; a terminal agent shows its terminal while it runs, then its
  // whole transcript.
  const terminal = !!url && running && (!items || t.mode === "terminal");
  t.view.hidden = !items || !running;
  t.view.textContent = terminal ? "conversation" : "terminal";
  t.view.setAttribute("aria-pressed", terminal ? "true" : "false");
  t.view.setAttribute("aria-label", terminal ? `show the conversation of ${s.id}` : `open the terminal of ${s.id}`);
  t.root.dataset.view = terminal ? "terminal" : "conversation";
  if (terminal) showFrame(t, s, url);
  else showConversation(t, s);
}

function updateTile(t, s) {
  // The id first (it is what a tile is told apart by), the role after it.
  const remote = s.workspace && s.workspace.remote;
  const role = ({ zhongshu: "planner", reviewer: "reviewer" }[s.session_kind] || store.deptTitle(s.department)) + (remote ? ` on ${remote.host}` : "");
  const titleKey = `${s.id}|${role}`;
  if (t.title.dataset.key !== titleKey) {
    t.title.dataset.key = titleKey;
    t.title.replaceChildren(el("span", { class: "slot-id" }, breakable(s.id)), el("span", { class: "slot-role" }, breakable(` · ${role}`)));
  }
  t.title.title = [s.title, taskWords(s.task), runText(s)].filter(Boolean).join(" — ");
  showState(t.status, s);
  updateHeartbeat(t.hb, s);
  t.interrupt.hidden = !interruptible(s);
  t.interrupt.setAttribute("aria-label", `interrupt the turn of ${s.id}`);
  t.root.dataset.status = s.status;
  t.root.dataset.state = s.state || "";
  t.root.dataset.kind = s.session_kind;
  const isPinned = pinned.has(s.id);
  t.root.classList.toggle("pinned", isPinned);
  t.pin.textContent = isPinned ? "unpin" : "pin";
  t.pin.setAttribute("aria-pressed", isPinned ? "true" : "false");
  t.pin.setAttribute("aria-label", `${isPinned ? "unpin" : "pin"} the terminal of ${s.id}`);
  t.max.setAttribute("aria-label", `maximise the terminal of ${s.id}`);
  updateFrame(t, s);
}

function render() {
  const st = store.get().status;
  if (!st) return;
  const chosen = slotSessions(st);
  const grid = $("#grid");
  const keep = new Set(chosen.map((s) => s.id));
  for (const [id, t] of tiles) {
    if (!keep.has(id)) {
      t.root.remove();
      tiles.delete(id);
    }
  }
  const nodes = chosen.map((s) => {
    let t = tiles.get(s.id);
    if (!t) {
      t = buildTile(s.id);
      tiles.set(s.id, t);
    }
    updateTile(t, s);
    return t.root;
  });
  if (!nodes.length) {
    hint = hint || el("div", { class: "slot empty grid-hint" },
      el("p", { class: "slot-empty-text", text: "No terminal yet: a session's live terminal appears here when it starts." }));
    nodes.push(hint);
  }
  for (const child of Array.from(grid.children)) if (!nodes.includes(child)) child.remove();
  nodes.forEach((node, i) => {
    if (node.parentNode !== grid) grid.appendChild(node);
    node.style.order = String(i);
    node.dataset.slot = String(i);
  });
  grid.dataset.count = String(chosen.length);
  const lone = chosen.length === 1 ? chosen[0].id : null;
  for (const [id, t] of tiles) t.root.classList.toggle("whole-width", id === lone);
  setText($("#grid-info"), chosen.length ? `${chosen.length} of ${SLOTS} slots · pinned first, then work in progress` : "");
}

/** The terminal in this frame has the keyboard (or let it go): its bar says the keys. */
export function terminalFocus(frame, focused) {
  const slot = frame && frame.closest(".slot");
  if (slot) slot.classList.toggle("term-focus", focused);
}

/** Once a second: advance the heartbeats. */
function tick() {
  for (const [id, t] of tiles) {
    const s = store.session(id);
    if (s && store.isRunning(s)) updateHeartbeat(t.hb, s);
  }
}

export function mount() {
  store.subscribe((changed) => {
    if (changed.has("status")) render();
  });
  setInterval(tick, 1000);
}
