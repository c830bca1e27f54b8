// "Start the plan" shows the plan first: a dialog with every assignment the
// plan would start (department, task, model, files, checks, why), and Start
// for exactly that revision (a plan registered again since answers 409 and
// nothing starts). "Edit first" opens the plan's form in "Plan & inbox".

import { $, breakable, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import { list } from "./format.js";
import { listBlock, startedText } from "./plan.js";
import * as store from "./store.js";

function assignment(a) {
  return el("li", { class: `plan-assignment view${a.selected === false ? " unselected" : ""}`, data: { department: a.department } },
    el("div", { class: "row-head" },
      el("span", { class: "row-name" }, breakable(store.deptTitle(a.department))),
      el("span", { class: "row-badges" },
        a.selected === false ? el("span", { class: "badge", text: "not ticked: will not start" }) : null,
        store.modelShown(a.model) ? el("span", { class: "badge model", text: a.model }) : null)),
    el("div", { class: "row-task", text: a.task }),
    a.reason ? el("div", { class: "row-note", text: `why: ${a.reason}` }) : null,
    listBlock("files", a.files),
    listBlock("checks", a.verify));
}

/** Shows `plan` of Zhongshu `zid`; starts it when the developer says so. */
export function reviewPlan(zid, plan, onStale) {
  const dialog = $("#plan-dialog");
  const opener = document.activeElement;
  const ticked = list(plan.assignments).filter((a) => a.selected !== false).length;
  replaceChildren($("#plan-dialog-title"), `The plan of ${zid} (revision ${plan.revision})`);
  replaceChildren($("#plan-dialog-body"),
    plan.summary ? el("p", { class: "plan-summary", text: plan.summary }) : null,
    el("ol", { class: "plan-list" }, list(plan.assignments).map(assignment)));
  const start = el("button", { type: "button", class: "primary", text: `Start ${ticked} assignment${ticked === 1 ? "" : "s"}`, data: { action: "start-reviewed" } });
  const edit = el("button", { type: "button", text: "Edit first", data: { action: "edit-plan" } });
  const cancel = el("button", { type: "button", text: "Cancel", data: { action: "cancel" } });
  replaceChildren($("#plan-dialog-actions"), start, edit, cancel);
  const done = () => {
    dialog.close();
    if (opener && document.contains(opener)) opener.focus();
  };
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const answer = await api("/api/start_assignments", { parent_session_id: zid, revision: plan.revision });
      toast(startedText(answer, ticked, zid));
      done();
    } catch (e) {
      start.disabled = false;
      if (e.status === 409 && onStale) onStale();
      toast(`Could not start the plan of ${zid}: ${e.message}`, "error");
      if (e.status === 409) done();
    }
  });
  edit.addEventListener("click", () => {
    done();
    store.setFocus(zid);
    document.dispatchEvent(new CustomEvent("codex-governance:show-panel", { detail: "focus-panel" }));
  });
  cancel.addEventListener("click", done);
  dialog.showModal();
  start.focus();
}
