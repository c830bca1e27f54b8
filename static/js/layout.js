// Where things are: on wide screens the terminals and the plan/inbox sit side
// by side; on narrow ones one view at a time, chosen by tabs. "Show" (from
// Needs you, the plan, the timeline) brings a session's row into view, on its
// tab, and focuses a Zhongshu's plan and inbox.

import { $, $$ } from "./dom.js";
import * as store from "./store.js";

const NARROW = "(max-width: 899px)";

function select(panelId) {
  const tab = $(`.view-tab[data-panel="${panelId}"]`);
  if (!tab) return;
  for (const t of $$(".view-tab")) {
    const on = t === tab;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
  }
  document.body.dataset.view = panelId;
}

/** Brings a panel into view (on narrow screens: its tab). */
export function showPanel(panelId) {
  if (matchMedia(NARROW).matches) select(panelId);
  const panel = document.getElementById(panelId);
  if (panel) panel.scrollIntoView({ behavior: "smooth", block: "start" });
}

export function showSession(id) {
  const s = store.session(id);
  if (s && s.session_kind === "zhongshu") store.setFocus(id);
  if (matchMedia(NARROW).matches) select("sessions-panel");
  const row = $(`.session-row[data-id="${CSS.escape(id)}"]`);
  if (!row) return;
  const group = row.closest(".zgroup-children");
  if (group && group.hidden) {
    const toggle = group.parentElement.querySelector(".zgroup-toggle");
    if (toggle) toggle.click();
  }
  row.scrollIntoView({ behavior: "smooth", block: "center" });
  row.classList.add("flash");
  setTimeout(() => row.classList.remove("flash"), 1500);
}

function wireTabs() {
  const tabs = $$(".view-tab");
  for (const tab of tabs) tab.addEventListener("click", () => select(tab.dataset.panel));
  $(".view-tabs").addEventListener("keydown", (event) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0 || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    select(next.dataset.panel);
    next.focus();
  });
  select("terminals-panel");
}

export function mount() {
  wireTabs();
  document.addEventListener("codex-governance:show-session", (event) => showSession(event.detail));
  document.addEventListener("codex-governance:show-panel", (event) => showPanel(event.detail));
}
