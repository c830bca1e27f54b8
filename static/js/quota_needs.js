// "Needs you" items of the usage limit, plan budgets and hosts
// (needs_you.js lists them): one item for every parked session and the
// held queue (*Start anyway*), Codex's offer of a lighter model near the
// limit, each plan stopped by its budget (*Raise budget*), and queued
// departments waiting for their host (*Check again*).

import { api, toast } from "./api.js";
import { button, node } from "./needs_parts.js";

async function startAnyway(b) {
  b.disabled = true;
  try {
    await api("/api/quota/start_anyway", {});
    toast("Departments start despite the usage limit until it resets.", "info");
  } catch (e) {
    b.disabled = false;
    toast(`Could not start anyway: ${e.message}`, "error");
  }
}

async function answerSwitch(choice, b) {
  b.disabled = true;
  try {
    await api("/api/quota/model_switch", { choice });
    toast(choice === "switch" ? "The running sessions use the lighter model from their next turn." : "The sessions keep their models.", "info");
  } catch (e) {
    b.disabled = false;
    toast(`Could not answer: ${e.message}`, "error");
  }
}

async function raiseBudget(zhongshu, input, inTokens, b) {
  const value = Number(input.value);
  if (!(value > 0)) {
    toast("A budget is a number above 0.", "error");
    return;
  }
  b.disabled = true;
  try {
    await api("/api/plan_budget", inTokens
      ? { zhongshu_id: zhongshu, budget_tokens: Math.round(value) }
      : { zhongshu_id: zhongshu, budget_usd: value });
  } catch (e) {
    b.disabled = false;
    toast(`Could not raise the budget: ${e.message}`, "error");
  }
}

/** The usage limit (one item for every parked session and the held queue)
 * and each plan stopped by its budget. */
export function quotaItems(q, queued) {
  if (!q) return [];
  const items = [];
  const parked = q.parked || [];
  if (q.hold || parked.length) {
    const until = (q.hold && q.hold.until_local) || (parked[0] && parked[0].until_local);
    const who = parked.map((p) => p.session_id).join(", ");
    const text = parked.length
      ? `Waiting for quota until ${until}: ${parked.length} session${parked.length === 1 ? "" : "s"} parked`
      : `New departments wait: ${q.hold.text}`;
    const detail = [
      q.limit && `Limit: ${q.limit}.`,
      who && `Parked: ${who}; each continues by itself at the reset.`,
      q.hold && queued ? `${queued === 1 ? "1 queued department waits" : `${queued} queued departments wait`}.` : "",
      parked[0] && parked[0].reason,
    ].filter(Boolean).join(" ");
    const actions = [];
    if (q.hold && queued) actions.push(button("Start anyway", "primary", (ev) => startAnyway(ev.target), { action: "start-anyway" }));
    items.push({ key: `quota:${text}`, at: parked[0] ? parked[0].since : "", kind: "quota", text, detail, sig: actions.length, actions });
  }
  const offer = q.model_switch;
  if (offer) {
    const n = offer.sessions.length;
    items.push({
      key: `model-switch:${offer.model}:${offer.sessions.join(",")}`,
      at: q.updated_at || "",
      kind: "rate_limit",
      text: `Approaching the usage limit (${Math.round(offer.used_percent)}% of the ${offer.window} window): switch to ${offer.model} for the next turns?`,
      detail: `${n} running session${n === 1 ? "" : "s"} would switch: ${offer.sessions.join(", ")}. A lighter model uses less of the limit.`,
      actions: [
        button(`Switch to ${offer.model}`, "primary", (ev) => answerSwitch("switch", ev.target), { action: "switch-model" }),
        button("Keep current models", "", (ev) => answerSwitch("keep", ev.target), { action: "keep-model" }),
        button("Keep, and stop asking", "", (ev) => answerSwitch("never", ev.target), { action: "never-switch" }),
      ],
    });
  }
  for (const b of q.budgets || []) {
    const inTokens = b.budget_usd == null;
    const input = node("input", "budget-input");
    input.type = "number";
    input.min = "0";
    input.step = inTokens ? "1000" : "0.5";
    input.setAttribute("aria-label", inTokens ? "new budget in tokens" : "new budget in US dollars");
    input.value = String(inTokens ? (b.budget_tokens || 0) * 2 : (b.budget_usd || 0) * 2);
    items.push({
      key: `budget:${b.zhongshu_id}:${b.text}`,
      at: "",
      kind: "budget",
      text: `${b.zhongshu_id}: its plan ${b.text}`,
      detail: "No more of its departments start, and running ones wait after their turn, until you raise the budget.",
      session: b.zhongshu_id,
      actions: [input, button("Raise budget", "primary", (ev) => raiseBudget(b.zhongshu_id, input, inTokens, ev.target), { action: "raise-budget" })],
    });
  }
  return items;
}

/** Queued departments that wait for their host (issue 53): one item per
 * host, with why, and *Check again* (the host's pre-flight anew). */
export function hostItems(queue) {
  const byHost = new Map();
  for (const q of queue) {
    if (!q.waiting) continue;
    const host = q.where || "";
    if (!byHost.has(host)) byHost.set(host, []);
    byHost.get(host).push(q);
  }
  return [...byHost].map(([host, waiting]) => ({
    key: `host:${host}:${waiting[0].waiting}`,
    at: waiting[0].queued_at,
    kind: "host",
    text: `${waiting.length === 1 ? "1 queued department waits" : `${waiting.length} queued departments wait`} for ${host}`,
    detail: waiting[0].waiting,
    sig: 1,
    actions: [button("Check again", "primary", (ev) => checkHosts(ev.target), { action: "check-hosts" })],
  }));
}

async function checkHosts(btn) {
  btn.disabled = true;
  try {
    const answer = await api("/api/check_remotes", {});
    const words = (answer.remotes || []).map((h) => `${h.name}: ${h.note || "ready"}`).join("; ");
    toast(`Checked again: ${words}`);
  } catch (e) {
    toast(`Could not check the hosts: ${e.message}`, "error");
  } finally {
    btn.disabled = false;
  }
}
