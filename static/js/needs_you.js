// "Needs you": one place at the top of the dashboard listing everything
// that waits for the developer, as the server derived it once for the page,
// the phone and the notices (status.needs_you, src/views/needs_you/): plans
// awaiting confirmation, agents asking something, departments that failed
// or ended without a report, reports asking for confirmation, isolated
// departments' work waiting for review, the usage limit's offer, planners
// without a plan or done with theirs, hosts… This module draws them in the
// server's order (each by needs_parts.js, its buttons by need_actions.js)
// and decides nothing about them. Approvals sit in the same section
// (#approvals, drawn by approvals.js). The first three items show, the
// rest behind "Show N more", so the task form stays in view. The tab title
// carries the count; an opt-in desktop notification and a short sound
// announce new items.

import { syncChildren } from "./dom.js";
import { refresh } from "./live.js";
import { forgetBoxes, itemNode } from "./needs_parts.js";
import * as store from "./store.js";

const NOTIFY_KEY = "codex_governance_notify";
/** Items shown before "Show N more". */
const FIRST = 3;
/** How often the status is fetched while an item offers to check the user's tree again. */
const RECHECK_MS = 5000;

const seen = new Set();
let firstRender = true;
let showAll = false;
let recheck = null;
/** Item key -> {sig, li}: an item's node is rebuilt only when it changed
 * (its time alone is no change), and its box is kept across rebuilds. */
const drawn = new Map();

const $ = (sel) => document.querySelector(sel);

function nodeOf(item) {
  const sig = JSON.stringify({ ...item, at: undefined });
  const known = drawn.get(item.key);
  if (known && known.sig === sig) return known.li;
  const li = itemNode(item);
  drawn.set(item.key, { sig, li });
  return li;
}

/** While an item offers to check the user's tree again, the page does so
 * every few seconds too. */
function keepChecking(items) {
  const on = items.some((i) => i.actions.some((a) => a.does.does === "refresh"));
  if (on && recheck === null) recheck = setInterval(refresh, RECHECK_MS);
  if (!on && recheck !== null) {
    clearInterval(recheck);
    recheck = null;
  }
}

function render(status) {
  const all = status.needs_you || [];
  // Approvals are drawn as cards of their own (approvals.js).
  const items = all.filter((i) => i.kind !== "approval");
  const count = all.length;
  $("#needs-you").hidden = count === 0;
  $("#needs-you-count").textContent = count ? String(count) : "";
  store.setNeedsYou(count);
  const keys = new Set(all.map((i) => i.key));
  for (const key of drawn.keys()) if (!keys.has(key)) drawn.delete(key);
  forgetBoxes(keys);
  const shown = showAll ? items : items.slice(0, FIRST);
  syncChildren($("#needs-you-list"), shown.map(nodeOf));
  const more = $("#needs-you-more");
  more.hidden = items.length <= FIRST;
  more.textContent = showAll ? "Show fewer" : `Show ${items.length - FIRST} more`;
  more.setAttribute("aria-expanded", showAll ? "true" : "false");
  keepChecking(items);
  const fresh = [...keys].filter((k) => !seen.has(k));
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
