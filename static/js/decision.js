// The changes drawer, built around the decision (issue 37): it leads with
// what the department said it did and a one-line verdict ("in scope, as
// reported", or which file is out of its scope and not in its report), the
// conflicts an integration would meet (with the user's tree and with the
// other waiting departments), then every changed file as a stacked inline
// diff (large ones collapsed), the scope collapsed to one line, the findings,
// and the actions (decision_actions.js), kept in view at the foot. Everything it shows comes from
// GET /api/changes; agent text is only ever set as text, and a missing value
// is left out, never printed.

import { api } from "./api.js";
import { el } from "./dom.js";
import { decisionActions } from "./decision_actions.js";
import { attemptsSection } from "./attempts.js";
import { landingSection } from "./landing.js";
import { diffCounts, diffTables } from "./diff_table.js";
import { pullRequestSection } from "./pull_request.js";
import { reviewComments } from "./review_comments.js";
import { count, enc, list } from "./format.js";
import { WORDS } from "./changes.js";
import * as store from "./store.js";
import { whatItDid } from "./what_it_did.js";

/** Files whose diff opens by itself at most; the rest wait for a click. */
const OPEN_FILES = 20;
/** A diff with more changed lines than this starts collapsed. */
const LARGE_LINES = 300;

const name = (v) => v.department || v.session_id;
const review = (v) => (v.workspace && v.workspace.review) || null;
const outOfScope = (v) => list(review(v) && review(v).scope && review(v).scope.out_of_scope);
/** Out-of-scope files the planner assigned outside the globs (its choice, said as such). */
const assignedOutside = (v) => list(review(v) && review(v).scope && review(v).scope.assigned_outside);
const claim = (v) => (review(v) && review(v).claim) || null;
const highRisks = (v) => list(review(v) && review(v).risks).filter((r) => r.level === "high");

/** "a.rs", "a.rs and b.rs", "a.rs, b.rs and c.rs". */
export function names(items) {
  const all = list(items);
  if (all.length <= 1) return all.join("");
  return `${all.slice(0, -1).join(", ")} and ${all[all.length - 1]}`;
}

const is = (one, many) => (n) => (n === 1 ? one : many);

/** The verdict in one line, and whether it asks for a closer look. */
export function verdict(v) {
  const r = review(v);
  if (!r) return { text: v.running ? "Still working: nothing is recorded yet." : "Nothing is recorded yet.", ok: true };
  const out = outOfScope(v);
  const c = claim(v);
  const unreported = new Set(list(c && c.unreported));
  const said = [];
  const planned = assignedOutside(v);
  if (planned.length) said.push(`The planner assigned ${names(planned)} outside ${name(v)}'s globs: a plan narrows a scope and never widens it, so ${is("it stays", "they stay")(planned.length)} out of scope`);
  const strays = out.filter((p) => !planned.includes(p));
  const outUnreported = strays.filter((p) => unreported.has(p));
  const outReported = strays.filter((p) => !unreported.has(p));
  if (outUnreported.length) {
    said.push(`${names(outUnreported)} ${is("is", "are")(outUnreported.length)} outside ${name(v)}'s scope and ${is("was", "were")(outUnreported.length)} not in its report`);
  }
  if (outReported.length) said.push(`${names(outReported)} ${is("is", "are")(outReported.length)} outside ${name(v)}'s scope`);
  const inUnreported = [...unreported].filter((p) => !out.includes(p));
  if (inUnreported.length) said.push(`${names(inUnreported)} changed but ${is("was", "were")(inUnreported.length)} not in its report`);
  const unchanged = list(c && c.unchanged);
  if (unchanged.length) said.push(`Its report names ${names(unchanged)}, which it did not change`);
  const risks = highRisks(v);
  if (risks.length) said.push(`High risk: ${names(risks.map((x) => `${x.path} (${x.name})`))}`);
  const clash = [];
  const { yours, both, applied } = treeConflicts(v);
  if (yours.length) clash.push(`Integrating it now meets your uncommitted changes to ${names(yours)}`);
  for (const words of appliedWords(applied)) clash.push(`Integrating it now meets ${words}, not yet committed`);
  if (both.length) clash.push(`Integrating it now conflicts with what your branch changed since its base in ${names(both)}`);
  const others = list(v.department_conflicts).map((o) => o.session_id);
  if (others.length) clash.push(`It conflicts with ${names(others)}, also waiting for you`);
  // Said before Merge is pressed: its changes are already on your branch.
  if (v.integration_blocked && !yours.length && !both.length) clash.push(v.integration_blocked.replace(/\.$/, ""));
  const fine = r.scope && r.scope.open
    ? c ? "Open scope (no files or globs to keep to), as reported" : "Open scope (no files or globs to keep to)"
    : c ? "In scope, as reported" : "In scope (it did not report, so there is no claim to check)";
  // One sentence each; a file name starts its sentence as it is written.
  const text = [...(said.length ? said : [fine]), ...clash].map((x) => `${x}.`).join(" ");
  return { text, ok: !said.length && !clash.length };
}

/** What the department said it did, the verdict, and where its work stands. */
function lead(v) {
  const ws = v.workspace;
  const rep = v.report;
  const summary = rep
    ? rep.fallback ? `It ended without a report: ${rep.summary}` : rep.summary
    : v.running ? "It is still working and has not reported yet." : "It did not report.";
  const said = verdict(v);
  const stat = ws.diff_stat && v.workspace_facts.changed
    ? `${count(ws.diff_stat.files, "file")}, +${ws.diff_stat.insertions} −${ws.diff_stat.deletions}` : "";
  // An integrated attempt's branch is gone: say so rather than name it as if it were there.
  const branch = ws.branch_deleted ? `its branch ${ws.branch} is deleted` : `branch ${ws.branch}`;
  // A department on another machine: where it worked and what came back (issue 53).
  const remote = ws.remote
    ? `worked on ${ws.remote.host} in ${ws.remote.path}${ws.remote.fetched ? `, fetched ${ws.remote.fetched.slice(0, 10)}` : ""}`
    : "";
  const state = [WORDS[ws.state] || ws.state, stat, branch, remote].filter(Boolean).join(" · ");
  return el("section", { class: "drawer-section decision-lead" },
    el("p", { class: "decision-said-label", text: rep && !rep.fallback ? `${name(v)} says:` : "" }),
    el("blockquote", { class: "decision-summary", text: summary }),
    el("p", { class: `decision-verdict ${said.ok ? "verdict-ok" : "verdict-review"}`, text: said.text, attrs: { role: "status" } }),
    el("p", { class: "hint decision-state", text: state }),
    ws.proposal
      ? el("p", { class: "row-note", text: `${ws.proposal.by} proposes to ${ws.proposal.mode} it${ws.proposal.note ? `: ${ws.proposal.note}` : "."}` })
      : null);
}

/** Marks beside a file: out of scope, not in the report. */
function fileMarks(v, path) {
  const c = claim(v);
  return [
    outOfScope(v).includes(path) ? el("span", { class: "badge file-flag", text: "outside its scope" }) : null,
    c && list(c.unreported).includes(path) ? el("span", { class: "badge file-flag", text: "not in its report" }) : null,
  ];
}

/** One changed file as a collapsible inline diff, fetched when first opened. */
function fileBlock(v, f, i, comments) {
  const large = f.binary || f.added + f.removed > LARGE_LINES;
  const body = el("div", { class: "file-diff-body" }, el("p", { class: "hint", text: "Loading…" }));
  const block = el("details", { class: "file-diff", data: { path: f.path, index: i } },
    el("summary", { class: "file-diff-head" },
      el("code", { class: "file-path", text: f.path }), " ",
      el("span", { class: "hint", text: diffCounts(f) }), " ",
      ...fileMarks(v, f.path),
      large ? el("span", { class: "hint", text: " · large: collapsed" }) : null),
    body);
  let loaded = false;
  const load = async () => {
    if (loaded) return;
    loaded = true;
    try {
      const d = await api(`/api/changes?session_id=${enc(v.session_id)}&path=${enc(f.path)}`);
      body.replaceChildren(...diffTables(d));
      comments.attach(block, body);
    } catch (e) {
      loaded = false;
      body.replaceChildren(el("p", { class: "form-msg error", text: `Cannot show the diff: ${e.message}` }));
    }
  };
  block.addEventListener("toggle", () => {
    if (block.open) load();
  });
  block.open = !large && i < OPEN_FILES;
  return block;
}

function files(v, comments) {
  const out = el("section", { class: "drawer-section decision-files" },
    el("h3", { class: "sub", text: `Changed files (${v.files.length})` }));
  if (!v.files.length) out.append(el("p", { class: "empty-note", text: v.workspace.commit ? "No file changed." : "Nothing is recorded yet." }));
  out.append(...v.files.map((f, i) => fileBlock(v, f, i, comments)));
  if (v.truncated) out.append(el("p", { class: "hint", text: "More files changed than are listed." }));
  return out;
}

/** "scope: src/number.rs + 11 globs": the assignment's files by name, the
 * department's globs counted; the list behind it. `patterns` are the files
 * first, then the globs, each once (as the review keeps them). */
export function scopeLine(patterns, assigned, outside) {
  const all = [...new Set(list(patterns))];
  const off = new Set(list(outside));
  const named = [...new Set(list(assigned).map((f) => f.trim()))].filter((f) => all.includes(f));
  // A file the planner assigned outside the globs is not part of the scope.
  const files = named.filter((f) => !off.has(f));
  const globs = all.filter((p) => !named.includes(p));
  const shown = files.slice(0, 2);
  const parts = [shown.join(", "), files.length > 2 ? count(files.length - 2, "more file") : "", globs.length ? count(globs.length, "glob") : ""];
  const beyond = off.size ? ` (not ${names([...off])}: assigned outside the globs)` : "";
  return { text: `scope: ${parts.filter(Boolean).join(" + ")}${beyond}`, files, globs };
}

function scope(v) {
  const r = review(v);
  if (!r || !r.scope) return null;
  if (r.scope.open) return el("p", { class: "hint decision-scope", text: "scope: open (the assignment names no files and the department no globs)" });
  const s = store.session(v.session_id);
  const { text, files, globs } = scopeLine(r.scope.patterns, s && s.files, r.scope.assigned_outside);
  const block = (label, items) => (items.length
    ? el("div", { class: "kv" }, el("span", { class: "kv-key", text: label }), el("ul", { class: "kv-list" }, items.map((p) => el("li", {}, el("code", { text: p })))))
    : null);
  return el("details", { class: "drawer-section decision-scope" },
    el("summary", { text }),
    block("assigned files", files),
    block(`${v.department || "its department"}'s globs`, globs));
}

/** The findings, without the REVIEW word each carries for the packet. */
function findings(v) {
  const r = review(v);
  const items = list(r && r.findings).map((f) => f.replace(/^REVIEW:\s*/, ""));
  const risks = list(r && r.risks).filter((x) => x.level !== "high").map((x) => `${x.path}: ${x.message || x.name} (${x.level} risk)`);
  if (!items.length && !risks.length) return null;
  return el("section", { class: "drawer-section decision-findings" },
    el("h3", { class: "sub", text: "Findings" }),
    el("ul", { class: "kv-list" }, [...items, ...risks].map((t) => el("li", { text: t }))));
}

/** "zhilibu-1 and lingyubu-1 both change README.md before '## Usage'". */
function clashText(v, other, spot) {
  const where = spot.before_line ? ` before '${spot.before_line}'` : spot.after_line ? ` after '${spot.after_line}'` : "";
  return `${v.session_id} and ${other.session_id} both change ${spot.path}${where}`;
}

/** The files in the way in the user's tree: those holding the user's
 * uncommitted changes, and those both sides changed (committed). */
function treeConflicts(v) {
  const applied = list(v.tree_applied);
  const appliedPaths = applied.map((a) => a.path);
  const uncommitted = list(v.tree_uncommitted);
  const yours = uncommitted.filter((p) => !appliedPaths.includes(p));
  const both = list(v.tree_conflicts).filter((p) => !uncommitted.includes(p));
  return { yours, both, applied };
}

/** "lingyubu-1's applied change to src/a.rs", one per department. */
function appliedWords(applied) {
  const by = new Map();
  for (const a of applied) by.set(a.session_id, [...(by.get(a.session_id) || []), a.path]);
  return [...by].map(([id, paths]) => `${id}'s applied change to ${names(paths)}`);
}

function conflicts(v) {
  const ws = v.workspace;
  const tree = list(v.tree_conflicts);
  const { yours, both, applied } = treeConflicts(v);
  const others = list(v.department_conflicts);
  const refused = v.workspace_facts.conflicting && !tree.length ? list(ws.conflicts) : [];
  if (!tree.length && !others.length && !refused.length) return null;
  const lines = [];
  if (yours.length) lines.push(el("li", { text: `Your uncommitted changes to ${names(yours)}: commit, stash or revert ${yours.length === 1 ? "it" : "them"} first, or send it back.` }));
  for (const words of appliedWords(applied)) lines.push(el("li", { text: `${words} is not committed yet: commit it first (or Undo that Apply), or send this one back.` }));
  // Sending it back keeps its worktree on its base: say what does help.
  if (both.length) lines.push(el("li", { text: `Changed on both sides since its base: ${names(both)}. Its worktree stays on its base, so a send-back meets the same conflict: merge its branch ${ws.branch} yourself with git, or discard it and give the task again.` }));
  if (refused.length) lines.push(el("li", { text: `The last integration was refused for ${names(refused)}; nothing stands in the way now: try again.` }));
  for (const o of others) {
    for (const spot of list(o.spots)) {
      lines.push(el("li", {}, `${clashText(v, o, spot)}. `,
        el("button", { type: "button", class: "small", text: `review ${o.session_id}`, title: `open the changes of ${o.session_id}`, data: { openChanges: o.session_id } })));
    }
  }
  return el("section", { class: "drawer-section decision-conflicts" },
    el("h3", { class: "sub", text: "Conflicts" }),
    el("ul", { class: "kv-list" }, lines));
}

/** The drawer's title for a department's changes. */
export function decisionTitle(v) {
  const s = store.session(v.session_id);
  const dept = v.department ? store.deptTitle(v.department) : "";
  return [dept, v.session_id].filter(Boolean).join(" · ") + (s && s.title && !dept ? ` · ${s.title}` : "");
}

/** The drawer's content for department `id`'s changes: {title, parts, keys}. */
export async function showChanges(id, reload) {
  const v = await api(`/api/changes?${new URLSearchParams({ session_id: id })}`);
  const comments = reviewComments(v);
  await comments.load();
  const actions = decisionActions(v, reload, comments.drafts);
  const sections = [lead(v), await attemptsSection(v, reload), whatItDid(v), conflicts(v), landingSection(v, reload), comments.section, files(v, comments), scope(v), findings(v), actions.section,
    await pullRequestSection(v, reload)];
  const keys = (event) => comments.keys(event) || actions.keys(event);
  return { title: decisionTitle(v), badge: comments.badge, parts: sections.filter(Boolean), keys };
}
