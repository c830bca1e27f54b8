// The decision on a department's waiting work, at the foot of the changes
// drawer: Apply (primary: into your working tree, uncommitted), Merge
// (secondary: a commit on your branch), each with one line saying what it
// does; Discard (danger, asked first); Send back (asks for a note); Undo on
// applied or merged work. Keys while the drawer shows it: a, m, d, s open the
// same question as the buttons' confirmation (Enter confirms, Esc cancels);
// j / k (or n / p) move to the next / previous file.

import { api, toast } from "./api.js";
import { el } from "./dom.js";
import { count } from "./format.js";
import { WORDS } from "./changes.js";
import * as store from "./store.js";

/** Override the reviewer's findings: your reason first (audited). */
function reviewOverride(id, run) {
  const reason = el("input", { type: "text", class: "override-review-reason", attrs: { "aria-label": "why it lands past the reviewer's findings", placeholder: "Your reason (audited)" } });
  const go = (mode) => () => {
    const why = reason.value.trim();
    if (!why) {
      toast("Say why it lands past the reviewer's findings: it is audited.", "error");
      reason.focus();
      return;
    }
    run("/api/integrate", { session_id: id, mode, override_review: true, reason: why }, `${mode === "merge" ? "Merged" : "Applied"} ${id} past the reviewer's findings.`);
  };
  const again = el("button", { type: "button", class: "small review-again", text: "Review again",
    title: "a new reviewer reads this work (one that ended without a review, or none yet)",
    on: { click: () => run("/api/review_again", { session_id: id }, `A reviewer reads ${id}'s work again.`) } });
  return el("div", { class: "row-actions review-override" },
    again,
    el("span", { class: "hint", text: "Override the reviewer:" }), reason,
    el("button", { type: "button", class: "small override-review-merge", text: "Override and merge", on: { click: go("merge") } }),
    el("button", { type: "button", class: "small override-review-apply", text: "Override and apply", on: { click: go("apply") } }));
}

/** What each choice does, in one line (shown under its button). */
const EXPLAIN = {
  apply: "Its changes land in your working tree, uncommitted, for you to look over and commit. Undo takes them back.",
  merge: "One commit on your current branch, in your name, its summary as the message. Undo takes it back while it is the tip.",
};

/** The user's choices for department `v`'s work; `after(what)` runs once one
 * is done (the drawer shows the next waiting work, or the same anew). */
export function decisionActions(v, after, drafts = () => 0) {
  const id = v.session_id;
  const ws = v.workspace;
  const waits = v.awaits_user;
  // Its report came and its agent is ending its turn (issue 70 item 6): the
  // choices show with Apply and Merge held (the server says why), and are
  // drawn anew once its session has ended.
  const finishing = !waits && v.running && Boolean(v.integration_blocked) && ["pending", "conflicting"].includes(ws.state);
  const section = el("section", { class: "drawer-section changes-actions decision-actions", attrs: { "aria-label": "your decision" } });
  section.append(el("h3", { class: "sub", text: "Your decision" }));
  if (!waits && v.workspace_facts.undoable) {
    section.append(el("p", { class: "hint", text: `${WORDS[ws.state]}.` }), undoRow(v, after));
    return { section, keys: fileKeys(section) };
  }
  if (!waits && ws.successor) {
    section.append(el("p", { class: "hint", text: `Sent back: its work goes on in ${ws.successor}.` }),
      el("div", { class: "row-actions" }, el("button", {
        type: "button", class: "small primary", text: `Open ${ws.successor}`,
        title: "the attempt that works on in this worktree", data: { openChanges: ws.successor },
      })));
    return { section, keys: fileKeys(section) };
  }
  if (!waits && !finishing) {
    section.append(el("p", { class: "hint", text: v.running
      ? "It is still working: its changes are recorded when it reports or exits."
      : `Nothing to decide: ${WORDS[ws.state] || ws.state}.` }));
    return { section, keys: fileKeys(section) };
  }
  const outOfScope = (ws.review && ws.review.scope && ws.review.scope.out_of_scope) || [];
  const blocked = v.scope_mode === "block" && outOfScope.length > 0;
  const override = el("input", { type: "checkbox", class: "override-scope", attrs: { "aria-label": "integrate the out-of-scope files all the same" } });
  const run = async (what, body, done) => {
    try {
      await api(what, body);
      toast(done);
      after("done");
    } catch (e) {
      toast(e.message.includes(id) ? e.message : `${id}: ${e.message}`, "error");
      after("failed");
    }
  };
  const act = {
    apply: () => run("/api/integrate", { session_id: id, mode: "apply", override_scope: override.checked },
      `Applied ${id}: its changes are in your working tree, uncommitted.`),
    merge: () => run("/api/integrate", { session_id: id, mode: "merge", override_scope: override.checked },
      `Merged ${id} onto your branch.`),
    discard: () => run("/api/discard", { session_id: id },
      `Discarded ${id}'s worktree; its branch ${ws.branch} stays for a while (worktrees --prune deletes it later).`),
    send_back: (note) => {
      const n = drafts();
      const what = [note ? "your note" : null, n ? count(n, "comment") : null].filter(Boolean).join(" and ");
      return run("/api/send_back", { session_id: id, note }, `Sent ${id} back with ${what}.`);
    },
  };
  const confirm = el("div", { class: "decision-confirm", attrs: { role: "group", "aria-label": "confirm", hidden: true } });
  const ask = (what) => askFor(what, v, confirm, act, section, drafts());
  // Apply and Merge are marked off while the server says they would be
  // refused. The user's tree may have changed since (a file reverted or
  // committed): a press asks again first and goes on once nothing stands in
  // the way, else says why.
  const refused = (what) => (what === "apply" || what === "merge") && v.integration_blocked;
  const unlessRefused = async (what, go) => {
    if (!refused(what)) return go();
    let why = v.integration_blocked;
    try {
      why = (await api(`/api/changes?${new URLSearchParams({ session_id: id })}`)).integration_blocked;
    } catch (e) {
      // The answer we have stands.
    }
    if (why) toast(why, "error");
    else go();
  };
  const button = (text, cls, what, title) => el("button", {
    type: "button", class: `${cls}${refused(what) ? " decide-blocked" : ""}`, text, title: refused(what) || title, data: { decide: what },
    attrs: { "aria-disabled": refused(what) ? "true" : undefined },
    on: { click: () => unlessRefused(what, () => (what === "apply" || what === "merge" ? act[what]() : ask(what))) },
  });
  const check = v.integration_blocked ? el("p", { class: "hint decision-blocked" }, `${v.integration_blocked} `,
    el("button", { type: "button", class: "small decide-check", text: "Check again", title: "look at your branch and working tree again", on: { click: () => after("check") } })) : null;
  // A reviewer agent's important findings hold it (issue 75): Send back
  // with the accepted ones, dismiss them, or override with a reason.
  const held = v.review_held ? reviewOverride(id, run) : null;
  // A part left out is left out (Element.append would print "null").
  section.append(...[
    held,
    blocked ? el("label", { class: "row-error" }, override, ` ${count(outOfScope.length, "file")} out of its scope (launcher.scope: block): integrate them all the same (audited)`) : null,
    check,
    el("div", { class: "decision-choice" },
      button("Apply", "primary decide-apply", "apply", "bring its changes into your working tree, uncommitted (a)"),
      el("span", { class: "decision-explain", text: EXPLAIN.apply })),
    el("div", { class: "decision-choice" },
      button("Merge", "secondary decide-merge", "merge", "commit its changes onto your current branch (m)"),
      el("span", { class: "decision-explain", text: EXPLAIN.merge })),
    el("div", { class: "row-actions decision-more" },
      button("Send back…", "decide-send-back", "send_back", "a new turn for the department with your note and your line comments (s)"),
      button("Discard…", "danger decide-discard", "discard", "remove its worktree; its branch stays for a while (d)")),
    confirm,
    el("p", { class: "hint decision-keys", text: "Keys: j / k next and previous file · c comment on a line · a apply · m merge · d discard · s send back (each asks first)" }),
  ].filter(Boolean));
  if (finishing) whenEnded(id, () => after("check"));
  const files = fileKeys(section);
  const keys = (event) => {
    if (!confirm.hidden && event.key === "Escape") {
      closeConfirm(confirm, section);
      return true;
    }
    if (typing(event.target)) return false;
    const what = { a: "apply", m: "merge", d: "discard", s: "send_back" }[event.key];
    if (what) {
      unlessRefused(what, () => ask(what));
      return true;
    }
    return files(event);
  };
  return { section, keys };
}

/** Runs `then` once, when session `id` no longer runs (at once when the
 * page already knows it ended: the server said it ran a moment before). */
function whenEnded(id, then) {
  const ended = () => {
    const s = store.session(id);
    return Boolean(s) && !store.isRunning(s);
  };
  if (ended()) {
    then();
    return;
  }
  const stop = store.subscribe((changed) => {
    if (!changed.has("status") || !ended()) return;
    stop();
    then();
  });
}

const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

/** The question before a choice: what it does, then confirm or cancel. */
function askFor(what, v, confirm, act, section, drafts) {
  const id = v.session_id;
  const files = v.files.length;
  const question = {
    apply: `Apply ${id}'s ${count(files, "changed file")} into your working tree, uncommitted?`,
    merge: `Merge ${id}'s ${count(files, "changed file")} as one commit on your current branch?`,
    discard: `Discard ${id}'s work? Its worktree goes; its branch ${v.workspace.branch} stays for a while.`,
    send_back: drafts
      ? `Send ${id} back with your ${count(drafts, "comment")} on its lines: anything to add?`
      : `Send ${id} back: what should it change?`,
  }[what];
  const label = { apply: "Apply", merge: "Merge", discard: "Discard", send_back: "Send back" }[what];
  const yes = el("button", { type: "button", class: what === "discard" ? "danger" : "primary", text: label, data: { confirm: what } });
  const no = el("button", { type: "button", class: "small", text: "Cancel", data: { confirm: "cancel" } });
  const parts = [el("p", { class: "decision-question", text: question })];
  let note = null;
  if (what === "send_back") {
    note = el("textarea", { class: "send-back-note", attrs: { rows: 3, "aria-label": `note for ${id}`, placeholder: "Your note: what to change, what to keep" } });
    // With drafts the note may stay empty: the comments say what to change.
    const ready = () => Boolean(drafts || note.value.trim());
    yes.disabled = !ready();
    note.addEventListener("input", () => {
      yes.disabled = !ready();
    });
    note.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && ready()) yes.click();
    });
    parts.push(note);
  }
  yes.addEventListener("click", () => {
    yes.disabled = true;
    closeConfirm(confirm, section);
    if (what === "send_back") act.send_back(note.value.trim());
    else act[what]();
  });
  no.addEventListener("click", () => closeConfirm(confirm, section));
  parts.push(el("div", { class: "row-actions" }, yes, no));
  confirm.replaceChildren(...parts);
  confirm.hidden = false;
  section.classList.add("asking");
  (note || yes).focus();
}

function closeConfirm(confirm, section) {
  confirm.hidden = true;
  confirm.replaceChildren();
  section.classList.remove("asking");
  const first = section.querySelector("[data-decide]");
  if (first) first.focus();
}

/** Undo on applied or merged work. */
function undoRow(v, after) {
  const id = v.session_id;
  const applied = v.workspace_facts.undoable === "apply";
  const undo = el("button", {
    type: "button",
    class: "small undo-integration",
    text: "Undo",
    title: applied
      ? "put back what its Apply replaced, while you have not changed those files since"
      : "move your branch back before its merge commit and put back the files, while the commit is still the branch's tip",
  });
  undo.addEventListener("click", async () => {
    try {
      await api("/api/undo_integration", { session_id: id });
      toast(`Undid the ${applied ? "Apply" : "Merge"} of ${id}: its work waits for you again.`);
    } catch (e) {
      toast(e.message.includes(id) ? e.message : `${id}: ${e.message}`, "error");
    }
    after("undo");
  });
  return el("div", { class: "row-actions" }, undo);
}

/** j / k (n / p): the next or previous file's diff, opened and in view. */
function fileKeys(section) {
  return (event) => {
    if (typing(event.target)) return false;
    const step = { j: 1, n: 1, k: -1, p: -1 }[event.key];
    if (!step) return false;
    const body = section.closest("#drawer-body") || document;
    const blocks = [...body.querySelectorAll("details.file-diff")];
    if (!blocks.length) return true;
    const at = blocks.findIndex((b) => b.classList.contains("current"));
    const next = blocks[Math.max(0, Math.min(blocks.length - 1, at < 0 ? (step > 0 ? 0 : blocks.length - 1) : at + step))];
    blocks.forEach((b) => b.classList.toggle("current", b === next));
    next.open = true;
    const head = next.querySelector("summary");
    head.focus();
    head.scrollIntoView({ block: "start" });
    return true;
  };
}
