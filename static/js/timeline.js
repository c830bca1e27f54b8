// The timeline: one bar per session from start to exit, a diamond where it
// reported. A bar shows its session; a diamond opens the report's packet in
// the drawer.

import { $, el, replaceChildren, svg } from "./dom.js";
import { cutText, dateTime, parseTime } from "./format.js";
import * as store from "./store.js";

/** The drawer's attributes for a department's last report, if it has one. */
function packetData(s) {
  if (!s.last_report_id || !s.parent_session_id) return {};
  return {
    "data-open-handoff": "1",
    "data-session": s.parent_session_id,
    "data-department": s.id,
    "data-report": s.last_report_id,
  };
}

function render() {
  const container = $("#timeline");
  const st = store.get().status;
  const sessions = (st && st.sessions ? st.sessions.slice() : [])
    .filter((s) => parseTime(s.started_at) !== null)
    .sort((a, b) => parseTime(a.started_at) - parseTime(b.started_at));
  if (!sessions.length) {
    if (!$(".empty-note", container)) {
      replaceChildren(container, el("p", { class: "empty-note", text: "Sessions appear here as they start." }));
    }
    return;
  }
  const now = Date.now();
  const t0 = Math.min(...sessions.map((s) => parseTime(s.started_at)));
  const ends = sessions.map((s) => (store.isRunning(s) ? now : parseTime(s.ended_at) || now));
  const t1 = Math.max(now, ...ends, t0 + 10000);
  if (!container.clientWidth) return; // hidden: drawn when its tab shows it
  const width = Math.max(320, container.clientWidth);
  const narrow = width < 600;
  const labelW = narrow ? 112 : 230;
  const rowH = 24;
  const top = 22;
  const right = 14;
  const height = top + sessions.length * rowH + 8;
  const span = t1 - t0;
  const x = (t) => labelW + ((t - t0) / span) * (width - labelW - right);

  const root = svg("svg", {
    class: "timeline-svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "timeline of sessions: start, report and exit",
  });
  // time axis: round steps (1 s … 1 h), at most a handful of labels
  const maxTicks = narrow ? 3 : 7;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = (steps.find((st) => span / (st * 1000) <= maxTicks) || 86400) * 1000;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const tx = x(t);
    root.appendChild(svg("line", { class: "tl-grid", x1: tx, x2: tx, y1: top - 4, y2: height - 4 }));
    if (tx < labelW + 20 || tx > width - 24) continue; // no label half off the picture
    const d = new Date(t);
    const label = step < 60000
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false })
      : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    root.appendChild(svg("text", { class: "tl-tick", x: tx, y: 12, "text-anchor": "middle" }, label));
  }
  root.appendChild(svg("line", { class: "tl-now", x1: x(now), x2: x(now), y1: top - 4, y2: height - 4 }));
  sessions.forEach((s, i) => {
    const y = top + i * rowH;
    const start = parseTime(s.started_at);
    const end = store.isRunning(s) ? now : parseTime(s.ended_at) || now;
    const kind = s.session_kind === "zhongshu" ? "zhongshu" : "department";
    const g = svg("g", { class: `tl-row tl-${kind} tl-${s.status}`, "data-id": s.id, "data-show-session": s.id });
    const label = s.session_kind === "zhongshu" ? `${s.id}` : `${s.department || ""} ${s.id.replace(`${s.department}-`, "#")}`;
    g.appendChild(svg("title", {}, `${s.title}\n${s.task || ""}\nstarted ${dateTime(s.started_at)}${s.ended_at ? `\nended ${dateTime(s.ended_at)}` : "\nrunning"}${s.reported_at ? `\nreported ${dateTime(s.reported_at)}` : ""}`));
    if (i % 2 === 0) g.appendChild(svg("rect", { class: "tl-stripe", x: 0, y, width, height: rowH }));
    g.appendChild(svg("text", { class: "tl-label", x: kind === "department" ? 14 : 4, y: y + rowH / 2 + 4, "data-full": label }, label));
    const bx = x(start);
    const bw = Math.max(3, x(end) - bx);
    g.appendChild(svg("rect", { class: "tl-bar", x: bx, y: y + 5, width: bw, height: rowH - 10, rx: 3 }));
    const reported = parseTime(s.reported_at);
    if (reported !== null) {
      const rx = x(reported);
      const cy = y + rowH / 2;
      g.appendChild(svg("path", Object.assign({ class: "tl-report", d: `M ${rx} ${cy - 6} L ${rx + 6} ${cy} L ${rx} ${cy + 6} L ${rx - 6} ${cy} Z` }, packetData(s))));
    }
    if (!store.isRunning(s) && parseTime(s.ended_at) !== null) {
      const ex = x(parseTime(s.ended_at));
      g.appendChild(svg("line", { class: "tl-exit", x1: ex, x2: ex, y1: y + 2, y2: y + rowH - 2 }));
    }
    root.appendChild(g);
  });
  replaceChildren(container, root);
  fitLabels(root, labelW - 10);
}

/** Cuts each row's label short (with "…") until it ends before `right`,
 *  where the bars and their markers begin; measured, since widths vary. */
function fitLabels(root, right) {
  for (const text of root.querySelectorAll(".tl-label")) {
    const full = text.getAttribute("data-full") || "";
    const room = right - Number(text.getAttribute("x"));
    let keep = full.length;
    while (keep > 1 && text.getComputedTextLength() > room) {
      keep -= 1;
      text.textContent = cutText(full, keep);
    }
  }
}

export function mount() {
  store.subscribe((changed) => {
    if (changed.has("status")) render();
  });
  $("#timeline").addEventListener("click", (event) => {
    if (event.target.closest("[data-open-handoff]")) return; // the drawer takes it
    const row = event.target.closest("[data-show-session]");
    if (row) document.dispatchEvent(new CustomEvent("codex-governance:show-session", { detail: row.dataset.showSession }));
  });
  // Drawn again when its width changes, and when its tab shows it: a
  // hidden timeline has no width to fit its labels to.
  let lastWidth = -1;
  new ResizeObserver(() => {
    const width = $("#timeline").clientWidth;
    if (width === lastWidth) return;
    lastWidth = width;
    render();
  }).observe($("#timeline"));
  // Once a second the "now" line moves while anything runs.
  setInterval(() => {
    if (store.sessions().some(store.isRunning)) render();
  }, 1000);
}
