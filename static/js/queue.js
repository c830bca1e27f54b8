// The department queue: assignments waiting for a free slot, in order.

import { $, breakable, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import { clock } from "./format.js";
import * as store from "./store.js";

let queueKey = "";

/** Where a queued assignment will run, and the machines it may move to
 * (issue 53): this one and each host of launcher.remotes. */
function placeControl(q, hosts) {
  if (!hosts.length) return null;
  const select = el("select", { class: "queue-place", attrs: { "aria-label": `where ${q.id} runs` } },
    [["", "here"], ...hosts.map((h) => [h.name, `on ${h.name}`])].map(([value, text]) =>
      el("option", { text, attrs: { value, ...(value === (q.where || "") ? { selected: "" } : {}) } })));
  select.addEventListener("change", async () => {
    try {
      await api("/api/queue/place", { queue_id: q.id, where: select.value || null });
      toast(`${q.id} now runs ${select.value ? `on ${select.value}` : "here"}.`);
    } catch (e) {
      toast(`Could not move ${q.id}: ${e.message}`, "error");
      select.value = q.where || "";
    }
  });
  return el("label", { class: "row-place" }, "runs ", select);
}

function render(queue, hosts) {
  const key = JSON.stringify([queue, hosts.map((h) => h.name)]);
  if (key === queueKey) return;
  queueKey = key;
  const container = $("#queue");
  if (!queue.length) {
    replaceChildren(container, el("p", { class: "empty-note", text: "The queue is empty." }));
    return;
  }
  replaceChildren(container, el("ol", { class: "queue-list" }, queue.map((q, i) =>
    el("li", { class: `queue-item queue-${q.status}`, data: { id: q.id } },
      el("div", { class: "row-head" },
        el("span", { class: "row-name" }, breakable(`${i + 1}. ${store.deptTitle(q.department)}`)),
        el("span", { class: "row-badges" },
          el("span", { class: `badge status-${q.status}`, text: q.status }),
          q.attempts ? el("span", { class: "badge", text: `${q.attempts} attempt${q.attempts === 1 ? "" : "s"}` }) : null)),
      el("div", { class: "row-meta" },
        el("span", { text: `for ${q.parent_session_id || "?"}` }),
        store.modelShown(q.model) ? el("span", { class: "row-model", text: q.model }) : null,
        el("span", { class: "row-time", text: `queued ${clock(q.queued_at)}` }),
        placeControl(q, hosts)),
      el("div", { class: "row-task", text: q.task, title: q.task }),
      q.waiting ? el("div", { class: "row-note", text: q.waiting }) : null,
      q.error ? el("div", { class: "row-error", text: `start failed: ${q.error}` }) : null))));
}

export function mount() {
  store.subscribe((changed) => {
    const st = store.get().status;
    if (st && changed.has("status")) render(st.queue || [], st.remotes || []);
  });
}
