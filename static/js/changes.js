// A department's own changes (issue 26): where its worktree stands as a badge
// (the plan and the session rows show it), and, in the review drawer, what it
// really changed (stat, files with their diffs, scope, claim and risk
// findings, predicted conflicts) with the user's four choices: Apply (into
// the working tree, uncommitted), Merge (a commit on the current branch),
// Discard (the worktree goes, its branch stays) and Send back (a new turn
// with the user's note). The drawer calls showChanges; nothing here imports it.

import { api, toast } from "./api.js";
import { el } from "./dom.js";
import { PR_WORDS, pullRequestSection, pullRequestSuffix } from "./pull_request.js";

/** The words of a worktree's state, as the plan and the rows show them. */
const WORDS = {
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

/** A badge for a department's worktree, or null when it shares the tree. */
export function workspaceBadge(s) {
  const ws = s && s.workspace;
  if (!ws) return null;
  const stat = ws.diff_stat && ws.state !== "no_changes" ? ` · ${ws.diff_stat.files} file${ws.diff_stat.files === 1 ? "" : "s"}` : "";
  const review = ws.review && ws.review.decision === "REVIEW" ? " · REVIEW" : "";
  return el("span", {
    class: `badge workspace workspace-${ws.state}`,
    text: `${WORDS[ws.state] || ws.state}${stat}${review}${pullRequestSuffix(ws)}`,
    title: `worktree ${ws.path} on ${ws.branch}`,
  });
}

/** A button that opens a department's changes in the drawer. */
export function changesButton(id) {
  return el("button", {
    type: "button",
    class: "small open-changes",
    text: "changes",
    title: `review ${id}'s changes: apply, merge, discard or send back`,
    attrs: { "aria-label": `changes of ${id}` },
    data: { openChanges: id },
  });
}

function list(label, items) {
  if (!items || !items.length) return null;
  return el("div", { class: "kv" },
    el("span", { class: "kv-key", text: label }),
    el("ul", { class: "kv-list" }, items.map((x) => el("li", {}, el("code", { text: x })))));
}

function fileRow(id, f) {
  const diff = el("button", {
    type: "button",
    class: "small open-diff",
    text: "diff",
    attrs: { "aria-label": `diff of ${f.path}` },
    data: { openDiff: "1", path: f.path, session: id },
  });
  const counts = f.binary ? "binary" : `+${f.added} −${f.removed}`;
  return el("li", {}, el("code", { text: f.path }), ` ${f.status} · ${counts} `, diff);
}

/** The user's choices for work that waits; `reload` shows the drawer anew. */
function actions(v, reload) {
  const id = v.session_id;
  const ws = v.workspace;
  const waits = !v.running && (ws.state === "pending" || ws.state === "conflicting");
  const out = el("section", { class: "drawer-section changes-actions" });
  out.append(el("h3", { class: "sub", text: "Integrate" }));
  if (!waits && (ws.state === "applied" || ws.state === "merged")) {
    const undo = el("button", {
      type: "button",
      class: "small undo-integration",
      text: "Undo",
      title: ws.state === "applied"
        ? "put back what its Apply replaced, while you have not changed those files since"
        : "move your branch back before its merge commit and put back the files, while the commit is still the branch's tip",
    });
    undo.addEventListener("click", async () => {
      try {
        await api("/api/undo_integration", { session_id: id });
        toast(`Undid the ${ws.state === "applied" ? "Apply" : "Merge"} of ${id}: its work is pending again.`);
      } catch (e) {
        toast(`${id}: ${e.message}`, "error");
      }
      reload();
    });
    out.append(el("p", { class: "hint", text: `${WORDS[ws.state]}.` }), el("div", { class: "row-actions" }, undo));
    return out;
  }
  if (!waits) {
    out.append(el("p", { class: "hint", text: v.running ? "It is still working: its changes are recorded when it reports or exits." : `Nothing to decide: ${WORDS[ws.state] || ws.state}.` }));
    return out;
  }
  const outOfScope = (ws.review && ws.review.scope && ws.review.scope.out_of_scope) || [];
  const blocked = v.scope_mode === "block" && outOfScope.length > 0;
  const override = el("input", { type: "checkbox", class: "override-scope", attrs: { "aria-label": "integrate the out-of-scope files all the same" } });
  const run = async (what, body, done) => {
    try {
      await api(what, body);
      toast(done);
    } catch (e) {
      toast(`${id}: ${e.message}`, "error");
    }
    reload();
  };
  const integrate = (mode) => run("/api/integrate", { session_id: id, mode, override_scope: override.checked },
    mode === "apply" ? `Applied ${id}: its changes are in your working tree, uncommitted.` : `Merged ${id} onto your branch.`);
  const button = (text, title, fn) => {
    const b = el("button", { type: "button", class: "small", text, title });
    b.addEventListener("click", fn);
    return b;
  };
  const note = el("textarea", { class: "send-back-note", attrs: { rows: 2, "aria-label": `note for ${id}`, placeholder: "what to change" } });
  out.append(
    blocked ? el("label", { class: "row-error" }, override, ` ${outOfScope.length} file(s) out of its scope (launcher.scope: block): integrate them all the same (audited)`) : null,
    el("div", { class: "row-actions" },
      button("Apply", "bring its changes into your working tree, uncommitted", () => integrate("apply")),
      button("Merge", "commit its changes onto your current branch", () => integrate("merge")),
      button("Discard", "remove its worktree; its branch stays for launcher.keep_discarded_days", () => run("/api/discard", { session_id: id }, `Discarded ${id}'s worktree; its branch ${ws.branch} stays (worktrees --prune deletes it after launcher.keep_discarded_days).`))),
    note,
    el("div", { class: "row-actions" },
      button("Send back", "a new turn for the department with your note", () => run("/api/send_back", { session_id: id, note: note.value }, `Sent ${id} back.`))));
  return out;
}

/** The drawer's content for department `id`'s changes. */
export async function showChanges(id, reload) {
  const v = await api(`/api/changes?${new URLSearchParams({ session_id: id })}`);
  const ws = v.workspace;
  const head = el("section", { class: "drawer-section" });
  const stat = ws.diff_stat;
  head.append(
    el("p", { class: "diff-summary", text: `${WORDS[ws.state] || ws.state} · branch ${ws.branch}${ws.commit ? ` · commit ${ws.commit.slice(0, 12)}` : ""}${stat ? ` · ${stat.files} files, +${stat.insertions} −${stat.deletions}` : ""}` }),
    ws.proposal ? el("p", { class: "row-note", text: `${ws.proposal.by} proposes to ${ws.proposal.mode}${ws.proposal.note ? `: ${ws.proposal.note}` : ""}` }) : null,
    list("conflicts with your tree", ws.conflicts));
  const review = el("section", { class: "drawer-section" });
  review.append(el("h3", { class: "sub", text: `Review${ws.review ? `: ${ws.review.decision}` : ""}` }));
  if (ws.review) {
    if (ws.review.scope.open) review.append(el("p", { class: "hint", text: "Open scope: no files assigned and no department globs." }));
    review.append(
      list("findings", ws.review.findings),
      list("out of scope", ws.review.scope.out_of_scope),
      list("scope", ws.review.scope.patterns));
  } else {
    review.append(el("p", { class: "empty-note", text: "Nothing recorded yet." }));
  }
  const files = el("section", { class: "drawer-section" });
  files.append(el("h3", { class: "sub", text: "Changed files (against its base)" }));
  const ul = el("ul", { class: "file-list" }, v.files.map((f) => fileRow(id, f)));
  if (!v.files.length) ul.append(el("li", { class: "none", text: "none" }));
  files.append(ul);
  if (v.truncated) files.append(el("p", { class: "hint", text: "More files changed than are listed." }));
  return [head, review, files, await pullRequestSection(v, reload), actions(v, reload)];
}
