// Several attempts at one task, compared (issue 74): the drawer of an
// attempt shows every attempt of its assignment side by side, as
// GET /api/attempts says: agent and model, where its work stands, files and
// lines, the scope verdict, the launcher's own verification of its tree,
// tokens and cost, wall time, send-backs and what it reported (agent words,
// set as text, quoted). "Choose this one" (POST /api/choose_attempt) lets
// one go on to Apply, Merge or a pull request and settles the others; "Diff
// against …" shows one attempt's tree against another's.

import { api, toast } from "./api.js";
import { el, withCode } from "./dom.js";
import { costText, count, duration, tokensText } from "./format.js";

function verification(a) {
  const c = a.check;
  if (!c) return a.running ? "not yet: it runs" : "no landing checks ran";
  if (c.passed === undefined || c.passed === null) return "its checks run…";
  return c.passed ? `passed (${c.commands.map((x) => `\`${x}\``).join(", ")})` : `failed: ${c.failure || "a check failed"}`;
}

function agentWords(a, department) {
  const who = a.borrowed_agent ? `${a.borrowed_agent === "(launcher)" ? "the launcher" : a.borrowed_agent}'s agent` : `${department}'s agent`;
  return `${who} (${a.backend}) · ${a.model}`;
}

function card(view, a, reload) {
  const stat = a.diff_stat ? `${count(a.diff_stat.files, "file")}, +${a.diff_stat.insertions} −${a.diff_stat.deletions}` : "no recorded work yet";
  const rows = [
    ["Agent", agentWords(a, view.department)],
    ["Work", a.running ? "running" : (a.state || "—")],
    ["Changes", stat],
    ["Scope", a.scope ? (a.out_of_scope.length ? `${a.scope}: ${a.out_of_scope.join(", ")}` : a.scope) : "—"],
    ["Verified", verification(a)],
    ["Cost", [a.tokens ? tokensText(a.tokens) : "", a.cost_usd !== null && a.cost_usd !== undefined ? costText(a.cost_usd) : ""].filter(Boolean).join(" · ") || "—"],
    ["Time", a.seconds !== null && a.seconds !== undefined ? duration(a.seconds) : "—"],
    ["Sent back", String(a.send_backs)],
  ];
  const green = a.check && a.check.passed === true;
  const red = a.check && a.check.passed === false;
  const choose = !view.chosen && a.awaits_user
    ? el("button", {
      type: "button",
      class: "primary small attempt-choose",
      text: "Choose this one",
      title: "it goes on to Apply, Merge or a pull request; the other attempts are settled (their branches kept)",
      on: {
        click: async () => {
          try {
            const r = await api("/api/choose_attempt", { session_id: a.session_id });
            toast(`Chose ${r.chosen}; ${r.others.length ? `${r.others.join(", ")} settled` : "no other attempt"}.`);
            reload();
          } catch (e) {
            toast(`${a.session_id}: ${e.message}`, "error");
          }
        },
      },
    })
    : null;
  return el("article", { class: `attempt-card${a.chosen ? " attempt-chosen" : ""}${green ? " attempt-green" : ""}${red ? " attempt-red" : ""}`, data: { id: a.session_id } },
    el("h4", { text: `Attempt ${a.n} of ${a.of} · ${a.session_id}${a.chosen ? " · chosen" : ""}` }),
    el("dl", { class: "attempt-facts" }, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, ...withCode(v))])),
    a.reported ? el("blockquote", { class: "attempt-reported", text: a.reported, title: "what it reported, in its own words" }) : null,
    el("div", { class: "attempt-actions" }, choose, ...view.attempts.filter((b) => b.session_id !== a.session_id && a.diff_stat && b.diff_stat)
      .map((b) => el("button", { type: "button", class: "small attempt-diff", text: `Diff against ${b.n}`, on: { click: () => showDiff(a, b) } }))));
}

let diffBox = null;

/** Each attempt's own change (its base against its tree), in columns. */
async function showSideBySide(attempts) {
  try {
    const diffs = await Promise.all(attempts.map((a) => api(`/api/attempts/diff?${new URLSearchParams({ a: a.session_id })}`)));
    diffBox.replaceChildren(
      el("h4", { text: "Each attempt's changes" }),
      el("div", { class: "attempt-grid" }, ...attempts.map((a, i) => el("div", { class: "attempt-column" },
        el("h5", { text: `Attempt ${a.n} · ${a.session_id}${diffs[i].truncated ? " (cut)" : ""}` }),
        el("pre", { class: "need-output attempt-diff-text", text: diffs[i].diff || "No change." })))));
    diffBox.hidden = false;
  } catch (e) {
    toast(e.message, "error");
  }
}

async function showDiff(a, b) {
  try {
    const r = await api(`/api/attempts/diff?${new URLSearchParams({ a: a.session_id, b: b.session_id })}`);
    diffBox.replaceChildren(
      el("h4", { text: `Attempt ${a.n}'s tree against attempt ${b.n}'s${r.truncated ? " (cut)" : ""}` }),
      el("pre", { class: "need-output attempt-diff-text", text: r.diff || "Their trees are the same." }));
    diffBox.hidden = false;
  } catch (e) {
    toast(e.message, "error");
  }
}

/** The drawer's section comparing the attempts of `v`'s assignment, or null. */
export async function attemptsSection(v, reload) {
  if (!v.attempt) return null;
  let view;
  try {
    view = await api(`/api/attempts?${new URLSearchParams({ session_id: v.session_id })}`);
  } catch (e) {
    return el("section", { class: "drawer-section attempts" }, el("p", { class: "form-msg", text: `Its attempts could not be read: ${e.message}` }));
  }
  diffBox = el("div", { class: "attempt-diff-box", hidden: true });
  const again = view.chosen ? null : tryAgain(v, reload);
  const recorded = view.attempts.filter((a) => a.diff_stat);
  const sideBySide = recorded.length > 1
    ? el("button", { type: "button", class: "small attempt-side-by-side", text: "Changes side by side", on: { click: () => showSideBySide(recorded) } })
    : null;
  const said = view.chosen
    ? `${view.chosen} was chosen; the others are settled (their branches kept).`
    : view.chosen_by_verification
      ? "The launcher chooses when exactly one attempt is verified green with a clean scope; else you do."
      : "Choose the one that goes on; the others are settled (their branches kept).";
  return el("section", { class: "drawer-section attempts", attrs: { "aria-label": "attempts compared" } },
    el("h3", { class: "sub", text: `Attempts compared (${view.attempts.length})` }),
    el("p", { class: "hint", text: said }),
    el("div", { class: "attempt-grid" }, ...view.attempts.map((a) => card(view, a, reload))),
    el("div", { class: "attempt-actions" }, sideBySide),
    again,
    diffBox);
}

/** Try again with…: one more attempt from the same base and task. */
function tryAgain(v, reload) {
  const agent = el("input", { type: "text", class: "attempt-agent", attrs: { placeholder: "agent (empty: the same)", "aria-label": "agent of the new attempt", maxlength: 64 } });
  const note = el("input", { type: "text", class: "attempt-note", attrs: { placeholder: "a note for it (optional)", "aria-label": "note for the new attempt", maxlength: 2000 } });
  const go = el("button", {
    type: "button",
    class: "small attempt-again",
    text: "Try again with…",
    title: "starts one more attempt at this task from the same base commit",
    on: {
      click: async () => {
        try {
          const q = await api("/api/attempts/another", { session_id: v.session_id, agent: agent.value.trim() || null, note: note.value.trim() || null });
          toast(`Queued another attempt (${q.id}).`);
          reload();
        } catch (e) {
          toast(e.message, "error");
        }
      },
    },
  });
  return el("div", { class: "attempt-actions attempt-again-row" }, agent, note, go);
}
