// Live updates. The status is fetched whole once (and again after a reconnect
// or a gap); after that each `event: delta` of /api/events (read with fetch:
// EventSource cannot send a header) carries what changed, and the store
// applies it. The plan and inbox of the focused Zhongshu are fetched when the
// focus changes; deltas keep them current too.

import { $, setClass, setText } from "./dom.js";
import { api, authHeaders, showAuthProblem, toast } from "./api.js";
import { enc } from "./format.js";
import * as store from "./store.js";

let source = null; // the AbortController of the open stream
let lastEventId = "";
let retryDelay = 1000;
let retryTimer = null;
let fetching = null;
let fetchAgain = false;
const reportListeners = new Set();
const REPORT_EVENTS = new Set(["result_registered", "result_updated", "session_exited", "session_closed"]);

/** Called (debounced by the caller) when the governance report may have changed. */
export function onReportMayChange(fn) {
  reportListeners.add(fn);
}

/** Fetches the whole status (at start, after a reconnect or a missed delta). */
export async function refresh() {
  if (fetching) {
    fetchAgain = true;
    return fetching;
  }
  fetching = (async () => {
    try {
      store.setStatus(await api("/api/status"));
    } catch (e) {
      if (e.status !== 401) console.warn("refresh:", e.message);
    } finally {
      fetching = null;
      if (fetchAgain) {
        fetchAgain = false;
        refresh();
      }
    }
  })();
  return fetching;
}

/** The focused Zhongshu's plan and first inbox page. */
export async function loadFocus() {
  const { focus: id, planStamp } = store.get();
  if (!id) {
    store.setFocusData(id, null, null, planStamp);
    return;
  }
  const [inbox, plan] = await Promise.allSettled([
    api(`/api/zhongshu_inbox?id=${enc(id)}&peek=1`),
    api(`/api/zhongshu_plan?id=${enc(id)}`),
  ]);
  const value = (r) => (r.status === "fulfilled" ? r.value : { error: r.reason.message });
  store.setFocusData(id, value(plan), value(inbox), planStamp);
}

function setConn(state) {
  const conn = $("#conn");
  setText(conn, { live: "live", reconnecting: "reconnecting…", connecting: "connecting…" }[state]);
  setClass(conn, "conn", state);
  conn.title = state === "live"
    ? "connected to the launcher's event stream"
    : "the connection to the launcher was lost; reconnecting";
}

/** (Re)opens the event stream, resuming after the last event seen. */
export function connect() {
  if (retryTimer !== null) {
    clearTimeout(retryTimer);
    retryTimer = null;
  }
  if (source) source.abort();
  const abort = new AbortController();
  source = abort;
  readEvents(abort);
}

async function readEvents(abort) {
  const headers = authHeaders({ Accept: "text/event-stream" });
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  let response;
  try {
    response = await fetch("/api/events", { headers, credentials: "omit", cache: "no-store", signal: abort.signal });
  } catch (e) {
    streamEnded(abort, 0);
    return;
  }
  if (!response.ok || !response.body) {
    streamEnded(abort, response.status);
    return;
  }
  retryDelay = 1000;
  setConn("live");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = sseParser(onStreamEvent);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser(decoder.decode(value, { stream: true }));
    }
  } catch (e) {
    // aborted, or the connection dropped
  }
  streamEnded(abort, 0);
}

/** A server-sent events parser: feed it text, it calls emit(type, data). */
function sseParser(emit) {
  let pending = "";
  let type = "";
  let data = [];
  return (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop();
    for (let line of lines) {
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length) emit(type || "message", data.join("\n"));
        type = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) lastEventId = value;
    }
  };
}

function parse(data) {
  try {
    return JSON.parse(data) || {};
  } catch (e) {
    return {};
  }
}

function onStreamEvent(type, data) {
  setConn("live");
  if (type === "hello") {
    refresh(); // anything may have changed while we were away
    reportMayChange(0);
  } else if (type === "lagged" || type === "changed") {
    // "changed": a paired phone's stream says only that (no audit line, no delta).
    refresh();
  } else if (type === "delta") {
    if (!store.get().status) refresh();
    else store.applyDelta(parse(data));
  } else if (type === "message") {
    const event = parse(data);
    const name = event.event || "";
    announceMailboxProblem(name, event.data || event);
    if (name === "results_read") store.markFocusRead((event.data || {}).parent_session_id);
    if (REPORT_EVENTS.has(name)) reportMayChange(1000);
  }
}

let reportTimer = null;

function reportMayChange(delay) {
  if (reportTimer !== null) return;
  reportTimer = setTimeout(() => {
    reportTimer = null;
    for (const fn of reportListeners) fn();
  }, delay);
}

/** Reports the mailbox could not take are said, never dropped silently. */
function announceMailboxProblem(name, event) {
  if (name === "result_rejected") {
    toast(`A report in ${event.parent_session_id || "a"} mailbox was rejected (${event.file || "?"}): ${event.error || "no reason"}`, "error");
  } else if (name === "result_archive_failed") {
    toast(`A report in ${event.parent_session_id || "a"} mailbox could not be archived (${event.file || "?"}): ${event.error || ""}`, "error");
  } else if (name === "mailbox_unusable") {
    toast(`A mailbox cannot be read: ${event.reason || event.error || JSON.stringify(event)}`, "error");
  }
}

/** The stream ended or was refused: try again with a growing delay. */
function streamEnded(abort, status) {
  if (abort !== source || abort.signal.aborted) return; // replaced on purpose
  setConn("reconnecting");
  if (status === 401) showAuthProblem();
  if (retryTimer === null) {
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  }
}
