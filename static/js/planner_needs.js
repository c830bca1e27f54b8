// "Needs you" items of planners (needs_you.js lists them): one that ended
// its turn without a plan, with what it said last, a box to answer it and
// *Ask for the plan*; and one item closing every planner done with its plan
// (the views decide which). User text is only ever set as textContent.

import { api, toast } from "./api.js";
import { button, node, showSession, title } from "./needs_parts.js";
import * as store from "./store.js";

/** What the planner is asked when its turn ended without a plan. */
const ASK_FOR_PLAN = "[codex-governance] The user asks: register your plan now with the governance_register_plan tool, or say what you need to know first.";

/** Sends `input` to planner `id` as its next turn; says so, or why not. */
async function sendTurn(id, input, b, said) {
  b.disabled = true;
  // A suspended session takes it when it resumes: the call waits till then.
  if (store.session(id)?.suspended) toast(`${id} is suspended: your words reach it as soon as it resumes; nothing is lost meanwhile.`);
  try {
    await api("/api/session_input", { session_id: id, input });
    toast(said);
    return true;
  } catch (e) {
    toast(`Could not send to ${id}: ${e.message}`, "error");
    return false;
  } finally {
    b.disabled = false;
  }
}

/** A planner whose turn ended without a plan (views: `awaits_reply`): what it
 * said last, a box to answer it, and Ask for the plan. */
export function noPlanItem(s) {
  const waits = s.awaits_reply;
  if (!waits) return null;
  const ask = button("Ask for the plan", "", (ev) => sendTurn(s.id, ASK_FOR_PLAN, ev.target, `Asked ${s.id} for its plan.`), { action: "ask-plan" });
  const reply = node("textarea", "need-reply");
  reply.rows = 2;
  reply.setAttribute("aria-label", `your answer to ${s.id}`);
  reply.placeholder = "Your answer; it goes to the planner as its next turn";
  const send = button("Send answer", "primary", async (ev) => {
    const text = reply.value.trim();
    if (!text) {
      toast("Write an answer first.", "error");
      return;
    }
    if (await sendTurn(s.id, text, ev.target, `Sent your answer to ${s.id}.`)) reply.value = "";
  }, { action: "reply" });
  const said = waits.last_message;
  return {
    key: `no-plan:${s.id}:${waits.turn}`,
    at: s.last_activity_at || s.started_at,
    kind: "no-plan",
    text: `${title(s)} ended its turn without a plan${said ? " and says:" : ""}`,
    detail: said ? "" : "It is idle and registered no plan. Answer it below, or ask it for the plan.",
    body: [said ? node("blockquote", "need-said", said) : null, reply].filter(Boolean),
    session: s.id,
    sig: said || "",
    actions: [send, ask, button("Show", "", () => showSession(s.id), { action: "show" })],
  };
}

/** Planners done with their plan (views: `finished_planners`): one action closes them all. */
export function finishedPlannersItem(ids) {
  const n = ids.length;
  if (!n) return null;
  const close = button(`Close ${n} finished planner${n === 1 ? "" : "s"}`, "primary", async (ev) => {
    ev.target.disabled = true;
    const failed = [];
    for (const id of ids) {
      try {
        await api("/api/close_session", { session_id: id, stop_departments: false });
      } catch (e) {
        failed.push(`${id}: ${e.message}`);
      }
    }
    ev.target.disabled = false;
    if (failed.length) toast(`Could not close ${failed.join("; ")}`, "error");
    else toast(`Closed ${n} finished planner${n === 1 ? "" : "s"}.`);
  }, { action: "close-finished" });
  return {
    key: `finished-planners:${ids.join(",")}`,
    at: "",
    kind: "finished-planners",
    text: `${n === 1 ? `Planner ${ids[0]} is` : `${n} planners are`} done with ${n === 1 ? "its plan" : "their plans"}`,
    detail: n === 1
      ? "It waits idle, holding memory. Closing keeps its plan, results and conversation."
      : `They wait idle, each holding memory: ${ids.join(", ")}. Closing keeps their plans, results and conversations.`,
    sig: ids.join(","),
    actions: [close],
  };
}
