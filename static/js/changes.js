// A department's own changes (issue 26): where its worktree stands, as a
// badge the plan and the session rows show, and the button that opens its
// changes in the drawer (decision.js draws them there).

import { el } from "./dom.js";
import { count } from "./format.js";
import { PR_WORDS, pullRequestSuffix } from "./pull_request.js";

/** The words of a worktree's state, as the plan, the rows and the drawer say them. */
export const WORDS = {
  working: "working in its worktree",
  pending: "changes pending",
  conflicting: "conflicting",
  integrating: "integrating",
  applied: "integrated (applied)",
  merged: "integrated (merged)",
  discarded: "discarded",
  sent_back: "sent back",
  no_changes: "no changes · worktree removed",
  ...PR_WORDS,
};

/** Where its Merge's verified landing stands (issue 73), after the state. */
const LANDING_WORDS = {
  queued: " · queued to land",
  verifying: " · checks running",
  failed: " · checks failed",
};

/** A badge for a department's worktree, or null when it shares the tree. */
export function workspaceBadge(s) {
  const ws = s && s.workspace;
  if (!ws) return null;
  const stat = ws.diff_stat && s.workspace_facts.changed ? ` · ${count(ws.diff_stat.files, "file")}` : "";
  const review = ws.review && ws.review.decision === "REVIEW" ? " · REVIEW" : "";
  const landing = LANDING_WORDS[ws.landing && ws.landing.state] || "";
  // Nothing works in the worktree of a suspended session: its work waits there.
  const words = s.suspended && s.workspace_facts.working ? "its work waits in its worktree" : WORDS[ws.state] || ws.state;
  // A department on another machine says where (issue 53).
  const remote = ws.remote;
  const where = remote ? ` · on ${remote.host}` : "";
  return el("span", {
    class: `badge workspace workspace-${ws.state}`,
    text: `${words}${stat}${review}${landing}${where}${pullRequestSuffix(s)}`,
    title: remote
      ? `worktree ${remote.path} on ${remote.host}, its work fetched back to ${ws.path} on ${ws.branch}`
      : `worktree ${ws.path} on ${ws.branch}`,
  });
}

/** A button that opens a department's changes in the drawer. */
export function changesButton(id) {
  return el("button", {
    type: "button",
    class: "small open-changes",
    text: "Review changes",
    title: `review ${id}'s changes: apply, merge, discard or send back`,
    attrs: { "aria-label": `Review changes of ${id}` },
    data: { openChanges: id },
  });
}
