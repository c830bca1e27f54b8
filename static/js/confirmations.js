// Reports that ask the developer to confirm something, as "Needs you" items:
// the department's question, a note, and Confirm / Reject (the answer and the
// note go to its Zhongshu as a turn) or Put aside (nothing is sent). The
// launcher keeps the answer, so an answered question is gone in every tab.
// The note's text area is made once per question, so redraws never lose
// what is being typed.

import { el } from "./dom.js";
import { api, toast } from "./api.js";

const notes = new Map(); // item key -> its note's textarea

function note(key, id) {
  let area = notes.get(key);
  if (!area) {
    area = el("textarea", {
      class: "need-note",
      attrs: { rows: 1, "aria-label": `note to the planner with your answer to ${id} (optional)`, placeholder: "Note with your answer (optional)" },
    });
    notes.set(key, area);
  }
  return area;
}

async function answer(s, decision, area, buttons) {
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api("/api/answer_confirmation", {
      department_session_id: s.id,
      report_id: s.confirmation.report_id,
      decision,
      note: area.value.trim() || undefined,
    });
    toast(decision === "dismiss" ? `Put aside ${s.id}'s question.` : `Told ${s.confirmation.answered_by || s.parent_session_id}: you ${decision === "confirm" ? "confirmed" : "rejected"} ${s.id}'s question.`);
  } catch (e) {
    buttons.forEach((b) => { b.disabled = false; });
    toast(`Could not answer ${s.id}: ${e.message}`, "error");
  }
}

function button(label, cls, action) {
  const b = el("button", { type: "button", class: `small ${cls}`, text: label, data: { action } });
  return b;
}

/** The unanswered questions of departments, as items. The answer goes to the
 *  department's planner as a turn: while that planner does not run, the item
 *  says so and offers to put the question aside or show the planner (its row
 *  has Resume), so a question is never lost with a restart. */
export function confirmationItems(sessions, title, showSession) {
  const items = [];
  for (const s of sessions) {
    const c = s.confirmation;
    if (!c || c.answer) continue;
    const key = `confirm:${s.id}:${c.report_id}`;
    const area = note(key, s.id);
    const aside = button("Put aside", "", "dismiss");
    const open = el("button", {
      type: "button",
      class: "small",
      text: "Open the report",
      data: { openHandoff: "1", session: s.parent_session_id, department: s.id, report: c.report_id },
    });
    const item = {
      key,
      at: s.reported_at || s.ended_at || s.started_at,
      kind: "confirm",
      text: `${title(s)}: its report asks for your confirmation`,
      detail: c.question,
      session: s.id,
    };
    if (!c.answered_by) {
      const planner = s.parent_session_id;
      aside.addEventListener("click", () => answer(s, "dismiss", area, [aside]));
      const show = el("button", { type: "button", class: "small", text: `Show ${planner}`, data: { action: "show-planner" }, on: { click: () => showSession(planner) } });
      items.push(Object.assign(item, {
        body: [el("p", { class: "need-why", text: `Its planner ${planner} is not running, so an answer would reach no one: resume ${planner} (its row has Resume…) to answer, or put the question aside.` })],
        actions: [show, aside, open],
      }));
      continue;
    }
    const confirm = button("Confirm", "primary", "confirm");
    const reject = button("Reject", "danger", "reject");
    const all = [confirm, reject, aside];
    confirm.addEventListener("click", () => answer(s, "confirm", area, all));
    reject.addEventListener("click", () => answer(s, "reject", area, all));
    aside.addEventListener("click", () => answer(s, "dismiss", area, all));
    items.push(Object.assign(item, {
      body: [area],
      actions: [confirm, reject, aside, open, el("button", { type: "button", class: "small", text: "Show", data: { action: "show" }, on: { click: () => showSession(s.id) } })],
    }));
  }
  for (const key of notes.keys()) if (!items.some((i) => i.key === key)) notes.delete(key);
  return items;
}
