// The governance report (worktree, staged, or against a base ref): changed
// files by department with their diffs, risks, checks to run, preflight. It is
// reloaded when a result arrives or a session ends.

import { $, $$, breakable, copyButton, diffButton, el, replaceChildren } from "./dom.js";
import { api } from "./api.js";
import { enc, list } from "./format.js";
import { onReportMayChange } from "./live.js";
import * as store from "./store.js";

let mode = "worktree";
let reportSeq = 0;

function selectTab(next) {
  mode = next;
  for (const tab of $$(".report-tab")) {
    const on = tab.dataset.mode === next;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on ? "true" : "false");
  }
  $("#report-base-form").hidden = next !== "base";
  if (next === "base") $("#report-base").focus();
  load();
}

export async function load() {
  const seq = ++reportSeq;
  let url = `/api/report?mode=${enc(mode)}`;
  if (mode === "base") {
    const base = $("#report-base").value.trim();
    if (!base) {
      showError("Enter a base ref (a branch, tag or commit) to compare against.");
      return;
    }
    url += `&base=${enc(base)}`;
  }
  $("#report").classList.add("loading");
  try {
    const report = await api(url);
    if (seq !== reportSeq) return;
    $("#report-error").hidden = true;
    renderReport(report);
  } catch (e) {
    if (seq !== reportSeq) return;
    showError(`Cannot build the ${mode} report: ${e.message}`);
  } finally {
    if (seq === reportSeq) $("#report").classList.remove("loading");
  }
}

function showError(text) {
  const node = $("#report-error");
  node.textContent = text;
  node.hidden = false;
  const report = $("#report");
  report.dataset.mode = "";
  replaceChildren(report);
}

function renderReport(rep) {
  const container = $("#report");
  container.dataset.mode = rep.mode;
  container.dataset.base = rep.base || "";
  const scan = (rep.preflight && rep.preflight.checks && rep.preflight.checks.portability_reference_scan) || null;
  const headline = el("div", { class: "report-headline" },
    el("span", { class: "report-title", text: rep.title || "Governance report" }),
    el("span", { class: "badge", text: rep.mode === "base" ? `against ${rep.base}` : rep.mode }),
    el("span", { class: "stat" }, el("span", { class: "stat-value", text: rep.changed_count }), ` changed file${rep.changed_count === 1 ? "" : "s"}`),
    scan ? el("span", { class: `badge decision-${scan.decision}`, text: `preflight ${scan.decision}` }) : null);

  const departments = list(rep.departments);
  const deptBlock = el("div", { class: "report-block report-departments" },
    el("h3", { class: "sub" }, "Departments ", el("span", { class: "subtitle", text: "Shangshu 尚书省" })),
    departments.length
      ? el("div", { class: "dept-cards" }, departments.map((d) =>
        el("div", { class: "dept-card", data: { key: d.key } },
          el("div", { class: "row-head" },
            el("span", { class: "row-name" }, breakable(store.deptTitle(d.key) || `${d.key} ${d.title}`)),
            el("span", { class: "badge", text: `${list(d.files).length} file${list(d.files).length === 1 ? "" : "s"}` })),
          el("div", { class: "row-note", text: d.duty }),
          el("ul", { class: "file-list" }, list(d.files).map((f) => el("li", {}, el("code", { text: f }), " ", diffButton(f, rep.base)))),
          list(d.verify).length
            ? el("div", { class: "verify-list" }, list(d.verify).map((c) =>
              el("div", { class: "command" }, el("code", { text: c }), copyButton(c, "copy this command"))))
            : null)))
      : el("p", { class: "empty-note", text: "No changed file belongs to a department." }));

  const risks = list(rep.risks);
  const riskBlock = el("div", { class: "report-block report-risks" },
    el("h3", { class: "sub" }, "Risks ", el("span", { class: "subtitle", text: "Menxia 门下省" })),
    risks.length
      ? el("ul", { class: "risk-list" }, risks.map((r) =>
        el("li", { class: `risk risk-${r.level}` },
          el("span", { class: `badge level-${r.level}`, text: r.level }),
          el("span", { class: "risk-name", text: r.name }),
          el("code", { class: "path", text: r.path }),
          el("span", { class: "risk-message", text: r.message }))))
      : el("p", { class: "empty-note", text: "No risk rule fired." }));

  const commands = list(rep.verify_commands);
  const verifyBlock = el("div", { class: "report-block report-verify" },
    el("h3", { class: "sub", text: "Checks to run" }),
    commands.length
      ? el("div", { class: "verify-list" }, commands.map((c) =>
        el("div", { class: "command verify-command" }, el("code", { text: c }), copyButton(c, "copy this command"))))
      : el("p", { class: "empty-note", text: "No checks suggested." }));

  const finding = (f) => el("li", { class: `finding finding-${f.classification}` },
    el("code", { class: "path", text: `${f.path}:${f.line}:${f.column}` }),
    el("span", { class: "badge", text: f.pattern }),
    el("code", { class: "excerpt", text: f.excerpt }));
  const preflightBlock = el("div", { class: "report-block report-preflight" },
    el("h3", { class: "sub", text: "Machine-specific paths in docs", title: "preflight: the portability reference scan" }),
    scan
      ? el("div", {},
        el("div", { class: "row-meta" },
          el("span", { class: `badge decision-${scan.decision}`, text: scan.decision }),
          el("span", { text: `${list(scan.scanned_files).length} file${list(scan.scanned_files).length === 1 ? "" : "s"} scanned` }),
          el("span", { class: "row-note", text: "in the docs preflight.portability_paths names", title: scan.scope || "" })),
        el("div", { class: "kv" }, el("span", { class: "kv-key", text: `Violations (${list(scan.violations).length})` }),
          list(scan.violations).length
            ? el("ul", { class: "finding-list violations" }, list(scan.violations).map(finding))
            : el("span", { class: "kv-value none", text: "none" })),
        el("div", { class: "kv" }, el("span", { class: "kv-key", text: `Examples, allowed (${list(scan.exceptions).length})` }),
          list(scan.exceptions).length
            ? el("ul", { class: "finding-list exceptions" }, list(scan.exceptions).map(finding))
            : el("span", { class: "kv-value none", text: "none" })))
      : el("p", { class: "empty-note", text: "No preflight in this report." }));

  const uncategorized = list(rep.uncategorized);
  const uncBlock = el("div", { class: "report-block report-uncategorized" },
    el("h3", { class: "sub", text: "Uncategorized files" }),
    uncategorized.length
      ? el("ul", { class: "file-list" }, uncategorized.map((f) => el("li", {}, el("code", { text: f }))))
      : el("p", { class: "empty-note", text: "Every changed file belongs to a department." }));

  replaceChildren(container, headline,
    el("div", { class: "report-grid" }, deptBlock, el("div", { class: "report-side" }, riskBlock, verifyBlock, preflightBlock, uncBlock)));
}

export function mount() {
  for (const tab of $$(".report-tab")) tab.addEventListener("click", () => selectTab(tab.dataset.mode));
  $("#report-base-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#report-refresh").addEventListener("click", () => load());
  onReportMayChange(load);
}
