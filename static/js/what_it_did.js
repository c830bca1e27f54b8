// "What it did" in the changes drawer: the department's conversation as a
// readable record (what it was told and said, its commands with their exit
// codes and output, its file changes with their diffs, its tool calls and
// approvals), or a terminal agent's whole transcript: the same view as its
// tile (conversation.js), placed after the department's summary and verdict
// (decision.js calls whatItDid once per drawer). Collapsed at first; it is
// read from the launcher when opened.

import { el } from "./dom.js";
import { conversationView } from "./conversation.js";
import * as store from "./store.js";

/** The drawer section for the changes view `v` (GET /api/changes), or null. */
export function whatItDid(v) {
  const id = v && v.session_id;
  if (!id) return null;
  const section = el("details", { class: "drawer-section decision-what-it-did" },
    el("summary", { text: "What it did" }));
  let view = null;
  section.addEventListener("toggle", () => {
    if (!section.open || view) return;
    view = conversationView(id, { input: false, label: "what it did" });
    section.appendChild(view.root);
    view.update(store.session(id) || { id, status: "exited" });
  });
  return section;
}
