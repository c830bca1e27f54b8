// The Notifications panel (issue 54): where notices go (the channels of
// launcher.notify, whether a token is set, never the token), what a phone may
// decide, the last deliveries with their state, and "Send a test notice". The
// launcher decides everything (GET /api/notify); this only draws it. While
// this tab is visible and was used lately it tells the launcher so
// (POST /api/notify/presence): no notice goes out while the user is at the
// page, and a page left open on a desk the user walked away from holds none.

import { $, el, replaceChildren } from "./dom.js";
import { api, authHeaders, toast } from "./api.js";

/** How often a tab in use says so (the launcher trusts it for 45 s). */
const PRESENCE_EVERY_MS = 20000;
const DECIDES = {
  decline_only: "decline only",
  low_risk: "decline, and approve a file change",
  all: "decline, approve and confirm plans",
};

/** A visible page counts as in use this long after the user's last input. */
const IDLE_AFTER_MS = 120000;

let open = false;
let lastInput = Date.now();

/** This tab's own name for the launcher: one tab leaving never makes
 * another, still in use, absent. */
const TAB = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;

/** Says "in use" while this tab is visible and used (the launcher trusts
 * each word for 45 s), and "left" as it is hidden or closed, which counts at
 * once: what waited for you goes to your phone without waiting for 45 s. */
let saidInUse = false;
function sayPresence() {
  const inUse = document.visibilityState === "visible" && Date.now() - lastInput < IDLE_AFTER_MS;
  if (inUse) api("/api/notify/presence", { visible: true, tab: TAB }).catch(() => {});
  else if (saidInUse) sayLeft();
  saidInUse = inUse;
}

/** "Left", sent so that it outlives the page (keepalive). */
function sayLeft() {
  fetch("/api/notify/presence", {
    method: "POST", keepalive: true, credentials: "omit", cache: "no-store",
    headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify({ visible: false, tab: TAB }),
  }).catch(() => {});
}

function channelRow(c) {
  const state = c.failing
    ? el("span", { class: "badge badge-error", text: `failing: ${c.failing}` })
    : el("span", { class: "badge", text: "ok" });
  return el("li", { class: "notify-channel", attrs: { "data-channel": c.channel } },
    el("strong", { text: c.channel }), " ",
    el("code", { text: c.target }), " ",
    c.token_set ? el("span", { class: "hint", text: "(token set)" }) : null, " ",
    state);
}

function deliveryRow(d) {
  const when = (d.at || "").slice(11, 19);
  return el("li", { class: `notify-delivery state-${d.state}`, attrs: { "data-state": d.state } },
    el("span", { class: "hint", text: when }), " ",
    el("span", { text: `${d.channel}: ${d.item_id} — ${d.state}` }),
    d.attempts > 1 ? el("span", { class: "hint", text: ` (${d.attempts} tries)` }) : null,
    d.error ? el("span", { class: "form-msg error", text: ` ${d.error}` }) : null);
}

function render(n) {
  const body = $("#notify-body");
  const test = $("#notify-test");
  test.disabled = !n.channels.length;
  if (!n.channels.length) {
    replaceChildren(body,
      el("p", { class: "empty-note", text: "No channel is set. Add launcher.notify to governance.yaml (an ntfy topic, a Telegram chat or a program); the README's Notifications section shows how." }));
    return;
  }
  const settings = `Detail: ${n.detail}; a phone may ${DECIDES[n.remote_decisions] || n.remote_decisions}; after ${n.dwell_seconds} s` +
    (n.quiet_hours ? `; quiet ${n.quiet_hours}` : "") +
    (n.tab_in_use ? ". Nothing is sent while this page is in use." : ".");
  replaceChildren(body,
    el("ul", { class: "notify-channels" }, n.channels.map(channelRow)),
    el("p", { class: "hint notify-settings", text: settings }),
    n.deliveries.length
      ? el("ol", { class: "notify-deliveries", attrs: { "aria-label": "last deliveries" } }, n.deliveries.map(deliveryRow))
      : el("p", { class: "empty-note", text: "Nothing sent yet." }));
}

async function load() {
  try {
    const r = await api("/api/notify");
    render(r.notify);
  } catch (e) {
    replaceChildren($("#notify-body"), el("p", { class: "form-msg error", text: `Cannot read the notifications: ${e.message}` }));
  }
}

export function mount() {
  const details = $("#notify-details");
  details.addEventListener("toggle", () => {
    open = details.open;
    if (open) load();
  });
  $("#notify-test").addEventListener("click", async (ev) => {
    const b = ev.currentTarget;
    b.disabled = true;
    try {
      await api("/api/notify/test", {});
      toast("Test notice sent: its delivery shows below.", "success");
    } catch (e) {
      toast(`No test notice: ${e.message}`, "error");
    }
    b.disabled = false;
    load();
  });
  // Deliveries move on their own (retries): read again while it is open.
  setInterval(() => {
    if (open && document.visibilityState === "visible") load();
  }, 3000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") lastInput = Date.now();
    sayPresence();
  });
  for (const kind of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    window.addEventListener(kind, () => {
      const wasIdle = Date.now() - lastInput >= IDLE_AFTER_MS;
      lastInput = Date.now();
      if (wasIdle) sayPresence();
    }, { passive: true, capture: true });
  }
  window.addEventListener("pagehide", sayLeft);
  setInterval(sayPresence, PRESENCE_EVERY_MS);
  sayPresence();
  load();
}
