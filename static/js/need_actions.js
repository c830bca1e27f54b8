// The buttons of a "Needs you" item as the server named them: each makes
// the API call the item carries (with the value of the item's box where it
// says so, and the words to say once done or failed), or takes the page's
// own step (show a session, open its changes or a report, the plan's
// dialog, check again). User text is only ever set as textContent.

import { api, toast } from "./api.js";
import { checkAgents } from "./header.js";
import { refresh } from "./live.js";
import { reviewPlan } from "./plan_dialog.js";

export const showSession = (id) => document.dispatchEvent(new CustomEvent("codex-governance:show-session", { detail: id }));

/** The value `fill` takes from `box`, or null (said why) when it may not go. */
function valueOf(fill, box) {
  const text = box ? box.value.trim() : "";
  if (fill.number) {
    const n = Number(box ? box.value : "");
    if (!(n > 0)) {
      toast(fill.required || "A number above 0, please.", "error");
      return null;
    }
    return fill.whole ? Math.round(n) : n;
  }
  if (!text && fill.required) {
    toast(fill.required, "error");
    return null;
  }
  return text;
}

/** Makes the item's calls in turn; says what came of them. */
async function run(call, b, li, box) {
  let value;
  if (call.fill) {
    value = valueOf(call.fill, box);
    if (value === null) return;
  }
  const held = call.hold === "item" ? [...li.querySelectorAll(".need-actions button")]
    : call.hold === "nothing" ? [] : [b];
  held.forEach((x) => { x.disabled = true; });
  if (call.before) toast(call.before);
  const failed = [];
  for (const r of call.requests) {
    const body = { ...r.body };
    if (call.fill) {
      if (value === "") delete body[call.fill.field];
      else body[call.fill.field] = value;
    }
    try {
      await api(r.path, body);
    } catch (e) {
      failed.push(r.what ? `${r.what}: ${e.message}` : e.message);
      if (call.requests.length === 1) break;
    }
  }
  if (failed.length || call.hold === "while_running") held.forEach((x) => { x.disabled = false; });
  if (failed.length) {
    toast(call.requests.some((r) => r.what) ? `${call.failed} ${failed.join("; ")}` : `${call.failed}: ${failed[0]}`, "error");
    return;
  }
  if (call.fill && call.fill.clear && box) box.value = "";
  if (call.done) toast(call.done);
}

/** *Check again* of the hosts: their pre-flight anew, and what each is now. */
async function checkHosts(b) {
  b.disabled = true;
  try {
    const answer = await api("/api/check_remotes", {});
    const words = (answer.remotes || []).map((h) => `${h.name}: ${h.note || "ready"}`).join("; ");
    toast(`Checked again: ${words}`);
  } catch (e) {
    toast(`Could not check the hosts: ${e.message}`, "error");
  } finally {
    b.disabled = false;
  }
}

/** The plan part of `item`, as the plan's dialog shows it. */
function planOf(item) {
  const p = (item.body || []).find((x) => x.part === "plan") || {};
  return { revision: item.revision, summary: p.summary, assignments: p.assignments || [] };
}

/** One button of `item` (its node `li`, its box `box`). */
export function actionButton(item, a, li, box) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `small ${a.class}`.trim();
  b.textContent = a.label;
  if (a.action) b.dataset.action = a.action;
  if (a.title) b.title = a.title;
  if (a.aria_label) b.setAttribute("aria-label", a.aria_label);
  const d = a.does;
  switch (d.does) {
    case "call":
      b.addEventListener("click", () => run(d, b, li, box));
      break;
    case "show":
      b.addEventListener("click", () => showSession(d.session));
      break;
    case "open_changes":
      // drawer.js opens any [data-open-changes].
      b.dataset.openChanges = d.session;
      break;
    case "open_handoff":
      Object.assign(b.dataset, { openHandoff: "1", session: d.planner, department: d.department, report: d.report });
      break;
    case "review_plan":
      // Registered again since it was shown: the next status brings the new one.
      b.addEventListener("click", () => reviewPlan(d.session, planOf(item), () => refresh()));
      break;
    case "refresh":
      b.addEventListener("click", () => refresh());
      break;
    case "check_agents":
      b.addEventListener("click", () => checkAgents(b));
      break;
    case "check_hosts":
      b.addEventListener("click", () => checkHosts(b));
      break;
    default:
      b.disabled = true;
  }
  return b;
}
