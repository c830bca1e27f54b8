// "Needs you" items of isolated departments (issue 26):
// - a plan whose files the user's working tree changes: its departments start
//   from the plan's base commit and do not see those changes. The launcher
//   lists only files still changed, so the item goes once they are committed
//   or reverted ("Check again", and a status refresh every few seconds while
//   it shows: no event tells the page that the user's tree changed);
// - files the plan names that hold a department's applied change;
// - work in review whose pull request's checks fail, or whose review on
//   the forge waits to go back (pull_request.js).
// A department's waiting work, findings and conflicts included, is one item
// for all of them: the review queue (review_queue.js). File names come from
// agents: they are only ever set as text.

import { el, pathList } from "./dom.js";
import { refresh } from "./live.js";
import { pullRequestItem, pullRequestReviewItem } from "./pull_request.js";

/** How often the status is fetched while a plan's files are dirty. */
const DIRTY_RECHECK_MS = 5000;
let recheck = null;

/** Checks the working tree again while an item waits for it, else stops. */
function keepChecking(on) {
  if (on && recheck === null) recheck = setInterval(refresh, DIRTY_RECHECK_MS);
  if (!on && recheck !== null) {
    clearInterval(recheck);
    recheck = null;
  }
}

function button(text, action, extra = {}) {
  return el("button", { type: "button", class: `small ${extra.cls || ""}`, text, data: { action, ...(extra.data || {}) }, attrs: extra.attrs, on: extra.on });
}

/** A Zhongshu's plan naming files the user has not committed. */
function dirtyItem(s, title, showSession) {
  const dirty = s.plan_dirty_files || [];
  if (s.session_kind !== "zhongshu" || !dirty.length) return null;
  return {
    key: `dirty:${s.id}`,
    at: s.last_activity_at || s.started_at,
    kind: "dirty",
    text: `${title(s)}: its plan names ${dirty.length} file${dirty.length === 1 ? "" : "s"} you changed and did not commit`,
    detail: "Its departments start from the plan's base commit and do not see your changes there; integrating their work may conflict. Commit or revert them.",
    session: s.id,
    sig: JSON.stringify(dirty),
    body: [pathList("uncommitted", dirty)],
    actions: [
      button("Check again", "check-dirty", { on: { click: () => refresh() } }),
      button("Show", "show", { on: { click: () => showSession(s.id) } }),
    ],
  };
}

/** Files running plans name that hold a department's applied change (views:
 * `applied_files`, each once however many plans name it): the department's
 * work, waiting for the user's commit (never "revert"). */
function appliedItem(applied, showSession) {
  if (!applied.length) return null;
  // "README.md and docs/notes.md hold zhilibu-1's applied change", one
  // clause per department.
  const bySession = new Map();
  for (const f of applied) bySession.set(f.session_id, [...(bySession.get(f.session_id) || []), f.path]);
  const said = [...bySession].map(([id, paths]) =>
    `${paths.length === 1 ? `${paths[0]} holds` : `${paths.slice(0, -1).join(", ")} and ${paths[paths.length - 1]} hold`} ${id}'s applied change`);
  return {
    key: "applied",
    at: "",
    kind: "applied",
    text: `${said.join("; ")}: commit ${applied.length === 1 ? "it" : "them"} when ready`,
    detail: "You applied this department's work into your working tree, uncommitted. Review it there and commit it when ready.",
    session: applied[0].session_id,
    sig: JSON.stringify(applied),
    body: [pathList("applied, not committed", applied.map((f) => f.path))],
    actions: [
      button("Check again", "check-dirty", { on: { click: () => refresh() } }),
      button("Show", "show", { on: { click: () => showSession(applied[0].session_id) } }),
    ],
  };
}

/** The isolation items of the status, as Needs you items. */
export function worktreeItems(status, title, showSession) {
  const items = [];
  for (const s of status.sessions || []) {
    for (const make of [dirtyItem, pullRequestItem, pullRequestReviewItem]) {
      const item = make(s, title, showSession);
      if (item) items.push(item);
    }
  }
  const applied = appliedItem(status.applied_files || [], showSession);
  if (applied) items.push(applied);
  keepChecking(items.some((i) => i.kind === "dirty" || i.kind === "applied"));
  return items;
}
