// Review comments on a department's diff lines in the changes drawer (issue
// 51): click a line (its number or its code), or focus one and press c (C:
// the old side), to write a comment; drafts can be edited and deleted until
// Send back carries them all, in one turn, with the note. Comments written
// on earlier attempts show at the lines where they now are, addressed or
// open, and can be resolved or reopened. Each file's head and the drawer's
// title count the drafts. A reviewer agent's findings (issue 75) show quoted,
// with their severity, and offer Accept (they become yours, sent with the
// next Send back) and Dismiss (with your reason). Everything comes from
// /api/review_comments; every comment's words are set as text only.

import { api, toast } from "./api.js";
import { el } from "./dom.js";
import { count, enc, list } from "./format.js";

const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
const lineOf = (row, side) => Number(side === "new" ? row.dataset.newLine : row.dataset.oldLine);
const hasSide = (row, side) => Boolean(side === "new" ? row.dataset.newLine : row.dataset.oldLine);

/** The comments of department attempt `v`: the summary section, the header
 * badge, the file decorations and the keys. */
export function reviewComments(v) {
  const id = v.session_id;
  let all = [];
  const files = new Map();
  const section = el("section", { class: "drawer-section review-comments", attrs: { "aria-label": "review comments" } });
  const badge = el("span", { class: "badge pending-comments", attrs: { "aria-live": "polite" }, hidden: true });
  // Comments need a recorded diff that is still this attempt's to send back.
  const open = Boolean(v.workspace && v.workspace.commit) && !v.workspace.successor;

  // What the next send-back carries: your drafts, and the findings you accepted.
  const drafts = () => all.filter((c) => c.draft || (c.author === "reviewer" && c.session_id === id && c.finding.accepted_at && !c.sent_at && !c.resolved));

  async function load() {
    try {
      const r = await api(`/api/review_comments?session_id=${enc(id)}`);
      all = list(r.comments);
    } catch (e) {
      all = [];
      section.replaceChildren(el("p", { class: "form-msg error", text: `Cannot read the review comments: ${e.message}` }));
      return;
    }
    redraw();
  }

  function redraw() {
    for (const [path, body] of files) decorate(path, body);
    summary();
    counts();
  }

  function counts() {
    const n = drafts().length;
    badge.hidden = n === 0;
    badge.textContent = n ? `${count(n, "comment")} pending` : "";
    for (const [path, body] of files) {
      const head = body.closest("details.file-diff")?.querySelector(".file-diff-head");
      if (!head) continue;
      let mark = head.querySelector(".comment-count");
      const mine = drafts().filter((c) => c.path === path).length;
      if (!mine) {
        if (mark) mark.remove();
        continue;
      }
      if (!mark) {
        mark = el("span", { class: "badge comment-count" });
        head.append(" ", mark);
      }
      mark.textContent = `${count(mine, "comment")} pending`;
    }
  }

  function summary() {
    const by = {};
    // A reviewer agent's undecided findings are not your drafts: counted apart.
    const yours = all.filter((x) => x.author !== "reviewer" || x.finding.accepted_at);
    const found = all.filter((c) => c.author === "reviewer" && c.session_id === id);
    for (const c of yours) by[c.state] = (by[c.state] || 0) + 1;
    const order = ["draft", "sent", "open", "addressed", "resolved"];
    const words = order.filter((s) => by[s]).map((s) => `${by[s]} ${s === "draft" ? (by[s] === 1 ? "draft" : "drafts") : s}`);
    const said = yours.length
      ? `Review comments: ${words.join(" · ")}.${by.draft ? " Send back… carries the drafts." : ""}`
      : open && !found.length ? "No review comments yet." : "";
    const hint = open ? "Click a line of a diff, or focus one (Tab, then ↑ ↓) and press c, to comment on it (C: its old side)." : "";
    const elsewhere = all.filter((c) => !placed(c));
    const severities = ["important", "minor", "nit"].map((s) => [s, found.filter((c) => c.finding.severity === s).length]).filter(([, n]) => n);
    const reviewers = [...new Set(found.map((c) => c.finding.reviewer))];
    const second = found.length
      ? `Reviewed by ${reviewers.join(", ")}: ${severities.map(([s, n]) => `${n} ${s}`).join(", ")}.`
      : "";
    section.replaceChildren(...[
      second ? el("p", { class: "review-comments-second", text: second }) : null,
      said ? el("p", { class: "review-comments-said", text: said }) : null,
      hint ? el("p", { class: "hint review-comments-keys", text: hint }) : null,
      elsewhere.length ? el("ul", { class: "review-comments-elsewhere" }, elsewhere.map((c) => el("li", {}, commentCard(c)))) : null,
    ].filter(Boolean));
    section.hidden = !second && !said && !hint && !elsewhere.length;
  }

  /** The diff row comment `c` belongs under in its file, if that file's diff shows it. */
  function rowOf(c) {
    const body = files.get(c.path);
    if (!body) return null;
    const line = c.side === "new" ? c.current_line : c.line;
    const key = c.side === "new" ? "newLine" : "oldLine";
    return [...body.querySelectorAll("tr.diff-line")].find((r) => Number(r.dataset[key]) === line) || null;
  }

  const placed = (c) => Boolean(rowOf(c));

  /** Puts each comment of `path` under its line in the file's loaded diff. */
  function decorate(path, body) {
    body.querySelectorAll("tr.comment-row:not(.comment-form)").forEach((r) => r.remove());
    for (const c of all.filter((x) => x.path === path)) {
      const row = rowOf(c);
      if (!row) continue;
      let after = row;
      while (after.nextElementSibling && after.nextElementSibling.classList.contains("comment-row")) after = after.nextElementSibling;
      after.after(el("tr", { class: `comment-row comment-${c.state}`, data: { commentId: c.id } },
        el("td", { attrs: { colspan: 4 } }, commentCard(c))));
    }
  }

  function commentCard(c) {
    const where = `${c.path}:${c.side === "new" ? c.current_line : c.line}${c.side === "old" ? " (old side)" : ""}`;
    const from = c.session_id !== id ? ` · written on ${c.session_id}` : "";
    if (c.author === "reviewer") return findingCard(c, where, from);
    const actions = c.draft
      ? [button("Edit", `edit this draft on ${where}`, () => editDraft(c)), button("Delete", `delete this draft on ${where}`, () => remove(c))]
      : [button(c.resolved ? "Reopen" : "Resolve", `${c.resolved ? "reopen" : "resolve"} the comment on ${where}`, () => resolve(c, !c.resolved))];
    return el("div", { class: "comment-card", data: { commentId: c.id } },
      el("div", { class: "comment-head" },
        el("span", { class: `badge comment-state state-${c.state}`, text: c.state }), " ",
        el("span", { class: "hint", text: `${where}${from}` })),
      el("p", { class: "comment-body", text: c.body }),
      el("div", { class: "row-actions comment-actions" }, actions));
  }

  /** A reviewer agent's finding: its words quoted as the reviewer's, never as yours. */
  function findingCard(c, where, from) {
    const f = c.finding;
    const mine = c.session_id === id;
    const note = f.file_note ? " · a note on the file (its line is not in the diff)" : "";
    const decided = f.dismissed ? `dismissed: ${f.dismissed}` : f.accepted_at ? "accepted as yours" : c.state === "draft" ? "to decide" : "";
    const actions = [];
    if (mine && !f.accepted_at && !f.dismissed) {
      actions.push(button("Accept", `accept the finding on ${where} as your comment`, () => change("/api/review_comments/accept", { id: c.id }, `Accepted: it goes with the next Send back.`)));
      actions.push(button("Dismiss", `dismiss the finding on ${where}`, () => dismissForm(c, card)));
    } else if (f.accepted_at || !mine) {
      actions.push(button(c.resolved ? "Reopen" : "Resolve", `${c.resolved ? "reopen" : "resolve"} the finding on ${where}`, () => resolve(c, !c.resolved)));
    }
    const card = el("div", { class: `comment-card finding severity-${f.severity}`, data: { commentId: c.id } },
      el("div", { class: "comment-head" },
        el("span", { class: `badge severity severity-${f.severity}`, text: f.severity }), " ",
        el("span", { class: "badge comment-author", text: `reviewer ${f.reviewer}` }), " ",
        el("span", { class: `badge comment-state state-${c.state}`, text: decided || c.state }), " ",
        el("span", { class: "hint", text: `${where}${from}${note}` })),
      el("blockquote", { class: "comment-body finding-body", text: c.body }),
      el("div", { class: "row-actions comment-actions" }, actions));
    return card;
  }

  function dismissForm(c, card) {
    const reason = el("input", { type: "text", class: "dismiss-reason", attrs: { "aria-label": `why you dismiss the finding ${c.id}`, placeholder: "Why (required)" } });
    const go = button("Dismiss", `dismiss the finding ${c.id} with this reason`, () => {
      const why = reason.value.trim();
      if (why) change("/api/review_comments/dismiss", { id: c.id, reason: why }, "Dismissed.");
      else reason.focus();
    });
    card.querySelector(".comment-actions").replaceChildren(reason, go);
    reason.focus();
  }

  const button = (text, label, run) => el("button", { type: "button", class: "small", text, attrs: { "aria-label": label }, on: { click: run } });

  async function change(what, body, done) {
    try {
      await api(what, body);
      if (done) toast(done);
    } catch (e) {
      toast(`${id}: ${e.message}`, "error");
    }
    await load();
  }

  const remove = (c) => change("/api/review_comments/delete", { id: c.id }, `Deleted the draft on ${c.path}:${c.line}.`);
  const resolve = (c, resolved) => change("/api/review_comments/resolve", { id: c.id, resolved });

  function editDraft(c) {
    const row = rowOf(c);
    if (row) openForm(row, c.side, c);
  }

  function closeForms() {
    for (const body of files.values()) body.querySelectorAll("tr.comment-form").forEach((r) => r.remove());
  }

  /** The form under `row` for a comment on its `side` (editing `draft` if given). */
  function openForm(row, side, draft) {
    if (!open) return;
    closeForms();
    const path = row.closest("details.file-diff").dataset.path;
    const both = hasSide(row, "new") && hasSide(row, "old");
    let at = hasSide(row, side) ? side : side === "new" ? "old" : "new";
    const text = el("textarea", { class: "comment-text", attrs: { rows: 3, placeholder: "Your comment on this line (Ctrl+Enter saves, Esc cancels)" } });
    const label = () => `comment on ${path} line ${lineOf(row, at)}${at === "old" ? " (old side)" : ""}`;
    text.setAttribute("aria-label", label());
    if (draft) text.value = draft.body;
    const sides = both && !draft
      ? el("select", { class: "comment-side", attrs: { "aria-label": "which side of the diff" } },
        el("option", { text: `new line ${row.dataset.newLine}`, attrs: { value: "new" } }),
        el("option", { text: `old line ${row.dataset.oldLine}`, attrs: { value: "old" } }))
      : null;
    if (sides) {
      sides.value = at;
      sides.addEventListener("change", () => {
        at = sides.value;
        text.setAttribute("aria-label", label());
      });
    }
    const save = el("button", { type: "button", class: "primary small comment-save", text: draft ? "Save" : "Comment" });
    const cancel = el("button", { type: "button", class: "small comment-cancel", text: "Cancel" });
    const msg = el("p", { class: "form-msg", attrs: { role: "status" } });
    const form = el("tr", { class: "comment-row comment-form" },
      el("td", { attrs: { colspan: 4 } },
        el("p", { class: "hint", text: `Comment on ${path}, line ${lineOf(row, at)}${at === "old" ? " (old side)" : ""}` }),
        text, el("div", { class: "row-actions" }, sides, save, cancel), msg));
    const done = () => {
      form.remove();
      row.focus();
    };
    save.addEventListener("click", async () => {
      const words = text.value.trim();
      if (!words) {
        msg.textContent = "Write the comment first.";
        return;
      }
      save.disabled = true;
      try {
        await api("/api/review_comments", { session_id: id, path, line: lineOf(row, at), side: at, body: words });
        // An edit is a new draft in place of the old one: the old goes only once the new is kept.
        if (draft) await api("/api/review_comments/delete", { id: draft.id });
      } catch (e) {
        save.disabled = false;
        msg.textContent = e.message;
        msg.className = "form-msg error";
        return;
      }
      form.remove();
      await load();
      row.focus();
    });
    cancel.addEventListener("click", done);
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        save.click();
      }
    });
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        done();
      }
    });
    let after = row;
    while (after.nextElementSibling && after.nextElementSibling.classList.contains("comment-row")) after = after.nextElementSibling;
    after.after(form);
    text.focus();
  }

  /** Makes a file's loaded diff commentable: its rows take clicks and the keyboard. */
  function attach(block, body) {
    const path = block.dataset.path;
    files.set(path, body);
    const rows = [...body.querySelectorAll("tr.diff-line")];
    rows.forEach((r, i) => {
      r.tabIndex = i === 0 ? 0 : -1;
      if (open) r.title = "click, or press c, to comment on this line";
    });
    body.addEventListener("click", (event) => {
      const row = event.target.closest("tr.diff-line");
      if (!row || !open) return;
      // Selecting code to copy it is not a click on the line.
      const selected = window.getSelection && String(window.getSelection());
      if (selected) return;
      const cell = event.target.closest("td");
      const oldColumn = cell && cell.cellIndex === 0;
      const side = oldColumn || row.classList.contains("diff-del") ? "old" : "new";
      openForm(row, side);
    });
    decorate(path, body);
    counts();
    summary();
  }

  /** c / C on a focused line opens its form; ↑ ↓ move between lines. */
  function keys(event) {
    if (typing(event.target)) return false;
    const row = event.target.closest && event.target.closest("tr.diff-line");
    if (row && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      const rows = [...row.closest(".file-diff-body").querySelectorAll("tr.diff-line")];
      const next = rows[rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        rows.forEach((r) => { r.tabIndex = r === next ? 0 : -1; });
        next.focus();
        next.scrollIntoView({ block: "nearest" });
      }
      return true;
    }
    if (event.key !== "c" && event.key !== "C") return false;
    if (!open) return false;
    if (row) {
      openForm(row, event.key === "C" ? "old" : "new");
      return true;
    }
    // Not on a line: the first line of the current (or first open) file.
    const blocks = [...files.keys()].map((p) => files.get(p));
    const current = blocks.find((b) => b.closest("details.file-diff.current")) || blocks.find((b) => b.closest("details.file-diff[open]"));
    const first = current && current.querySelector("tr.diff-line");
    if (first) {
      first.focus();
      first.scrollIntoView({ block: "nearest" });
    }
    return true;
  }

  return { section, badge, load, attach, keys, drafts: () => drafts().length, open };
}
