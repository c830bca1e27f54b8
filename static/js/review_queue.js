// The review queue (issue 37): every isolated department whose recorded work
// waits for the user (pending, or refused for a predicted conflict), in the
// order they started. Needs you holds one item for all of it, made by the
// server (src/views/needs_you/review_queue.rs); the plan's results line
// links to it, and the changes drawer steps through it. A "Review" button
// is any [data-open-changes] (drawer.js opens it), so nothing here imports
// the drawer.

import { el } from "./dom.js";
import * as store from "./store.js";

/** Work that waits for the user (the server says so: `awaits_user`). */
const waits = (s) => !!s && !!s.awaits_user;

/** The departments whose work waits for the user, oldest first; of one plan when `zhongshu` is given. */
export function waiting(zhongshu) {
  return store.sessions()
    .filter((s) => s.session_kind === "department" && waits(s) && (!zhongshu || s.parent_session_id === zhongshu))
    .sort((a, b) => String(a.started_at || "").localeCompare(String(b.started_at || "")) || a.id.localeCompare(b.id));
}

/** The waiting department after `id` in the queue's order (when `id` no
 * longer waits: the first that started after it), or null. */
export function nextAfter(id, zhongshu) {
  const all = waiting(zhongshu);
  if (!all.length) return null;
  const at = all.findIndex((s) => s.id === id);
  if (at >= 0) return all.length > 1 ? all[(at + 1) % all.length] : null;
  const self = store.session(id);
  const since = String((self && self.started_at) || "");
  return all.find((s) => String(s.started_at || "") > since) || all[0];
}

/** Where `id` stands in the queue: {at (1-based, 0 when not in it), of}. */
export function position(id) {
  const all = waiting();
  return { at: all.findIndex((s) => s.id === id) + 1, of: all.length };
}

/** A button that opens the first waiting department's changes. */
export function reviewNextButton(first, label = "Review next") {
  return el("button", {
    type: "button",
    class: "small primary review-next",
    text: label,
    title: "open the waiting changes in the drawer, one after the other",
    data: { openChanges: first.id, action: "review-next" },
  });
}
