// The top of the page: project, activity counts, tokens and cost in all, the
// banners (audit chain, stuck mailbox), and the form that starts a Zhongshu.

import { $, el, replaceChildren, setText, withCode } from "./dom.js";
import { api, toast } from "./api.js";
import { costText, list, tokensText } from "./format.js";
import * as store from "./store.js";

let modelKey = "";

function renderStats(st) {
  const items = [
    // Planners done with their plan are not running work (views say which).
    [(st.planners_running || 0) === 1 ? "planner running" : "planners running", st.planners_running || 0],
    ["departments", `${st.active_department_sessions || 0}/${st.max_department_sessions}`],
    ["queued", st.queued_count || 0],
  ];
  // Suspended sessions run nothing until their agent program starts.
  if (st.suspended_sessions) items.push(["suspended", st.suspended_sessions]);
  // Each host departments may work on: its slots, and its state unless ready
  // (issue 53); why it is not ready (ssh's own words) on hover.
  for (const h of st.remotes || []) {
    items.push([`on ${h.name}${h.note ? ` (${h.note})` : ""}`, `${h.in_use}/${h.max_departments}`, h.note ? h.detail : undefined]);
  }
  replaceChildren($("#stats"), items.map(([k, v, why]) =>
    el("span", { class: "stat", attrs: { title: why } }, el("span", { class: "stat-value", text: v }), " ", el("span", { class: "stat-key", text: k }))));
  setText($("#slots-info"), `${st.active_department_sessions || 0} of ${st.max_department_sessions} department slots in use`);
  const all = st.sessions || [];
  const tokens = all.reduce((n, s) => n + ((s.token_usage && s.token_usage.total_tokens) || 0), 0);
  const priced = all.filter((s) => typeof s.cost_usd === "number");
  const cost = priced.length ? priced.reduce((n, s) => n + s.cost_usd, 0) : null;
  const node = $("#tokens-total");
  node.hidden = tokens === 0;
  setText(node, [tokensText(tokens), costText(cost)].filter(Boolean).join(" · "));
}

/** The account's usage limits: the 5-hour and weekly windows, used and when
 * they reset, a model's own limits, and which limit binds while one does. */
function renderQuota(q) {
  const node = $("#quota-meter");
  const windows = [["5h", q && q.primary], ["week", q && q.secondary]];
  for (const b of (q && q.buckets) || []) windows.push([`${b.name} 5h`, b.primary], [`${b.name} week`, b.secondary]);
  const shown = windows.filter(([, w]) => w);
  node.hidden = shown.length === 0 && !(q && q.limit);
  if (node.hidden) return;
  const part = ([name, w]) => {
    const used = Math.round(w.used_percent);
    const level = used >= 100 ? "limit" : used >= q.reserve_percent ? "reserve" : "ok";
    // The reset time is its own part: a phone shows the percentages only.
    const reset = w.resets_local ? el("span", { class: "quota-reset", text: ` · resets ${w.resets_local}` }) : null;
    return el("span", { class: `quota-window quota-${level}`, attrs: { "data-window": name, title: w.resets_local ? `${name} ${used}%, resets ${w.resets_local}` : undefined } },
      `${name} ${used}%`, reset);
  };
  const which = q.limit ? el("span", { class: "quota-which quota-limit", text: q.limit }) : null;
  replaceChildren(node, [...shown.map(part), which].filter(Boolean));
  const held = q.hold ? ` Held: ${q.hold.text}.` : "";
  node.title = `Usage limits of the account the agents run on (new departments wait at ${q.reserve_percent}% of the 5-hour window).${held}`;
  node.classList.toggle("quota-held", Boolean(q.hold));
}

function renderModels(st) {
  const choices = list(st.model_choices);
  const key = JSON.stringify([choices, st.zhongshu_model]);
  if (key === modelKey) return;
  modelKey = key;
  const select = $("#model");
  const previous = select.value;
  replaceChildren(select, choices.map((m) => el("option", { text: m, attrs: { value: m } })));
  select.value = choices.includes(previous) ? previous : (st.zhongshu_model || choices[0] || "");
}

function renderBrand() {
  const { status: st, needsYou } = store.get();
  if (!st) return;
  if (st.project_name) {
    setText($("#project-name"), `· ${st.project_name}`);
    const title = `${needsYou ? `(${needsYou}) ` : ""}codex-governance · ${st.project_name}`;
    if (document.title !== title) document.title = title;
  }
  if (st.repo) setText($("#repo-path"), st.repo);
}

function renderBanner(st) {
  const problem = st.audit_chain_problem;
  const stuck = st.mailbox_ingestion && st.mailbox_ingestion.state === "stuck";
  const lines = [];
  if (problem) lines.push(`The audit log's hash chain is broken (${problem}). New lines still chain from the last one; run codex-governance audit verify and keep a copy of the log.`);
  if (stuck) lines.push(`Mailbox ingestion is stuck (${JSON.stringify(st.mailbox_ingestion)}): reports are not being registered. See /healthz.`);
  const banner = $("#audit-banner");
  banner.textContent = lines.join(" ");
  banner.hidden = lines.length === 0;
  renderAgentsBanner(st.agents);
  renderConfigBanner(st);
}

// Setup problems that keep agents from starting (Start is off until they
// are fixed; *Check again* asks anew), and what agents can reach when that is
// more than Codex's sandbox without network allows; the demo says it is one.
function renderAgentsBanner(agents) {
  const banner = $("#agents-banner");
  if (!agents) return;
  const problems = list(agents.problems);
  const reach = agents.demo
    ? "Demo: scripted agents, no Codex. They change only this scratch repository's worktrees."
    : !agents.sandboxed || agents.network ? agents.reach : "";
  const key = JSON.stringify([problems, reach]);
  if (banner.dataset.key !== key) {
    banner.dataset.key = key;
    const check = problems.length
      ? el("button", { type: "button", class: "small check-agents", text: "Check again", title: "ask again, after installing Codex or logging in" })
      : null;
    if (check) check.addEventListener("click", () => checkAgents(check));
    replaceChildren(banner, ...problems.map((p) => el("p", { class: "banner-line agents-problem" }, withCode(p))), check,
      reach ? el("p", { class: `banner-line ${agents.demo ? "agents-demo" : "agents-reach"}`, text: reach }) : null);
  }
  banner.hidden = !problems.length && !reach;
  banner.classList.toggle("banner-demo", Boolean(agents.demo) && !problems.length);
  // Start is off while the server says why (agents cannot start, or the
  // configuration waits for trust).
  const off = agents.start_off || "";
  document.body.classList.toggle("agents-blocked", Boolean(off));
  const start = $("#start-zhongshu");
  start.disabled = Boolean(off);
  start.title = off;
  const msg = $("#start-msg");
  if (off) {
    msg.className = "form-msg error start-blocked";
    msg.textContent = off;
  } else if (msg.classList.contains("start-blocked")) {
    msg.className = "form-msg";
    msg.textContent = "";
  }
}

/** *Check again*: asks the backend anew (sessions waiting for it resume). */
export async function checkAgents(button) {
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    const res = await api("/api/check_agents", {});
    // A toast is plain text: the commands' backticks go (the note shows them as code).
    const still = list(res.problems).join(" ").replaceAll("`", "");
    toast(still ? `Still: ${still}` : "Agents can start now.", still ? "error" : "info");
  } catch (e) {
    toast(`Could not check: ${e.message}`, "error");
  } finally {
    button.disabled = false;
    button.textContent = "Check again";
  }
}

// The configuration: which governance.yaml is read when two exist (the
// root's wins), and what the loader warned about, each with its file and line.
function renderConfigBanner(st) {
  const banner = $("#config-banner");
  const warnings = list(st.config_warnings);
  const note = (st.config_file && st.config_file.note) || "";
  const changed = (st.config_file && st.config_file.changed) || null;
  const key = JSON.stringify([note, warnings, changed]);
  if (banner.dataset.key === key) return;
  banner.dataset.key = key;
  replaceChildren(banner,
    note ? el("p", { class: "banner-line config-note", text: note }) : null,
    changed ? el("p", { class: "banner-line config-changed", text: configChangeWords(changed) }) : null,
    changed && changed.problem ? el("p", { class: "banner-line config-changed-problem" }, "As it is now it would not load: ", el("code", { text: changed.problem })) : null,
    changed && list(changed.warnings).length ? el("ul", { class: "config-warnings config-changed-warnings" }, list(changed.warnings).map((w) => el("li", {}, el("code", { text: w })))) : null,
    warnings.length ? el("p", { class: "banner-line", text: `Configuration: ${warnings.length === 1 ? "1 warning" : `${warnings.length} warnings`}` }) : null,
    warnings.length ? el("ul", { class: "config-warnings" }, warnings.map((w) => el("li", {}, el("code", { text: w })))) : null);
  banner.hidden = !note && warnings.length === 0 && !changed;
}

/** "governance.yaml changed since the start: launcher.scope. It applies at the next start." */
function configChangeWords(changed) {
  const keys = list(changed.keys);
  const what = keys.length ? `: ${keys.join(", ")}` : "";
  return `${changed.file} changed since the launcher started${what}. The launcher keeps the configuration it started with: ${keys.length === 1 ? "this change applies" : "these changes apply"} ${changed.applies}.`;
}

async function startZhongshu(event) {
  event.preventDefault();
  const task = $("#task").value.trim();
  const msg = $("#start-msg");
  if (!task) {
    msg.className = "form-msg error";
    msg.textContent = "Describe the task first.";
    $("#task").focus();
    return;
  }
  const button = $("#start-zhongshu");
  if (button.disabled) return; // agents cannot start: the message says why
  button.disabled = true;
  msg.className = "form-msg";
  msg.textContent = "Starting…";
  try {
    const res = await api("/api/start_zhongshu_session", { task, model: $("#model").value || undefined });
    $("#task").value = "";
    const said = `Started ${res.session_id}. Its terminal is in Terminals; its plan and inbox are in "Plan & inbox".`;
    msg.textContent = said;
    store.setFocus(res.session_id, false);
    // News, not a state: it goes after a while, or once the next task is typed.
    setTimeout(() => {
      if (msg.textContent === said) msg.textContent = "";
    }, STARTED_SHOWN_MS);
  } catch (e) {
    msg.className = "form-msg error";
    msg.textContent = `Could not start: ${e.message}`;
  } finally {
    button.disabled = ["agents-blocked", "auth-blocked"].some((c) => document.body.classList.contains(c));
  }
}

/** How long "Started zhongshu-N…" stays under the form. */
const STARTED_SHOWN_MS = 15000;

export function mount() {
  $("#start-form").addEventListener("submit", startZhongshu);
  $("#task").addEventListener("input", () => {
    const msg = $("#start-msg");
    // What the last start said goes once a new task is typed; a reason Start is off stays.
    if (!msg.classList.contains("start-blocked") && !msg.classList.contains("error")) msg.textContent = "";
  });
  $("#task").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("#start-form").requestSubmit();
    }
  });
  store.subscribe((changed) => {
    const st = store.get().status;
    if (!st) return;
    if (changed.has("status")) {
      renderStats(st);
      renderQuota(st.quota);
      renderModels(st);
      renderBanner(st);
    }
    if (changed.has("status") || changed.has("needsYou")) renderBrand();
  });
}
