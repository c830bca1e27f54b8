// Pull requests (issue 38): the drawer's PR section and the card's words for
// work in review. A department's waiting work can go to a pull request (its
// branch pushed to the configured remote, the governance review as its
// body); while one is open, its checks show here and in Needs you, and a
// failing one can be sent back to the same department with its log
// ("Send back with the failure"); a review from the forge that the launcher
// holds for sending (pr.review_waiting) goes back the same way ("Send back
// with the review", both Needs you items made by the server,
// src/views/needs_you/). The changes drawer calls pullRequestSection; Needs
// you draws its links with link(). Everything from the forge (check names,
// summaries) is set as text; links open only http(s) addresses, in a new
// tab, without a referrer.

import { api, toast } from "./api.js";
import { el } from "./dom.js";

/** The words of the states a pull request brings, for the badges. */
export const PR_WORDS = {
  in_review: "in review (pull request)",
  pr_merged: "pull request merged · worktree removed",
  pr_closed: "pull request closed · worktree removed",
};

const MARKS = { passed: "✓", failed: "✗", pending: "…" };

/** CI's verdict on all checks together, or null while there is none. */
export function verdict(pr) {
  const checks = (pr && pr.checks) || [];
  if (!checks.length) return null;
  if (checks.some((c) => c.verdict === "failed")) return "failed";
  if (checks.some((c) => c.verdict === "pending")) return "pending";
  return "passed";
}

/** What the card adds after the state: the pull request and CI's verdict. */
export function pullRequestSuffix(s) {
  const pr = s.workspace && s.workspace.pull_request;
  if (!pr || !s.workspace_facts.in_review) return "";
  const v = verdict(pr);
  return ` · #${pr.number}${v ? ` · checks ${v}` : ""}`;
}

/** A link to a forge's page: only http(s), a new tab, no referrer. */
export function link(url, text) {
  let safe = null;
  try {
    const u = new URL(url);
    if (u.protocol === "https:" || u.protocol === "http:") safe = u.href;
  } catch (_) {
    safe = null;
  }
  if (!safe) return el("span", { text });
  return el("a", { text, attrs: { href: safe, target: "_blank", rel: "noopener noreferrer" } });
}

function checkRow(c) {
  return el("li", { class: `pr-check pr-check-${c.verdict}`, data: { check: c.name } },
    el("span", { class: "pr-mark", text: MARKS[c.verdict] || "?", attrs: { "aria-hidden": "true" } }),
    " ",
    c.url ? link(c.url, c.name) : el("span", { text: c.name }),
    el("span", { class: "pr-check-word", text: ` ${c.verdict}${c.conclusion && c.conclusion !== c.verdict ? ` (${c.conclusion})` : ""}` }),
    c.summary ? el("span", { class: "pr-check-summary", text: ` · ${c.summary}` }) : null);
}

async function post(path, body, done, id, reload) {
  try {
    await api(path, body);
    toast(done);
  } catch (e) {
    toast(`${id}: ${e.message}`, "error");
  }
  reload();
}

/** The button that sends a failing check back to its department. */
export function sendBackFailureButton(id, pr, reload) {
  const failing = ((pr && pr.checks) || []).find((c) => c.verdict === "failed");
  const b = el("button", {
    type: "button",
    class: "small primary send-back-failure",
    text: "Send back with the failure",
    title: "the failing job's name, its log (trimmed, quoted as untrusted text) and the pull request's link go to the same department as its next turn; its next report updates this pull request",
    attrs: { "aria-label": `send ${id} back with the failure of ${failing ? failing.name : "its check"}` },
  });
  b.addEventListener("click", () => post("/api/send_back_failure", { session_id: id },
    `Sent ${id} back with the failure of ${failing ? failing.name : "its check"}.`, id, reload));
  return b;
}

/** Where pull requests go, once per drawer. */
async function settings() {
  try {
    return await api("/api/pull_requests");
  } catch (e) {
    return { on: false, off: e.message };
  }
}

/** The drawer's pull request section for the changes view `v`. */
export async function pullRequestSection(v, reload) {
  const id = v.session_id;
  const ws = v.workspace;
  const pr = ws.pull_request;
  const out = el("section", { class: "drawer-section pull-request", attrs: { "aria-label": "pull request" } });
  out.append(el("h3", { class: "sub", text: "Pull request" }));
  if (pr) {
    const v2 = verdict(pr);
    out.append(
      el("p", { class: "pr-head" },
        link(pr.url, `#${pr.number}`),
        el("span", { class: `badge pr-state pr-state-${pr.state}`, text: pr.state }),
        " ",
        el("code", { text: pr.branch }),
        ` → `,
        el("code", { text: pr.base }),
        v2 ? el("span", { class: `badge pr-verdict pr-verdict-${v2}`, text: `checks ${v2}` }) : null),
      pr.checks && pr.checks.length
        ? el("ul", { class: "pr-checks", attrs: { "aria-label": "checks" } }, pr.checks.map(checkRow))
        : el("p", { class: "hint", text: pr.state === "open" ? "No check has reported on its head yet." : "" }));
    if (pr.send_backs) out.append(el("p", { class: "hint", text: `Sent back with a failure ${pr.send_backs} time${pr.send_backs === 1 ? "" : "s"}.` }));
    const inReview = v.workspace_facts.in_review;
    if (inReview && v2 === "failed") {
      out.append(el("div", { class: "row-actions" }, sendBackFailureButton(id, pr, reload)));
    } else if (inReview) {
      out.append(el("p", { class: "hint", text: "Its review and CI decide on the forge; merged or closed there, its worktree and branch go." }));
    }
    return out;
  }
  const waits = v.awaits_user;
  if (!waits) {
    out.append(el("p", { class: "hint", text: "No pull request." }));
    return out;
  }
  const s = await settings();
  const open = el("button", {
    type: "button",
    class: "small open-pull-request",
    text: "Pull request",
    title: s.on ? `push ${ws.branch} to ${s.remote} and open a pull request on ${s.repo}, its body the governance review` : s.off,
  });
  if (!s.on) open.disabled = true;
  open.addEventListener("click", () => post("/api/integrate", { session_id: id, mode: "pull_request" },
    `Opened a pull request for ${id}.`, id, reload));
  out.append(
    el("p", { class: "hint", text: s.on
      ? `Pushes its work, squashed, to ${s.remote} (${s.repo}) and opens a pull request against ${s.base || "your current branch"}.`
      : s.off }),
    el("div", { class: "row-actions" }, open));
  return out;
}
