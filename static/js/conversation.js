// One view of what a session did, live or finished. For a backend that keeps a
// conversation (its capabilities say so): what the agent was told, what it
// said, the commands it ran with their output and exit codes, the files it
// changed with their diffs, its tool calls, and its approvals with their
// buttons while they wait; a box below sends it a turn. For a terminal agent:
// its whole transcript. The tile shows it; the changes drawer can show it as
// "What it did" (conversationView is the one export). Texts go in with
// textContent only; the server has cut every text on a character boundary.

import { el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import { enc } from "./format.js";
import { decisionButton } from "./approvals.js";

const DONE_WORDS = { completed: "", failed: "failed", declined: "declined", in_progress: "running" };

function statusBadge(e) {
  const word = DONE_WORDS[e.status] || e.status;
  return word ? el("span", { class: `conv-status conv-status-${e.status}`, text: word }) : null;
}

function userEntry(e) {
  // The launcher's notice: its parts a line each, the words it was sent one click away.
  if (e.plain) {
    // A turn of several lines (a send-back quoting code) as the agent got it.
    const lines = e.plain.text.includes("\n");
    return [el("div", { class: "conv-who", text: "the launcher told it" }),
      // Its lines scroll rather than wrap: reachable by the keyboard too.
      el(lines ? "pre" : "div", {
        class: `conv-text conv-plain conv-notice${lines ? " conv-turn" : ""}`,
        text: e.plain.text,
        attrs: lines ? { tabindex: "0", "aria-label": "the launcher's turn" } : {},
      }),
      raw("as sent", el("div", { class: "conv-text", text: e.text }))];
  }
  return [el("div", { class: "conv-who", text: "told" }), el("div", { class: "conv-text", text: e.text })];
}

function agentEntry(e) {
  return [el("div", { class: "conv-who", text: "said" }), el("div", { class: "conv-text", text: e.text })];
}

// The raw form of an entry the server put in words, one click away.
function raw(label, ...nodes) {
  return el("details", { class: "conv-raw" }, el("summary", { text: label }), ...nodes);
}

function commandEntry(e) {
  const code = typeof e.exit_code === "number"
    ? el("span", { class: `conv-exit ${e.exit_code === 0 ? "ok" : "bad"}`, text: `exit ${e.exit_code}` })
    : null;
  const shown = e.plain ? e.plain.text : e.command;
  return [
    el("div", { class: "conv-head" }, el("span", { class: "conv-who", text: "ran" }), el("code", { class: "conv-command", text: shown }), code, statusBadge(e)),
    shown !== e.command ? raw("as run", el("code", { class: "conv-command conv-raw-command", text: e.command })) : null,
    e.output ? el("pre", { class: "conv-output", text: e.output, attrs: { tabindex: "0", "aria-label": `output of ${e.command}` } }) : null,
    e.cut ? el("div", { class: "hint", text: "Only the end of the output is kept." }) : null,
  ];
}

function fileEntry(e) {
  const changes = e.changes || [];
  return [
    el("div", { class: "conv-head" }, el("span", { class: "conv-who", text: "changed" }),
      el("span", { text: `${changes.length} file${changes.length === 1 ? "" : "s"}` }), statusBadge(e)),
    ...changes.map((c, i) => el("div", { class: "conv-file" },
      el("div", { class: "conv-path", text: `${c.kind} ${e.plain && e.plain.paths[i] ? e.plain.paths[i] : `${c.path}${c.move_to ? ` → ${c.move_to}` : ""}`}` }),
      c.diff ? el("pre", { class: "conv-diff", text: c.diff, attrs: { tabindex: "0", "aria-label": `diff of ${c.path}` } }) : null,
      c.diff_cut ? el("div", { class: "hint", text: "The diff is cut here." }) : null)),
  ];
}

function toolEntry(e) {
  const details = [
    e.arguments ? el("pre", { class: "conv-output", text: e.arguments, attrs: { tabindex: "0", "aria-label": `arguments of ${e.tool}` } }) : null,
    e.result ? el("pre", { class: "conv-output conv-result", text: e.result, attrs: { tabindex: "0", "aria-label": `answer to ${e.tool}` } }) : null,
  ];
  if (e.plain) {
    return [
      el("div", { class: "conv-head" }, el("span", { class: "conv-text conv-plain", text: e.plain.text }), statusBadge(e)),
      raw(`${e.tool} call`, el("code", { text: e.tool }), ...details),
    ];
  }
  return [el("div", { class: "conv-head" }, el("span", { class: "conv-who", text: "called" }), el("code", { text: e.tool }), statusBadge(e)), ...details];
}

const DECIDED = { accept: "approved", accept_for_session: "approved for the session", decline: "declined", cancel: "cancelled" };

/** Where an approval was answered, by who the launcher says decided. */
const DECIDED_WHERE = {
  dashboard: "on this page",
  "phone (page)": "on your phone's page",
  "phone (ntfy)": "from your phone's notice",
  "phone (telegram)": "from your phone, in Telegram",
};

function decidedWhere(by) {
  return DECIDED_WHERE[by] || `in ${by}'s terminal`;
}

function approvalEntry(e, session) {
  const waiting = ((session && session.pending_approvals) || []).find((a) => a.request_id === e.request_id);
  const outcome = e.decision ? `${DECIDED[e.decision] || e.decision}${e.by ? ` (${decidedWhere(e.by)})` : ""}`
    : (e.status === "in_progress" ? "" : "answered elsewhere");
  return [
    el("div", { class: "conv-head" }, el("span", { class: "conv-who", text: "asks" }), el("span", { class: "conv-text", text: e.plain ? e.plain.text : e.summary })),
    e.plain && e.plain.text !== e.summary ? raw("as asked", el("code", { class: "conv-command conv-raw-command", text: e.summary })) : null,
    e.reason ? el("div", { class: "approval-reason", text: `Reason: ${e.reason}` }) : null,
    waiting && !e.decision
      ? el("div", { class: "approval-actions conv-actions" },
        decisionButton(waiting, "accept", "Approve"),
        decisionButton(waiting, "accept_for_session", "Approve for this session"),
        decisionButton(waiting, "decline", "Decline"))
      : (outcome ? el("div", { class: "conv-decision", text: outcome }) : null),
  ];
}

function otherEntry(e) {
  return [el("div", { class: "conv-who", text: e.name }), e.text ? el("div", { class: "conv-text", text: e.text }) : null];
}

function entryNode(e, session) {
  const parts = {
    user: userEntry, agent: agentEntry, command: commandEntry, file_change: fileEntry,
    tool_call: toolEntry, approval: (x) => approvalEntry(x, session), other: otherEntry,
    error: (x) => [el("div", { class: "conv-who", text: "error" }), el("div", { class: "conv-text", text: x.message })],
  }[e.type] || otherEntry;
  return el("div", { class: `conv-entry conv-${e.type}`, data: { id: e.id, status: e.status || "" } }, ...parts(e));
}

/**
 * A view of session `id`'s conversation. `update(session)` keeps it current
 * (it asks the server again only when the conversation moved); `input` adds
 * the box that sends a turn while the session runs.
 */
export function conversationView(id, { input = true, label = "conversation" } = {}) {
  const log = el("div", { class: "conv-log", attrs: { tabindex: "0", role: "log", "aria-label": `${label} of ${id}` } });
  const note = el("p", { class: "conv-note hint", hidden: true });
  const text = el("input", { class: "conv-input", type: "text", attrs: { placeholder: "Send a turn to the agent, then Enter", "aria-label": `message to ${id}` } });
  const form = el("form", { class: "conv-form", hidden: true }, text, el("button", { type: "submit", class: "small primary", text: "Send" }));
  const root = el("div", { class: "conversation", data: { session: id } }, note, log, input ? form : null);
  let shown = null; // what the last fetch was for
  let session = null;
  let fetching = false;
  let again = false;
  let last = null;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value;
    if (!value.trim()) return;
    try {
      await api("/api/session_input", { session_id: id, input: value });
      text.value = "";
    } catch (e) {
      toast(`Could not send to ${id}: ${e.message}`, "error");
    }
  });

  function render(answer) {
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (answer.kind === "transcript") {
      replaceChildren(log, el("pre", { class: "conv-transcript", text: answer.text || "(no output)" }));
    } else {
      const entries = answer.entries || [];
      replaceChildren(log, entries.length ? entries.map((e) => entryNode(e, session)) : el("p", { class: "hint", text: "Nothing yet." }));
    }
    note.hidden = !answer.truncated;
    note.textContent = answer.truncated ? "Only the newest part is shown." : "";
    root.dataset.live = answer.live ? "1" : "0";
    root.dataset.kind = answer.kind || "";
    if (atEnd || !last) log.scrollTop = log.scrollHeight;
    last = answer;
  }

  async function load() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      render(await api(`/api/session_conversation?id=${enc(id)}`));
      root.dataset.loaded = "1";
    } catch (e) {
      if (e.status !== 401) replaceChildren(log, el("p", { class: "hint", text: `The conversation cannot be read: ${e.message}` }));
    } finally {
      fetching = false;
      if (again) {
        again = false;
        load();
      }
    }
  }

  function update(s) {
    session = s;
    const running = s.status === "running";
    form.hidden = !running;
    const key = `${s.conversation_rev ?? ""}|${s.status}|${s.updated_at || ""}|${JSON.stringify((s.pending_approvals || []).map((a) => a.request_id))}`;
    if (key === shown) return;
    shown = key;
    load();
  }

  return { root, update, reload: load };
}
