// A Merge's verified landing in the drawer (issue 73): the checks a Merge
// runs before it lands (or that it lands unverified), its place in the train
// while it waits, the checks running, and a red run's failing command with
// the tail of what the checks wrote, with Send back with the failure and
// Merge without checks (with your reason, audited). Everything comes from
// GET /api/changes (`landing_checks`, `workspace.landing`); the checks'
// output is set as text only.

import { api, toast } from "./api.js";
import { el, withCode } from "./dom.js";
import { list } from "./format.js";

const STATE_WORDS = {
  queued: "Waits in the landing train for the Merges asked before it.",
  verifying: "Its checks run on the candidate (its change on your branch as it is now).",
  passed: "Its candidate passed the checks and landed.",
  failed: "Its candidate failed the checks: nothing landed.",
};

const quoted = (commands) => list(commands).map((c) => `\`${c}\``).join(", ");

function since(at) {
  const t = Date.parse(at || "");
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 120 ? ` (${s} s)` : ` (${Math.round(s / 60)} min)`;
}

/** The drawer's landing section for the changes view `v`, or null. */
export function landingSection(v, reload) {
  const l = v.workspace && v.workspace.landing;
  const checks = v.landing_checks;
  if (!l && !v.awaits_user) return null;
  const lines = [];
  if (!l) {
    lines.push(checks
      ? el("p", {}, ...withCode(`A Merge lands only after its checks pass: ${quoted(checks)}. Apply does not run them; Apply verified does.`))
      : el("p", { class: "landing-unverified", text: "Lands unverified: no landing checks are set (launcher.landing.verify)." }));
    if (checks && v.awaits_user) lines.push(applyVerifiedButton(v, reload));
  } else {
    const running = l.state === "verifying" ? since(l.started_at) : "";
    lines.push(el("p", { class: `landing-state landing-${l.state}`, text: `${STATE_WORDS[l.state] || l.state}${running}` }));
    lines.push(el("p", { class: "landing-checks" }, ...withCode(`Checks: ${quoted(l.commands)}`)));
    if (l.failure) lines.push(el("p", { class: "landing-failure" }, ...withCode(l.failure)));
    if (l.state === "failed" && l.output) lines.push(el("pre", { class: "need-output landing-output", text: l.output }));
    if (l.state === "failed" && v.awaits_user) lines.push(redActions(v, reload));
    if (l.state === "queued") lines.push(removeButton(v, reload));
  }
  return el("section", { class: "drawer-section decision-landing", attrs: { "aria-label": "landing" } },
    el("h3", { class: "sub", text: "Verified landing" }), ...lines);
}

/** Apply verified: the checks first, then the Apply. */
function applyVerifiedButton(v, reload) {
  const id = v.session_id;
  return el("button", {
    type: "button",
    class: "landing-apply-verified",
    text: "Apply verified",
    title: "runs the landing checks on it first; applies it only when they pass",
    on: {
      click: async () => {
        try {
          await api("/api/integrate", { session_id: id, mode: "apply", verify: true });
          toast(`Applied ${id} after its checks passed: its changes are in your working tree, uncommitted.`);
          reload();
        } catch (e) {
          toast(e.message.includes(id) ? e.message : `${id}: ${e.message}`, "error");
          reload();
        }
      },
    },
  });
}

/** Takes a queued Merge out of the train. */
function removeButton(v, reload) {
  const id = v.session_id;
  return el("button", {
    type: "button",
    class: "landing-remove",
    text: "Remove from the train",
    title: "its Merge does not run; its work waits for you again",
    on: {
      click: async () => {
        try {
          await api("/api/landing/remove", { session_id: id });
          toast(`Took ${id} out of the landing train.`);
          reload();
        } catch (e) {
          toast(e.message.includes(id) ? e.message : `${id}: ${e.message}`, "error");
        }
      },
    },
  });
}

/** Send back with the failure, or Merge without checks for a reason. */
function redActions(v, reload) {
  const id = v.session_id;
  const reason = el("input", {
    type: "text",
    class: "landing-reason",
    attrs: { placeholder: "why it lands without its checks", "aria-label": "reason to merge without checks", maxlength: 500 },
  });
  const run = async (path, body, done) => {
    try {
      await api(path, body);
      toast(done);
      reload();
    } catch (e) {
      toast(e.message.includes(id) ? e.message : `${id}: ${e.message}`, "error");
    }
  };
  const sendBack = el("button", {
    type: "button",
    class: "primary landing-send-back",
    text: "Send back with the failure",
    on: { click: () => run("/api/send_back", { session_id: id, note: "", with_landing_failure: true }, `Sent ${id} back with the failing check.`) },
  });
  const without = el("button", {
    type: "button",
    class: "landing-without",
    text: "Merge without checks",
    title: "lands it unverified; your reason is audited",
    on: {
      click: () => {
        const why = reason.value.trim();
        if (!why) {
          toast("Say why it lands without its checks: it is audited.", "error");
          reason.focus();
          return;
        }
        run("/api/integrate", { session_id: id, mode: "merge", without_checks: true, reason: why }, `Merged ${id} without its checks.`);
      },
    },
  });
  return el("div", { class: "landing-actions" }, sendBack, reason, without);
}
