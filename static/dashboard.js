// The dashboard: plain DOM, ES modules, no framework, no build step.
//
// Each view is a module (static/js/) that subscribes to one small store;
// live.js fills the store from the launcher's API and its event stream. No
// user or agent text is ever parsed as HTML: everything is built with
// createElement / textContent (the one exception, a handoff packet in the
// drawer, arrives as HTML the server rendered with all raw HTML escaped).

import { adoptFragmentToken, refuseLateFragmentToken, showAuthProblem, token } from "./js/api.js";
import * as live from "./js/live.js";
import * as store from "./js/store.js";
import * as approvals from "./js/approvals.js";
import * as drawer from "./js/drawer.js";
import * as grid from "./js/grid.js";
import * as header from "./js/header.js";
import * as inbox from "./js/inbox.js";
import * as keys from "./js/keys.js";
import * as layout from "./js/layout.js";
import * as needsYou from "./js/needs_you.js";
import * as notify from "./js/notify.js";
import * as phones from "./js/phones.js";
import * as plan from "./js/plan.js";
import * as queue from "./js/queue.js";
import * as train from "./js/train.js";
import * as report from "./js/report.js";
import * as sessions from "./js/sessions.js";
import * as timeline from "./js/timeline.js";
import * as trust from "./js/trust.js";

function init() {
  adoptFragmentToken();
  if (!token()) showAuthProblem();
  for (const view of [header, trust, keys, layout, needsYou, approvals, grid, sessions, queue, train, inbox, plan, report, timeline, notify, phones, drawer]) {
    view.mount();
  }
  // The focused Zhongshu's plan and inbox are fetched when the focus moves.
  store.subscribe((changed) => {
    if (changed.has("focus")) live.loadFocus();
  });
  // The token is taken from the address once, as the page loads; one that
  // appears later (an in-page link could put it there) is cleared, unused.
  window.addEventListener("hashchange", refuseLateFragmentToken);
  live.connect();
  live.refresh();
  report.load();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
