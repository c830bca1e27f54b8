// "Needs you" items of isolated departments (issue 26):
// - a plan whose files the user's working tree changes: its departments start
//   from the plan's base commit and do not see those changes. The launcher
//   lists only files still changed, so the item goes once they are committed
//   or reverted ("Check again", and a status refresh every few seconds while
//   it shows: no event tells the page that the user's tree changed);
// - a department's recorded work with REVIEW findings (out of scope, claimed
//   vs actual, risk rules) waiting for the user, saying when
//   `launcher.scope: block` makes integrating it need the override;
// - a department whose integration was refused for a predicted conflict.
// The last two open the department's changes in the drawer (drawer.js opens
// any [data-open-changes]) and go once it is applied, merged, discarded or
// sent back. File names come from agents: they are only ever set as text.

import { el } from "./dom.js";
import { refresh } from "./live.js";
import { pullRequestItem } from "./pull_request.js";

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

function files(label, paths) {
  if (!paths || !paths.length) return null;
  return el("div", { class: "need-files" },
    el("span", { class: "need-files-label", text: `${label}: ` }),
    el("ul", { attrs: { "aria-label": label } }, paths.map((p) => el("li", {}, el("code", { text: p })))));
}

function button(text, action, extra = {}) {
  return el("button", { type: "button", class: `small ${extra.cls || ""}`, text, data: { action, ...(extra.data || {}) }, attrs: extra.attrs, on: extra.on });
}

function reviewChanges(s) {
  return button("Review changes…", "review-changes", {
    cls: "primary",
    data: { openChanges: s.id },
    attrs: { "aria-label": `review the changes of ${s.id}` },
  });
}

const awaitsUser = (ws) => ws && (ws.state === "pending" || ws.state === "conflicting");

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
    body: [files("uncommitted", dirty)],
    actions: [
      button("Check again", "check-dirty", { on: { click: () => refresh() } }),
      button("Show", "show", { on: { click: () => showSession(s.id) } }),
    ],
  };
}

/** Files the plan names that hold a department's applied change: the
 * department's work, waiting for the user's commit (never "revert"). */
function appliedItem(s, title, showSession) {
  const applied = s.plan_applied_files || [];
  if (s.session_kind !== "zhongshu" || !applied.length) return null;
  const said = applied.map((f) => `${f.path} holds ${f.session_id}'s applied change`);
  return {
    key: `applied:${s.id}`,
    at: s.last_activity_at || s.started_at,
    kind: "applied",
    text: `${said.join("; ")}: commit ${applied.length === 1 ? "it" : "them"} when ready`,
    detail: "You applied this department's work into your working tree, uncommitted. Review it there and commit it when ready.",
    session: s.id,
    sig: JSON.stringify(applied),
    body: [files("applied, not committed", applied.map((f) => f.path))],
    actions: [
      button("Check again", "check-dirty", { on: { click: () => refresh() } }),
      button("Show", "show", { on: { click: () => showSession(s.id) } }),
    ],
  };
}

/** A department's waiting work whose review found something. */
function reviewItem(s, title, showSession) {
  const ws = s.workspace;
  const r = ws && ws.review;
  if (!awaitsUser(ws) || !r) return null;
  const risks = (r.risks || []).filter((x) => x.level !== "low");
  if (r.decision !== "REVIEW" && !risks.length) return null;
  const outOfScope = (r.scope && r.scope.out_of_scope) || [];
  const claim = r.claim || {};
  const body = [
    files("out of its scope", outOfScope),
    files("changed but not reported", claim.unreported),
    files("reported but not changed", claim.unchanged),
    files("risks", risks.map((x) => `${x.path} (${x.name}, ${x.level})`)),
  ].filter(Boolean);
  const override = s.integration_needs_override;
  return {
    key: `review:${s.id}`,
    at: s.ended_at || s.reported_at || s.started_at,
    kind: "review",
    text: `${title(s)}: its changes need your review before they are integrated`,
    detail: override
      ? `launcher.scope is block: integrating it needs your override for the ${outOfScope.length} file${outOfScope.length === 1 ? "" : "s"} out of its scope (audited). Review its changes to apply, merge, discard or send it back.`
      : "Review its changes to apply, merge, discard or send it back.",
    session: s.id,
    sig: JSON.stringify([outOfScope, claim, risks, override]),
    body,
    actions: [reviewChanges(s), button("Show", "show", { on: { click: () => showSession(s.id) } })],
  };
}

/** A department whose integration would conflict with the user's tree. */
function conflictItem(s, title, showSession) {
  const ws = s.workspace;
  if (!ws || ws.state !== "conflicting" || !(ws.conflicts || []).length) return null;
  return {
    key: `conflict:${s.id}`,
    at: s.ended_at || s.reported_at || s.started_at,
    kind: "conflict",
    text: `${title(s)}: integrating its changes conflicts with your tree`,
    detail: "Nothing was changed. Resolve these files in your tree and integrate again, send it back, or discard it.",
    session: s.id,
    sig: JSON.stringify(ws.conflicts),
    body: [files("conflicting", ws.conflicts)],
    actions: [reviewChanges(s), button("Show", "show", { on: { click: () => showSession(s.id) } })],
  };
}

/** The isolation items of `sessions`, as Needs you items. */
export function worktreeItems(sessions, title, showSession) {
  const items = [];
  for (const s of sessions) {
    for (const make of [dirtyItem, appliedItem, reviewItem, conflictItem, pullRequestItem]) {
      const item = make(s, title, showSession);
      if (item) items.push(item);
    }
  }
  keepChecking(items.some((i) => i.kind === "dirty" || i.kind === "applied"));
  return items;
}
