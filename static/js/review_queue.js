// The review queue (issue 37): every isolated department whose recorded work
// waits for the user (pending, or refused for a predicted conflict), in the
// order they started. Needs you holds one item for all of it ("3
// departments' changes wait for you: zhilibu (1 file), …") with *Review
// next*, the plan's results line links to it, and the changes drawer steps
// through it. A "Review" button is any [data-open-changes] (drawer.js opens
// it), so nothing here imports the drawer.

import { el, pathList } from "./dom.js";
import { count, cutText, list, taskWords } from "./format.js";
import * as store from "./store.js";

/** Work that waits for the user (the server says so: `awaits_user`). */
const waits = (s) => !!s && !!s.awaits_user;

/** The departments whose work waits for the user, oldest first; of one plan when `zhongshu` is given. */
export function waiting(zhongshu) {
  return store.sessions()
    .filter((s) => s.session_kind === "department" && waits(s) && (!zhongshu || s.parent_session_id === zhongshu))
    .sort((a, b) => String(a.started_at || "").localeCompare(String(b.started_at || "")) || a.id.localeCompare(b.id));
}

/** The waiting department after `id` in the queue's order (when `id` no
 * longer waits: the first that started after it), or null. */
export function nextAfter(id, zhongshu) {
  const all = waiting(zhongshu);
  if (!all.length) return null;
  const at = all.findIndex((s) => s.id === id);
  if (at >= 0) return all.length > 1 ? all[(at + 1) % all.length] : null;
  const self = store.session(id);
  const since = String((self && self.started_at) || "");
  return all.find((s) => String(s.started_at || "") > since) || all[0];
}

/** Where `id` stands in the queue: {at (1-based, 0 when not in it), of}. */
export function position(id) {
  const all = waiting();
  return { at: all.findIndex((s) => s.id === id) + 1, of: all.length };
}

/** How one waiting department reads in the list: "lingyubu (2 files · REVIEW)". */
export function shortLine(s, all) {
  const ws = s.workspace;
  // One naming for the whole list: departments' names while each is one,
  // else every session's id (never "gongchengbu-1 … lingyubu" side by side).
  const byId = all.some((o) => !o.department || all.filter((x) => x.department === o.department).length > 1);
  const who = byId ? s.id : s.department;
  const flags = [
    s.attempt ? `attempt ${s.attempt.n} of ${s.attempt.of}: compare` : "",
    ws.diff_stat ? count(ws.diff_stat.files, "file") : "",
    ws.review && ws.review.decision === "REVIEW" ? "REVIEW" : "",
    s.workspace_facts.conflicting ? "conflicts" : "",
  ].filter(Boolean);
  return `${who}${flags.length ? ` (${flags.join(" · ")})` : ""}`;
}

/** A button that opens the first waiting department's changes. */
export function reviewNextButton(first, label = "Review next") {
  return el("button", {
    type: "button",
    class: "small primary review-next",
    text: label,
    title: "open the waiting changes in the drawer, one after the other",
    data: { openChanges: first.id, action: "review-next" },
  });
}

/** What one department's line in the Needs you item says beyond its name. */
function details(s) {
  const ws = s.workspace;
  const r = ws.review;
  const claim = (r && r.claim) || {};
  const risks = list(r && r.risks).filter((x) => x.level !== "low");
  const scope = (r && r.scope) || {};
  const planned = list(scope.assigned_outside);
  return [
    pathList("assigned by the planner outside its globs (out of scope)", planned),
    pathList("out of its scope", list(scope.out_of_scope).filter((p) => !planned.includes(p))),
    pathList("changed but not reported", claim.unreported),
    pathList("reported but not changed", claim.unchanged),
    pathList("risks", risks.map((x) => `${x.path} (${x.name}, ${x.level})`)),
    s.workspace_facts.conflicting ? pathList("conflicting", ws.conflicts) : null,
    ws.landing && ws.landing.state === "failed"
      ? el("div", { class: "need-detail landing-failed", text: `its Merge's checks failed, nothing landed: ${ws.landing.failure || "failed"}` })
      : null,
    s.integration_needs_override
      ? el("div", { class: "need-detail", text: "launcher.scope is block: integrating it needs your override for the files out of its scope (audited)." })
      : null,
  ].filter(Boolean);
}

const NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/** What the item says first: while plans run, what waits; once every plan
 * whose work waits has finished, that this is the end of it, and what to do. */
function headline(all) {
  const plans = new Set(all.map((s) => s.parent_session_id));
  // Finished, and none of their departments still at work or being recorded.
  const busy = store.sessions().some((s) => plans.has(s.parent_session_id) &&
    (store.isRunning(s) || (s.workspace_facts && s.workspace_facts.working)));
  const ended = !busy && [...plans].every((id) => ["finished", "stopped"].includes((store.session(id) || {}).plan_status));
  const n = all.length;
  if (ended) {
    const count = NUMBERS[n] || String(n);
    // With other planners about, say whose plan it is.
    const planners = store.sessions().filter((s) => s.session_kind === "zhongshu").length;
    const whose = plans.size === 1 && planners > 1
      ? ` (${[...plans][0]}: ${cutText(taskWords((store.session([...plans][0]) || {}).task || ""), 40)})`
      : "";
    return `${plans.size === 1 ? "Plan finished" : "Plans finished"}${whose}: apply or merge the ${n === 1 ? "department's changes" : `${count} departments' changes`}`;
  }
  return `${n === 1 ? "1 department's changes wait" : `${n} departments' changes wait`} for you`;
}

/** The Needs you item for all waiting work, or null when nothing waits. */
export function queueItem() {
  const all = waiting();
  if (!all.length) return null;
  const lines = all.map((s) => shortLine(s, all));
  const items = all.map((s) => el("li", { class: "queue-entry", data: { session: s.id } },
    el("button", { type: "button", class: "small badge-link", text: shortLine(s, all), title: `review the changes of ${s.id}`, data: { openChanges: s.id } }),
    ...details(s)));
  const newest = all.map((s) => s.ended_at || s.reported_at || s.started_at || "").sort().pop();
  return {
    key: "changes",
    at: newest,
    kind: "changes",
    text: `${headline(all)}: ${lines.join(", ")}`,
    detail: "Review next opens each in the drawer, one after the other: apply, merge, discard or send it back.",
    sig: JSON.stringify(all.map((s) => [s.id, s.workspace.state, s.workspace.review, s.workspace.conflicts, s.integration_needs_override,
      s.workspace.landing && s.workspace.landing.state])),
    body: [el("ul", { class: "queue-list", attrs: { "aria-label": "waiting changes" } }, items)],
    actions: [reviewNextButton(all[0])],
  };
}
