// The landing train (issue 73): every Merge that waits for its turn or runs
// its checks, in the order asked, as the server's `landing_train` says:
// the check running now (ahead of its turn with launcher.landing.parallel),
// how long its turn has run, Changes (opens the drawer) and Remove from the
// train for one that waits. Shown only while the train holds something.

import { $, breakable, el, replaceChildren, withCode } from "./dom.js";
import { api, toast } from "./api.js";
import * as store from "./store.js";

let trainKey = "";

function since(at) {
  const t = Date.parse(at || "");
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** What one entry is doing, in words (commands as code). */
function doing(e) {
  const apply = e.mode === "apply" ? " (Apply verified)" : "";
  if (e.state === "verifying") {
    const took = since(e.started_at);
    return e.running
      ? `Its checks run${apply}: \`${e.running}\`${took ? ` · ${took}` : ""}`
      : `Its candidate is built${apply}${took ? ` · ${took}` : ""}`;
  }
  return e.ahead
    ? `Waits; its checks run ahead, on the Merges before it: \`${e.running}\``
    : `Waits for the Merges before it${apply}`;
}

function removeButton(e) {
  return el("button", {
    type: "button",
    class: "small train-remove",
    text: "Remove",
    title: "takes its Merge out of the train; its work waits for you again",
    attrs: { "aria-label": `remove ${e.session_id} from the landing train` },
    on: {
      click: async () => {
        try {
          await api("/api/landing/remove", { session_id: e.session_id });
          toast(`Took ${e.session_id} out of the landing train.`);
        } catch (err) {
          toast(err.message.includes(e.session_id) ? err.message : `${e.session_id}: ${err.message}`, "error");
        }
      },
    },
  });
}

function render(train) {
  const key = JSON.stringify(train);
  if (key === trainKey) return;
  trainKey = key;
  const section = $("#train-panel");
  section.hidden = !train.length;
  $("#train-count").textContent = train.length ? String(train.length) : "";
  replaceChildren($("#train"), train.length ? el("ol", { class: "train-list" }, train.map((e) =>
    el("li", { class: `train-item train-${e.state}${e.ahead ? " train-ahead" : ""}`, data: { id: e.session_id } },
      el("div", { class: "row-head" },
        el("span", { class: "row-name" }, breakable(`${e.place}. ${e.who}`)),
        el("span", { class: "row-badges" },
          el("span", { class: `badge landing-${e.state}`, text: e.state === "verifying" ? "checks running" : "waits" }))),
      el("div", { class: "row-meta train-doing" }, ...withCode(doing(e))),
      el("div", { class: "train-actions" },
        el("button", { type: "button", class: "small", text: "Changes", title: `the changes of ${e.session_id}`, data: { openChanges: e.session_id } }),
        e.removable ? removeButton(e) : null)))) : null);
}

export function mount() {
  store.subscribe((changed) => {
    const st = store.get().status;
    if (st && changed.has("status")) render(st.landing_train || []);
  });
}
