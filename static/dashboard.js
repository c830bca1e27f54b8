// The dashboard: plain DOM, no framework, no build step.
//
// Data comes from the launcher's JSON API. The URL the launcher prints carries
// the token in its fragment (/#token=…), which browsers never send: the page
// moves it to sessionStorage (this tab and origin only), clears the address bar
// and sends it as `Authorization: Bearer` on every call. No cookie is used
// (browsers share cookies across ports). Live updates come from the
// /api/events server-sent events, read with fetch (EventSource cannot send a
// header), each of which schedules one debounced refresh.
// No user or agent text is ever parsed as HTML: everything is built with
// createElement / textContent (the one exception, a handoff packet in the
// drawer, arrives as HTML the server rendered with all raw HTML escaped).
"use strict";

(() => {
  // ---------------------------------------------------------------- helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const SVG_NS = "http://www.w3.org/2000/svg";

  /** el("div", {class, text, title, data: {...}, attrs: {...}, on: {...}}, ...children) */
  function el(tag, opts = {}, ...children) {
    const node = document.createElement(tag);
    applyOpts(node, opts);
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function applyOpts(node, opts) {
    if (opts.class) node.className = opts.class;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.title) node.title = opts.title;
    if (opts.type) node.type = opts.type;
    if (opts.hidden) node.hidden = true;
    for (const [k, v] of Object.entries(opts.data || {})) node.dataset[k] = String(v);
    for (const [k, v] of Object.entries(opts.attrs || {})) {
      if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const [k, v] of Object.entries(opts.on || {})) node.addEventListener(k, v);
  }

  /** Replaces a node's children with `nodes`. */
  function replaceChildren(parent, ...nodes) {
    parent.replaceChildren(...nodes.flat().filter(Boolean));
  }

  /** Puts exactly `nodes` into `parent` in order, moving only what is out of place. */
  function syncChildren(parent, nodes) {
    nodes.forEach((node, i) => {
      if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    });
    while (parent.children.length > nodes.length) parent.lastElementChild.remove();
  }

  function setText(node, text) {
    const value = text === null || text === undefined ? "" : String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  function setClass(node, base, modifier) {
    const value = modifier ? `${base} ${modifier}` : base;
    if (node.className !== value) node.className = value;
  }

  const enc = encodeURIComponent;

  function parseTime(text) {
    if (!text) return null;
    const t = Date.parse(text);
    return Number.isNaN(t) ? null : t;
  }

  function clock(text) {
    const t = parseTime(text);
    if (t === null) return "";
    return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function dateTime(text) {
    const t = parseTime(text);
    if (t === null) return text || "";
    const d = new Date(t);
    return `${d.toLocaleDateString()} ${clock(text)}`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  }

  function list(items) {
    return Array.isArray(items) ? items.filter((x) => x !== null && x !== undefined && x !== "") : [];
  }

  // ---------------------------------------------------------------- state

  const S = {
    status: null,
    fetchedAt: 0,
    focus: null, // the Zhongshu session whose plan and inbox are shown
    focusPinned: false, // the user picked it (else: follow the newest)
    inbox: null,
    plan: null,
    reportMode: "worktree",
    reportBase: "HEAD",
    authProblem: false,
    needsYou: 0, // items in "Needs you" (needs_you.js), shown in the tab title
  };

  const deptTitle = (key) => {
    if (!key) return "";
    if (key === "menxia") return "menxia 门下省";
    const d = ((S.status && S.status.department_list) || []).find((x) => x.key === key);
    return d && d.title ? `${key} ${d.title}` : key;
  };

  const isRunning = (s) => s && s.status === "running";

  /** A terminal URL as the launcher makes them (loopback http), else null. */
  function terminalUrl(s) {
    const url = s && s.browser_terminal_url;
    if (typeof url !== "string") return null;
    return /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(url) ? url : null;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  // ---------------------------------------------------------------- the token

  const TOKEN_KEY = "codex_governance_token";
  let memoryToken = ""; // when sessionStorage is not available

  /** Moves a `#token=…` fragment into sessionStorage; true if there was one. */
  function adoptFragmentToken() {
    const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (!match) return false;
    history.replaceState(null, "", location.pathname + location.search);
    let token = "";
    try {
      token = decodeURIComponent(match[1]);
    } catch (e) {
      token = "";
    }
    if (!token) return false;
    memoryToken = token;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch (e) {
      // memoryToken serves this page's life
    }
    return true;
  }

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch (e) {
      return memoryToken;
    }
  }

  function authHeaders(extra) {
    return Object.assign({ Authorization: `Bearer ${token()}` }, extra);
  }

  async function api(path, body) {
    const opts = { credentials: "omit", headers: authHeaders({ Accept: "application/json" }), cache: "no-store" };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, opts);
    } catch (e) {
      throw new ApiError("the launcher is not reachable", 0);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (response.status === 401) {
      showAuthProblem();
    } else if (response.ok && S.authProblem) {
      hideAuthProblem();
    }
    if (!response.ok || !data || data.ok === false) {
      throw new ApiError((data && data.error) || `HTTP ${response.status}`, response.status);
    }
    return data;
  }

  function showAuthProblem() {
    S.authProblem = true;
    const banner = $("#auth-banner");
    banner.textContent = token()
      ? "The launcher does not accept this page's token (it may have restarted with a new one). Open the URL it printed (…/#token=…) again; `codex-governance url` prints it."
      : "This page has no token. Open the URL the launcher printed (…/#token=…); `codex-governance url`, run in the repository, prints it again.";
    banner.hidden = false;
  }

  function hideAuthProblem() {
    S.authProblem = false;
    $("#auth-banner").hidden = true;
  }

  function toast(message, kind = "info") {
    const node = el("div", { class: `toast toast-${kind}`, text: message, attrs: { role: kind === "error" ? "alert" : "status" } });
    $("#toasts").appendChild(node);
    setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
  }

  // ---------------------------------------------------------------- refresh

  let refreshTimer = null;
  let refreshing = false;
  let refreshAgain = false;

  function scheduleRefresh(delay = 100) {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, delay);
  }

  async function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      const status = await api("/api/status");
      S.status = status;
      S.fetchedAt = Date.now();
      pickFocus();
      renderStatus();
      document.dispatchEvent(new CustomEvent("codex-governance:status", { detail: status }));
      await refreshFocus();
    } catch (e) {
      if (e.status !== 401) console.warn("refresh:", e.message);
    } finally {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        scheduleRefresh(0);
      }
    }
  }

  async function refreshFocus() {
    const id = S.focus;
    if (!id) {
      S.inbox = null;
      S.plan = null;
      renderFocus();
      return;
    }
    const [inbox, plan] = await Promise.allSettled([
      api(`/api/zhongshu_inbox?id=${enc(id)}&peek=1`),
      api(`/api/zhongshu_plan?id=${enc(id)}`),
    ]);
    if (id !== S.focus) return; // the user switched meanwhile
    S.inbox = inbox.status === "fulfilled" ? inbox.value : { error: inbox.reason.message };
    S.plan = plan.status === "fulfilled" ? plan.value : { error: plan.reason.message };
    renderFocus();
  }

  function pickFocus() {
    const zs = S.status.zhongshu_sessions || [];
    const known = zs.some((z) => z.id === S.focus);
    if (!known) S.focusPinned = false;
    if (!S.focusPinned) S.focus = zs.length ? zs[0].id : null;
  }

  function setFocus(id) {
    if (!id || id === S.focus) return;
    S.focus = id;
    S.focusPinned = true;
    renderFocusSelect();
    refreshFocus();
  }

  // ---------------------------------------------------------------- live events

  let source = null; // the AbortController of the open stream
  let lastEventId = "";
  let retryDelay = 1000;
  let retryTimer = null;
  let reportTimer = null;
  const REPORT_EVENTS = new Set(["result_registered", "result_updated", "session_exited", "session_closed"]);

  function setConn(state) {
    const conn = $("#conn");
    const text = { live: "live", reconnecting: "reconnecting…", connecting: "connecting…" }[state];
    setText(conn, text);
    setClass(conn, "conn", state);
    conn.title = state === "live"
      ? "connected to the launcher's event stream"
      : "the connection to the launcher was lost; reconnecting";
  }

  /** (Re)opens the event stream, resuming after the last event seen. */
  function connect() {
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

  function onStreamEvent(type, data) {
    setConn("live");
    if (type === "hello") {
      scheduleRefresh(0); // anything may have changed while we were away
      scheduleReport(0);
    } else if (type === "lagged") {
      scheduleRefresh();
    } else if (type === "message") {
      let event = {};
      try {
        event = JSON.parse(data) || {};
      } catch (e) {
        event = {};
      }
      const name = event.event || "";
      announceMailboxProblem(name, event);
      scheduleRefresh();
      if (REPORT_EVENTS.has(name)) scheduleReport(1000);
    }
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
    scheduleRefresh(0);
  }

  // ---------------------------------------------------------------- top bar

  function renderStats() {
    const st = S.status;
    const stats = $("#stats");
    const zRunning = st.active_zhongshu_sessions || 0;
    const items = [
      ["Zhongshu running", zRunning],
      ["departments", `${st.active_department_sessions || 0}/${st.max_department_sessions}`],
      ["queued", st.queued_count || 0],
    ];
    replaceChildren(stats, items.map(([k, v]) =>
      el("span", { class: "stat" }, el("span", { class: "stat-value", text: v }), " ", el("span", { class: "stat-key", text: k }))));
    setText($("#slots-info"), `${st.active_department_sessions || 0} of ${st.max_department_sessions} department slots in use`);
    const total = (st.sessions || []).reduce((n, s) => n + ((s.token_usage && s.token_usage.total_tokens) || 0), 0);
    const tokens = $("#tokens-total");
    tokens.hidden = total === 0;
    setText(tokens, tokensText({ total_tokens: total }));
  }

  // ---------------------------------------------------------------- start form

  let modelKey = "";

  function renderModels() {
    const st = S.status;
    const choices = list(st.model_choices);
    const key = JSON.stringify([choices, st.zhongshu_model]);
    if (key === modelKey) return;
    modelKey = key;
    const select = $("#model");
    const previous = select.value;
    replaceChildren(select, choices.map((m) => el("option", { text: m, attrs: { value: m } })));
    select.value = choices.includes(previous) ? previous : (st.zhongshu_model || choices[0] || "");
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
    button.disabled = true;
    msg.className = "form-msg";
    msg.textContent = "Starting…";
    try {
      const res = await api("/api/start_zhongshu_session", { task, model: $("#model").value || undefined });
      $("#task").value = "";
      msg.textContent = `Started ${res.session_id}. Its terminal is in the grid; its plan and inbox are on the right.`;
      S.focus = res.session_id;
      S.focusPinned = false;
      scheduleRefresh(0);
    } catch (e) {
      msg.className = "form-msg error";
      msg.textContent = `Could not start: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- heartbeat

  function idleNow(s) {
    if (s.idle_seconds === null || s.idle_seconds === undefined) return null;
    const extra = isRunning(s) ? (Date.now() - S.fetchedAt) / 1000 : 0;
    return s.idle_seconds + extra;
  }

  function heartbeatText(s) {
    const hb = s.heartbeat_status || "unknown";
    const idle = idleNow(s);
    if (hb === "exited") return s.ended_at ? `ended ${clock(s.ended_at)}` : "ended";
    if (idle === null) return s.last_activity_at ? `last output ${clock(s.last_activity_at)}` : "waiting for its first output";
    return `${hb === "unknown" ? "output" : hb} · idle ${duration(idle)}`;
  }

  /** One state word and colour (server-derived): working, needs you, reported, failed: exit N… */
  function showState(node, s) {
    setText(node, s.state_text || s.status);
    setClass(node, "badge", `state-${s.state || s.status}`);
    node.title = s.state_reason || "";
  }

  /** `12.3k tokens` for a session's conversation, "" before any. */
  function tokensText(usage) {
    const n = usage && usage.total_tokens;
    if (!n) return "";
    return n >= 1000 ? `${(n / 1000).toFixed(n >= 100000 ? 0 : 1)}k tokens` : `${n} tokens`;
  }

  function updateHeartbeat(node, s) {
    setText(node, heartbeatText(s));
    setClass(node, "hb", `hb-${s.heartbeat_status || "unknown"}`);
    node.title = s.last_activity_at ? `last output ${dateTime(s.last_activity_at)}` : "no output yet";
  }

  // ---------------------------------------------------------------- terminal grid

  const tiles = new Map(); // session id -> tile element parts
  const emptySlots = [];

  function slotSessions(st) {
    const zs = st.zhongshu_sessions || [];
    const ds = st.department_sessions || [];
    const order = [];
    const placed = new Set();
    // Zhongshu sessions with live work first (newest first), then the rest.
    const live = (z) => isRunning(z) || ds.some((d) => d.parent_session_id === z.id && isRunning(d));
    const groupsInOrder = [...zs.filter(live), ...zs.filter((z) => !live(z))];
    for (const z of groupsInOrder) {
      order.push(z);
      placed.add(z.id);
      // departments in start order (the API lists newest first)
      for (const d of ds.slice().reverse()) {
        if (d.parent_session_id === z.id) {
          order.push(d);
          placed.add(d.id);
        }
      }
    }
    for (const d of ds) if (!placed.has(d.id)) order.push(d);
    // Four slots: running sessions win over finished ones, order is kept.
    const chosen = new Set(order.filter(isRunning).slice(0, 4).map((s) => s.id));
    for (const s of order) {
      if (chosen.size >= 4) break;
      chosen.add(s.id);
    }
    return order.filter((s) => chosen.has(s.id));
  }

  function buildTile(id) {
    const t = {};
    t.title = el("span", { class: "slot-title" });
    t.status = el("span", { class: "badge" });
    t.hb = el("span", { class: "hb" });
    t.open = el("a", { class: "slot-open", text: "open ↗", attrs: { target: "_blank", rel: "noopener noreferrer" }, title: "open this terminal in its own tab" });
    t.bar = el("div", { class: "slot-bar" }, t.title, el("span", { class: "slot-meta" }, t.status, t.hb, t.open));
    t.body = el("div", { class: "slot-body" });
    t.frame = null;
    t.preview = null;
    t.root = el("div", { class: "slot", data: { session: id } }, t.bar, t.body);
    return t;
  }

  function updateTile(t, s) {
    setText(t.title, s.title || s.id);
    t.title.title = s.task ? `${s.title} — ${s.task}` : s.title;
    showState(t.status, s);
    updateHeartbeat(t.hb, s);
    t.root.dataset.status = s.status;
    t.root.dataset.state = s.state || "";
    t.root.dataset.kind = s.session_kind;
    const url = terminalUrl(s);
    if (url) {
      t.open.href = url;
      t.open.hidden = false;
      if (!t.frame) {
        t.frame = el("iframe", {
          class: "slot-frame",
          title: `terminal of ${s.id}`,
          attrs: { referrerpolicy: "no-referrer", sandbox: "allow-scripts allow-same-origin", allow: "clipboard-write" },
        });
        if (t.preview) {
          t.preview.remove();
          t.preview = null;
        }
        t.body.appendChild(t.frame);
      }
      if (t.frame.getAttribute("src") !== url) t.frame.setAttribute("src", url);
    } else {
      t.open.hidden = true;
      t.open.removeAttribute("href");
      if (t.frame) {
        t.frame.remove();
        t.frame = null;
      }
      if (!t.preview) {
        t.preview = el("div", { class: "slot-closed" },
          el("p", { class: "slot-note", text: "The terminal is closed. Last output:" }),
          el("pre", { class: "slot-preview" }));
        t.body.appendChild(t.preview);
      }
      const pre = $(".slot-preview", t.preview);
      const before = pre.textContent;
      setText(pre, s.transcript_preview || "(no output)");
      if (pre.textContent !== before) pre.scrollTop = pre.scrollHeight; // show the end
    }
  }

  function emptySlot(i) {
    if (!emptySlots[i]) {
      emptySlots[i] = el("div", { class: "slot empty" },
        el("div", { class: "slot-empty" },
          el("p", { class: "slot-empty-title", text: "Empty slot" }),
          el("p", { class: "slot-empty-text", text: "A session's live terminal appears here when it starts." })));
    }
    return emptySlots[i];
  }

  function renderGrid() {
    const chosen = slotSessions(S.status);
    const nodes = [];
    const keep = new Set();
    chosen.forEach((s) => {
      let t = tiles.get(s.id);
      if (!t) {
        t = buildTile(s.id);
        tiles.set(s.id, t);
      }
      updateTile(t, s);
      keep.add(s.id);
      nodes.push(t.root);
    });
    for (const [id, t] of tiles) {
      if (!keep.has(id)) {
        t.root.remove();
        tiles.delete(id);
      }
    }
    for (let i = nodes.length; i < 4; i++) nodes.push(emptySlot(i));
    // Tiles never move in the DOM once placed (moving an iframe reloads it):
    // new ones are appended and the visual order comes from `order`.
    const grid = $("#grid");
    for (const child of Array.from(grid.children)) {
      if (!nodes.includes(child)) child.remove();
    }
    nodes.forEach((node, i) => {
      if (node.parentNode !== grid) grid.appendChild(node);
      node.style.order = String(i);
      node.dataset.slot = String(i);
    });
  }

  // ---------------------------------------------------------------- sessions

  const rows = new Map(); // session id -> row parts
  const groups = new Map(); // zhongshu id -> group parts

  function armedButton(button, label, armedLabel, action) {
    let armed = null;
    button.addEventListener("click", () => {
      if (armed === null) {
        button.textContent = armedLabel;
        button.classList.add("armed");
        armed = setTimeout(() => {
          armed = null;
          button.textContent = label;
          button.classList.remove("armed");
        }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      button.textContent = label;
      button.classList.remove("armed");
      action();
    });
  }

  function buildRow(id, kind) {
    const r = { id, kind };
    r.name = el("span", { class: "row-name" });
    r.status = el("span", { class: "badge" });
    r.report = el("span", { class: "badge report", hidden: true });
    r.plan = el("span", { class: "badge plan" });
    r.unread = el("span", { class: "badge unread" });
    r.hb = el("span", { class: "hb" });
    r.model = el("span", { class: "row-model" });
    r.started = el("span", { class: "row-time" });
    r.task = el("div", { class: "row-task" });
    r.error = el("div", { class: "row-error" });

    r.btnContinue = el("button", { type: "button", class: "small act-continue", text: "Continue", title: "type a message into this session" });
    r.btnClose = el("button", { type: "button", class: "small act-close", text: "Close", title: "stop this session" });
    r.open = el("a", { class: "act-open small-link", text: "terminal ↗", attrs: { target: "_blank", rel: "noopener noreferrer" } });
    const actions = [r.btnContinue];
    if (kind === "zhongshu") {
      r.btnResume = el("button", { type: "button", class: "small act-resume", text: "Resume", title: "resume: type a resume prompt, or start a new Zhongshu session with the old plan and results" });
      r.btnFocus = el("button", { type: "button", class: "small act-focus", text: "Plan & inbox", title: "show this session's plan and inbox" });
      actions.push(r.btnResume, r.btnFocus);
      r.btnFocus.addEventListener("click", () => {
        setFocus(id);
        $("#focus-panel").scrollIntoView({ behavior: "smooth", block: "start" });
      });
    }
    actions.push(r.btnClose, r.open);

    // continue: type into the session
    r.input = el("input", { class: "continue-input", type: "text", attrs: { placeholder: "Message to type into the session, then Enter", "aria-label": `message to ${id}` } });
    r.continueForm = el("form", { class: "row-form continue-form", attrs: { hidden: true } },
      r.input, el("button", { type: "submit", class: "small primary", text: "Send" }));
    r.continueForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = r.input.value;
      if (!input.trim()) return;
      try {
        await api("/api/session_input", { session_id: id, input });
        r.input.value = "";
        r.continueForm.hidden = true;
        toast(`Sent to ${id}.`);
      } catch (e) {
        toast(`Could not send to ${id}: ${e.message}`, "error");
      }
    });
    r.btnContinue.addEventListener("click", () => {
      r.continueForm.hidden = !r.continueForm.hidden;
      if (r.resumeForm) r.resumeForm.hidden = true;
      if (!r.continueForm.hidden) r.input.focus();
    });

    if (kind === "zhongshu") {
      r.resumeModel = el("select", { class: "resume-model", attrs: { "aria-label": "model for the resumed session" } });
      r.resumeForm = el("form", { class: "row-form resume-form", attrs: { hidden: true } },
        el("span", { class: "label", text: "Resume with model" }), r.resumeModel,
        el("button", { type: "submit", class: "small primary", text: "Resume" }));
      r.resumeForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const res = await api("/api/restart_zhongshu_session", { session_id: id, model: r.resumeModel.value || undefined });
          r.resumeForm.hidden = true;
          const newId = res.session_id || (res.session && res.session.id);
          if (res.resumed_inline) {
            toast(`Typed a resume prompt into ${id}.`);
          } else {
            toast(`Resumed ${id} as ${newId || "a new session"}.`);
            if (newId) {
              S.focus = newId;
              S.focusPinned = false;
            }
          }
          scheduleRefresh(0);
        } catch (e) {
          toast(`Could not resume ${id}: ${e.message}`, "error");
        }
      });
      r.btnResume.addEventListener("click", () => {
        r.resumeForm.hidden = !r.resumeForm.hidden;
        r.continueForm.hidden = true;
      });
    }

    armedButton(r.btnClose, "Close", "Really close?", async () => {
      try {
        await api("/api/close_session", { session_id: id });
        toast(`Closed ${id}.`);
      } catch (e) {
        toast(`Could not close ${id}: ${e.message}`, "error");
      }
    });

    r.root = el("div", { class: `session-row kind-${kind}`, data: { id, kind } },
      el("div", { class: "row-head" },
        r.name,
        el("span", { class: "row-badges" }, r.status, r.report, r.plan, r.unread)),
      el("div", { class: "row-meta" }, r.hb, r.model, r.started),
      r.task,
      r.error,
      el("div", { class: "row-actions" }, actions),
      r.continueForm,
      r.resumeForm || null);
    return r;
  }

  function updateRow(r, s) {
    setText(r.name, s.session_kind === "department" ? `${deptTitle(s.department)} · ${s.id}` : `Zhongshu 中书省 · ${s.id}`);
    showState(r.status, s);
    r.root.dataset.status = s.status;
    r.root.dataset.state = s.state || "";
    updateHeartbeat(r.hb, s);
    setText(r.model, [s.model, tokensText(s.token_usage)].filter(Boolean).join(" · "));
    setText(r.started, `started ${clock(s.started_at)}${s.ended_at ? ` · ended ${clock(s.ended_at)}` : ""}`);
    r.started.title = `started ${dateTime(s.started_at)}${s.ended_at ? `, ended ${dateTime(s.ended_at)} (${s.ended_reason || "exited"})` : ""}`;
    setText(r.task, s.task);
    r.task.title = s.task || "";
    if (s.session_kind === "department") {
      const rs = s.report_status || "pending";
      // "report pending" only while it can still report; the state says the rest.
      r.report.hidden = !(rs === "reported" || isRunning(s));
      setText(r.report, rs === "reported" ? `reported ${clock(s.reported_at)}` : "report pending");
      setClass(r.report, "badge report", `report-${rs}`);
      r.root.dataset.report = rs;
      r.plan.hidden = true;
      r.unread.hidden = true;
      const why = s.state_reason || "";
      setText(r.error, why);
      r.error.hidden = !why;
      r.error.className = s.state === "failed" ? "row-error" : "row-note";
    } else {
      r.report.hidden = true;
      const ps = s.plan_status || "none";
      r.plan.hidden = ps === "none";
      setText(r.plan, ps === "awaiting_confirmation" ? "plan awaits confirmation" : `plan ${ps}`);
      setClass(r.plan, "badge plan", `plan-${ps}`);
      const unread = s.unread_result_count || 0;
      r.unread.hidden = unread === 0;
      setText(r.unread, `${unread} unread`);
      r.error.hidden = true;
      if (r.resumeModel) {
        const choices = list(S.status.model_choices);
        const key = JSON.stringify(choices);
        if (r.resumeModel.dataset.key !== key) {
          r.resumeModel.dataset.key = key;
          replaceChildren(r.resumeModel, choices.map((m) => el("option", { text: m, attrs: { value: m } })));
          r.resumeModel.value = choices.includes(s.model) ? s.model : (choices[0] || "");
        }
        r.btnResume.textContent = isRunning(s) ? "Resume" : "Resume…";
      }
    }
    const running = isRunning(s);
    r.btnContinue.hidden = !running;
    if (!running) r.continueForm.hidden = true;
    r.btnClose.hidden = !running;
    if (terminalUrl(s)) {
      r.open.href = terminalUrl(s);
      r.open.hidden = false;
    } else {
      r.open.removeAttribute("href");
      r.open.hidden = true;
    }
  }

  function row(s) {
    let r = rows.get(s.id);
    if (!r) {
      r = buildRow(s.id, s.session_kind);
      rows.set(s.id, r);
    }
    updateRow(r, s);
    return r.root;
  }

  function group(z) {
    let g = groups.get(z.id);
    if (!g) {
      g = { children: el("div", { class: "zgroup-children" }), info: el("div", { class: "zgroup-info" }) };
      g.root = el("div", { class: "zgroup", data: { id: z.id } });
      groups.set(z.id, g);
    }
    return g;
  }

  function renderSessions() {
    const st = S.status;
    const zs = st.zhongshu_sessions || [];
    const ds = (st.department_sessions || []).slice().reverse(); // start order
    const queue = st.queue || [];
    const container = $("#sessions");
    const nodes = [];
    const seen = new Set();
    for (const z of zs) {
      const g = group(z);
      const kids = ds.filter((d) => d.parent_session_id === z.id);
      const queued = queue.filter((q) => q.parent_session_id === z.id).length;
      const done = kids.filter((d) => d.report_status === "reported").length;
      const running = kids.filter(isRunning).length;
      setText(g.info, kids.length || queued
        ? `${kids.length} department${kids.length === 1 ? "" : "s"}: ${running} running, ${done} reported, ${queued} queued`
        : "no departments yet");
      syncChildren(g.children, kids.map(row));
      kids.forEach((k) => seen.add(k.id));
      syncChildren(g.root, [row(z), g.info, g.children]);
      g.root.classList.toggle("focused", z.id === S.focus);
      seen.add(z.id);
      nodes.push(g.root);
    }
    const orphans = ds.filter((d) => !seen.has(d.id));
    if (orphans.length) {
      let g = groups.get("__orphans");
      if (!g) {
        g = { children: el("div", { class: "zgroup-children" }) };
        g.root = el("div", { class: "zgroup orphans" }, el("div", { class: "zgroup-info", text: "Departments without a known Zhongshu session" }), g.children);
        groups.set("__orphans", g);
      }
      syncChildren(g.children, orphans.map(row));
      orphans.forEach((k) => seen.add(k.id));
      nodes.push(g.root);
    }
    for (const [id] of rows) if (!seen.has(id)) rows.delete(id);
    for (const [id] of groups) if (id !== "__orphans" && !zs.some((z) => z.id === id)) groups.delete(id);
    if (!nodes.length) {
      if (!$(".empty-note", container)) {
        replaceChildren(container, el("p", { class: "empty-note", text: "No sessions yet. Start a Zhongshu session above." }));
      }
    } else {
      syncChildren(container, nodes);
    }
    renderQueue(queue);
  }

  let queueKey = "";

  function renderQueue(queue) {
    const key = JSON.stringify(queue);
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
          el("span", { class: "row-name", text: `${i + 1}. ${deptTitle(q.department)}` }),
          el("span", { class: "row-badges" },
            el("span", { class: `badge status-${q.status}`, text: q.status }),
            q.attempts ? el("span", { class: "badge", text: `${q.attempts} attempt${q.attempts === 1 ? "" : "s"}` }) : null)),
        el("div", { class: "row-meta" },
          el("span", { text: `for ${q.parent_session_id || "?"}` }),
          el("span", { class: "row-model", text: q.model }),
          el("span", { class: "row-time", text: `queued ${clock(q.queued_at)}` })),
        el("div", { class: "row-task", text: q.task, title: q.task }),
        q.error ? el("div", { class: "row-error", text: `start failed: ${q.error}` }) : null))));
  }

  // ---------------------------------------------------------------- focus: plan + inbox

  let focusKey = "";

  function renderFocusSelect() {
    const zs = (S.status && S.status.zhongshu_sessions) || [];
    const select = $("#focus");
    const key = JSON.stringify(zs.map((z) => [z.id, z.status, z.task, z.unread_result_count]));
    if (key !== focusKey) {
      focusKey = key;
      if (!zs.length) {
        replaceChildren(select, el("option", { text: "no Zhongshu session yet", attrs: { value: "" } }));
      } else {
        replaceChildren(select, zs.map((z) => {
          const task = z.task.length > 60 ? `${z.task.slice(0, 59)}…` : z.task;
          const unread = z.unread_result_count ? ` · ${z.unread_result_count} unread` : "";
          return el("option", { text: `${z.id} (${z.status}${unread}) — ${task}`, attrs: { value: z.id } });
        }));
      }
    }
    select.disabled = !zs.length;
    if (S.focus && select.value !== S.focus) select.value = S.focus;
    for (const [id, g] of groups) g.root.classList.toggle("focused", id === S.focus);
  }

  function renderFocus() {
    renderPlan();
    renderInbox();
  }

  // ---- plan

  let planFormKey = "";
  let planViewKey = "";

  function renderPlan() {
    const container = $("#plan");
    const data = S.plan;
    if (!S.focus || !data) {
      planFormKey = planViewKey = "";
      replaceChildren(container, el("p", { class: "empty-note", text: "Start a Zhongshu session: it reads the governance report and registers a plan here." }));
      return;
    }
    if (data.error) {
      planFormKey = planViewKey = "";
      replaceChildren(container, el("p", { class: "form-msg error", text: `Cannot load the plan: ${data.error}` }));
      return;
    }
    const plan = data.plan;
    if (!plan || !plan.ready) {
      planFormKey = planViewKey = "";
      replaceChildren(container, el("p", { class: "empty-note", text: `${data.session_id} has not registered a plan yet.` }));
      return;
    }
    if (plan.status === "awaiting_confirmation") {
      // The form holds the user's edits: rebuild it only for a different plan.
      const key = `${data.session_id}|${plan.registered_at}`;
      if (key === planFormKey && $("#plan-form", container)) return;
      planFormKey = key;
      planViewKey = "";
      replaceChildren(container, planForm(data.session_id, plan));
      return;
    }
    planFormKey = "";
    const key = JSON.stringify(data);
    if (key === planViewKey) return;
    planViewKey = key;
    replaceChildren(container, planView(plan));
  }

  function planHeader(plan) {
    const status = {
      awaiting_confirmation: "awaits your confirmation",
      dispatched: "dispatched",
      ready: "ready (nothing to dispatch)",
    }[plan.status] || plan.status;
    return el("div", { class: "plan-head" },
      el("span", { class: `badge plan-${plan.status}`, text: status }),
      el("span", { class: "row-time", text: `registered ${clock(plan.registered_at)}${plan.confirmed_at ? ` · confirmed ${clock(plan.confirmed_at)}` : ""}` }));
  }

  function listBlock(label, items, cls = "") {
    items = list(items);
    if (!items.length) return null;
    return el("div", { class: `kv ${cls}` },
      el("span", { class: "kv-key", text: label }),
      el("ul", { class: "kv-list" }, items.map((x) => el("li", {}, el("code", { text: x })))));
  }

  function planView(plan) {
    return el("div", { class: "plan-view" },
      planHeader(plan),
      plan.summary ? el("p", { class: "plan-summary", text: plan.summary }) : null,
      el("ol", { class: "plan-list" }, plan.assignments.map((a, i) =>
        el("li", { class: `plan-assignment view status-${a.status || "proposed"}`, data: { index: i, department: a.department } },
          el("div", { class: "row-head" },
            el("span", { class: "row-name", text: deptTitle(a.department) }),
            el("span", { class: "row-badges" },
              el("span", { class: `badge assignment-${a.status || "proposed"}`, text: a.status || "proposed" }),
              a.session_id ? el("span", { class: "badge", text: a.session_id }) : null,
              el("span", { class: "badge model", text: a.model }))),
          el("div", { class: "row-task", text: a.task }),
          a.reason ? el("div", { class: "row-note", text: `why: ${a.reason}` }) : null,
          listBlock("files", a.files),
          listBlock("verify", a.verify),
          a.error ? el("div", { class: "row-error", text: a.error }) : null))));
  }

  function planForm(sessionId, plan) {
    const choices = list(S.status && S.status.model_choices);
    const items = plan.assignments.map((a, i) => {
      const tick = el("input", { type: "checkbox", class: "pa-select", attrs: { "aria-label": `start ${a.department}` } });
      tick.checked = a.selected !== false;
      const task = el("textarea", { class: "pa-task", attrs: { rows: 2, "aria-label": `task for ${a.department}` } });
      task.value = a.task;
      const model = el("select", { class: "pa-model", attrs: { "aria-label": `model for ${a.department}` } },
        (choices.includes(a.model) ? choices : [a.model, ...choices]).map((m) => el("option", { text: m, attrs: { value: m } })));
      model.value = a.model;
      const li = el("li", { class: "plan-assignment", data: { index: i, department: a.department } },
        el("label", { class: "pa-head" }, tick, el("span", { class: "row-name", text: deptTitle(a.department) })),
        el("label", { class: "field" }, el("span", { class: "label", text: "Task" }), task),
        el("label", { class: "field field-inline" }, el("span", { class: "label", text: "Model" }), model),
        a.reason ? el("div", { class: "row-note", text: `why: ${a.reason}` }) : null,
        listBlock("files", a.files),
        listBlock("verify", a.verify));
      li.classList.toggle("unselected", !tick.checked);
      tick.addEventListener("change", () => {
        li.classList.toggle("unselected", !tick.checked);
        updateCount();
      });
      return { a, li, tick, task, model };
    });
    const confirm = el("button", { type: "submit", class: "primary", attrs: { id: "plan-confirm" } });
    const msg = el("p", { class: "form-msg", attrs: { "aria-live": "polite" } });
    function updateCount() {
      const n = items.filter((x) => x.tick.checked).length;
      confirm.textContent = n ? `Start ${n} ticked assignment${n === 1 ? "" : "s"}` : "Start nothing (no assignment ticked)";
    }
    updateCount();
    const form = el("form", { class: "plan-form", attrs: { id: "plan-form" } },
      planHeader(plan),
      plan.summary ? el("p", { class: "plan-summary", text: plan.summary }) : null,
      el("p", { class: "hint", text: "Untick what should not run, edit tasks and models, then start." }),
      el("ol", { class: "plan-list" }, items.map((x) => x.li)),
      el("div", { class: "form-actions" }, confirm),
      msg);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const assignments = items.map((x) => ({
        department: x.a.department,
        task: x.task.value.trim() || x.a.task,
        model: x.model.value || x.a.model,
        files: list(x.a.files),
        verify: list(x.a.verify),
        reason: x.a.reason || undefined,
        selected: x.tick.checked,
      }));
      confirm.disabled = true;
      msg.className = "form-msg";
      msg.textContent = "Starting…";
      try {
        await api("/api/start_assignments", { parent_session_id: sessionId, assignments });
        const n = assignments.filter((a) => a.selected).length;
        toast(`Started ${n} assignment${n === 1 ? "" : "s"} for ${sessionId}.`);
        planFormKey = "";
        scheduleRefresh(0);
      } catch (e) {
        msg.className = "form-msg error";
        msg.textContent = `Could not start: ${e.message}`;
        confirm.disabled = false;
      }
    });
    return form;
  }

  // ---- inbox

  let inboxKey = "";

  function renderInbox() {
    const container = $("#inbox");
    const summary = $("#inbox-summary");
    const unreadBadge = $("#inbox-unread");
    const markRead = $("#inbox-mark-read");
    const data = S.inbox;
    const key = JSON.stringify([S.focus, data]);
    if (key === inboxKey) return;
    inboxKey = key;
    if (!S.focus || !data) {
      markRead.disabled = true;
      unreadBadge.hidden = true;
      replaceChildren(summary);
      replaceChildren(container, el("p", { class: "empty-note", text: "Department reports arrive here." }));
      return;
    }
    if (data.error) {
      markRead.disabled = true;
      unreadBadge.hidden = true;
      replaceChildren(summary);
      replaceChildren(container, el("p", { class: "form-msg error", text: `Cannot load the inbox: ${data.error}` }));
      return;
    }
    const results = list(data.results).length
      ? list(data.results)
      : [...list(data.unread), ...list(data.read)];
    results.sort((a, b) => (parseTime(b.reported_at) || 0) - (parseTime(a.reported_at) || 0));
    const unread = data.unread_count || results.filter((r) => !r.read).length;
    unreadBadge.hidden = unread === 0;
    setText(unreadBadge, `${unread} unread`);
    markRead.disabled = unread === 0;
    replaceChildren(summary,
      el("span", { class: "stat" }, el("span", { class: "stat-value", text: list(data.running).length }), " running"),
      el("span", { class: "stat" }, el("span", { class: "stat-value", text: list(data.completed).length }), " completed"),
      el("span", { class: "stat" }, el("span", { class: "stat-value", text: list(data.queued).length }), " queued"),
      el("span", { class: "stat" }, el("span", { class: "stat-value", text: results.length }), " results"));
    if (!results.length) {
      replaceChildren(container, el("p", { class: "empty-note", text: "No department has reported yet." }));
      return;
    }
    replaceChildren(container, results.map(resultCard));
  }

  function resultCard(r) {
    const fallback = r.source === "launcher_fallback";
    const field = (label, value, cls) => (value === null || value === undefined || value === "")
      ? null
      : el("div", { class: `kv ${cls || ""}` }, el("span", { class: "kv-key", text: label }), el("span", { class: "kv-value", text: value }));
    const pathField = (label, value, cls) => value
      ? el("div", { class: `kv ${cls}` },
        el("span", { class: "kv-key", text: label }),
        el("span", { class: "kv-value" }, el("code", { class: "path", text: value }), " ", copyButton(value, `copy the ${label.toLowerCase()} path`)))
      : null;
    const listOrNone = (label, items, cls) => {
      items = list(items);
      return el("div", { class: `kv ${cls}` },
        el("span", { class: "kv-key", text: label }),
        items.length
          ? el("ul", { class: "kv-list" }, items.map((x) => el("li", {},
            cls === "result-files" || cls === "result-verifications" ? el("code", { text: x }) : x,
            cls === "result-files" ? diffButton(x) : null)))
          : el("span", { class: "kv-value none", text: "none" }));
    };
    return el("article", {
      class: `inbox-result ${r.read ? "read" : "unread"}${fallback ? " fallback" : ""}`,
      data: { reportId: r.report_id, read: r.read ? "true" : "false", department: r.department, source: r.source },
    },
    el("div", { class: "row-head" },
      el("span", { class: "row-name", text: `${deptTitle(r.department)} · ${r.department_session_id}` }),
      el("span", { class: "row-badges" },
        el("span", { class: `badge ${r.read ? "read" : "unread"}`, text: r.read ? "read" : "unread" }),
        el("span", { class: `badge source-${r.source}`, text: fallback ? "launcher fallback (no mailbox report)" : "mailbox" }),
        fallback ? null : el("span", { class: `badge ${r.verified ? "verified" : "unverified"}`, text: r.verified ? "verified: sent with the session's token" : "unverified: a file dropped by hand" }),
        r.needs_user_confirmation ? el("span", { class: "badge needs-confirmation", text: "needs your confirmation" }) : null)),
    el("div", { class: "row-meta" },
      el("span", { class: "row-time", text: `reported ${dateTime(r.reported_at)}`, title: r.reported_at }),
      el("span", { class: "report-id", text: `report ${r.report_id}` })),
    el("p", { class: "result-summary", text: r.summary }),
    listOrNone("Changed files", r.changed_files, "result-files"),
    listOrNone("Verification run", r.verifications_run, "result-verifications"),
    listOrNone("Verification skipped", r.verifications_skipped, "result-skipped"),
    listOrNone("Risks", r.risks, "result-risks"),
    field("Next action", r.next_action || "none", "result-next"),
    field("Needs confirmation", r.needs_user_confirmation ? "yes" : "no", "result-confirm"),
    field("Parent", r.parent_session_id, "result-parent"),
    el("div", { class: "row-actions" },
      el("button", {
        type: "button",
        class: "small open-handoff",
        text: "Open packet",
        title: "read the handoff packet and the report as received, in a drawer",
        data: { openHandoff: "1", session: r.parent_session_id, department: r.department_session_id, report: r.report_id },
      })),
    pathField("Handoff packet", r.handoff_packet, "result-handoff"),
    pathField("Mailbox file", r.mailbox_file, "result-mailbox"));
  }

  /** A button that opens a changed file's diff in the drawer (drawer.js). */
  function diffButton(path, base) {
    return el("button", {
      type: "button",
      class: "small open-diff",
      text: "diff",
      title: `show the changes of ${path}`,
      data: { openDiff: "1", path, base: base || "" },
    });
  }

  async function markAllRead() {
    const id = S.focus;
    if (!id) return;
    try {
      await api(`/api/zhongshu_inbox?id=${enc(id)}`);
      scheduleRefresh(0);
    } catch (e) {
      toast(`Could not mark read: ${e.message}`, "error");
    }
  }

  // ---------------------------------------------------------------- copy

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) {
      // fall through to the textarea way
    }
    const area = el("textarea", { class: "copy-buffer", attrs: { readonly: true, "aria-hidden": "true" } });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function copyButton(text, title = "copy") {
    const button = el("button", { type: "button", class: "small copy-btn", text: "copy", title });
    button.dataset.copy = text;
    button.addEventListener("click", async () => {
      const ok = await copyText(text);
      button.textContent = ok ? "copied" : "copy failed";
      button.classList.toggle("copied", ok);
      setTimeout(() => {
        button.textContent = "copy";
        button.classList.remove("copied");
      }, 1500);
    });
    return button;
  }

  // ---------------------------------------------------------------- report

  let reportSeq = 0;

  function scheduleReport(delay) {
    if (reportTimer !== null) return;
    reportTimer = setTimeout(() => {
      reportTimer = null;
      loadReport();
    }, delay);
  }

  function selectTab(mode) {
    S.reportMode = mode;
    for (const tab of $$(".report-tab")) {
      const on = tab.dataset.mode === mode;
      tab.classList.toggle("active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    }
    $("#report-base-form").hidden = mode !== "base";
    if (mode === "base") $("#report-base").focus();
    loadReport();
  }

  async function loadReport() {
    const seq = ++reportSeq;
    const mode = S.reportMode;
    let url = `/api/report?mode=${enc(mode)}`;
    if (mode === "base") {
      const base = $("#report-base").value.trim();
      if (!base) {
        showReportError("Enter a base ref (a branch, tag or commit) to compare against.");
        return;
      }
      S.reportBase = base;
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
      showReportError(`Cannot build the ${mode} report: ${e.message}`);
    } finally {
      if (seq === reportSeq) $("#report").classList.remove("loading");
    }
  }

  function showReportError(text) {
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
      el("h3", { class: "sub", text: "Shangshu 尚书省 · departments" }),
      departments.length
        ? el("div", { class: "dept-cards" }, departments.map((d) =>
          el("div", { class: "dept-card", data: { key: d.key } },
            el("div", { class: "row-head" },
              el("span", { class: "row-name", text: `${d.key} ${d.title}` }),
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
      el("h3", { class: "sub", text: "Menxia 门下省 · risks" }),
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
      el("h3", { class: "sub", text: "Preflight · portability reference scan" }),
      scan
        ? el("div", {},
          el("div", { class: "row-meta" },
            el("span", { class: `badge decision-${scan.decision}`, text: scan.decision }),
            el("span", { text: `${list(scan.scanned_files).length} file${list(scan.scanned_files).length === 1 ? "" : "s"} scanned` }),
            scan.scope ? el("span", { class: "row-note", text: scan.scope }) : null),
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

  // ---------------------------------------------------------------- timeline

  function renderTimeline() {
    const container = $("#timeline");
    const st = S.status;
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
    const ends = sessions.map((s) => (isRunning(s) ? now : parseTime(s.ended_at) || now));
    const t1 = Math.max(now, ...ends, t0 + 10000);
    const width = Math.max(320, container.clientWidth || 800);
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
      const end = isRunning(s) ? now : parseTime(s.ended_at) || now;
      const kind = s.session_kind === "zhongshu" ? "zhongshu" : "department";
      const g = svg("g", { class: `tl-row tl-${kind} tl-${s.status}`, "data-id": s.id });
      const label = s.session_kind === "zhongshu" ? `${s.id}` : `${s.department || ""} ${s.id.replace(`${s.department}-`, "#")}`;
      g.appendChild(svg("title", {}, `${s.title}\n${s.task || ""}\nstarted ${dateTime(s.started_at)}${s.ended_at ? `\nended ${dateTime(s.ended_at)}` : "\nrunning"}${s.reported_at ? `\nreported ${dateTime(s.reported_at)}` : ""}`));
      if (i % 2 === 0) g.appendChild(svg("rect", { class: "tl-stripe", x: 0, y, width, height: rowH }));
      g.appendChild(svg("text", { class: "tl-label", x: kind === "department" ? 14 : 4, y: y + rowH / 2 + 4 }, narrow ? label.slice(0, 16) : label));
      const bx = x(start);
      const bw = Math.max(3, x(end) - bx);
      g.appendChild(svg("rect", { class: "tl-bar", x: bx, y: y + 5, width: bw, height: rowH - 10, rx: 3 }));
      const reported = parseTime(s.reported_at);
      if (reported !== null) {
        const rx = x(reported);
        const cy = y + rowH / 2;
        g.appendChild(svg("path", { class: "tl-report", d: `M ${rx} ${cy - 6} L ${rx + 6} ${cy} L ${rx} ${cy + 6} L ${rx - 6} ${cy} Z` }));
      }
      if (!isRunning(s) && parseTime(s.ended_at) !== null) {
        const ex = x(parseTime(s.ended_at));
        g.appendChild(svg("line", { class: "tl-exit", x1: ex, x2: ex, y1: y + 2, y2: y + rowH - 2 }));
      }
      root.appendChild(g);
    });
    replaceChildren(container, root);
  }

  // ---------------------------------------------------------------- render all

  function renderAuditBanner() {
    const st = S.status || {};
    const problem = st.audit_chain_problem;
    const stuck = st.mailbox_ingestion && st.mailbox_ingestion.state === "stuck";
    const lines = [];
    if (problem) lines.push(`The audit log's hash chain is broken (${problem}). New lines still chain from the last one; run codex-governance audit verify and keep a copy of the log.`);
    if (stuck) lines.push(`Mailbox ingestion is stuck (${JSON.stringify(st.mailbox_ingestion)}): reports are not being registered. See /healthz.`);
    const banner = $("#audit-banner");
    banner.textContent = lines.join(" ");
    banner.hidden = lines.length === 0;
  }

  /** Approvals the agents wait for (Codex backend), with the decision buttons. */
  function renderApprovals() {
    const panel = $("#approvals");
    const sessions = (S.status && S.status.sessions) || [];
    const waiting = sessions.flatMap((s) =>
      (s.pending_approvals || []).map((a) => ({ a, title: s.title || s.id })));
    panel.hidden = waiting.length === 0;
    replaceChildren($("#approval-list"), waiting.map(({ a, title }) => {
      const decide = (decision, label) => el("button", {
        type: "button",
        class: decision === "decline" ? "danger" : "primary",
        text: label,
        data: { decision },
        on: { click: async (ev) => {
          ev.target.disabled = true;
          try {
            await api("/api/approval", { session_id: a.session_id, request_id: a.request_id, decision });
            toast(`${label}: ${a.command || a.kind}`, "info");
          } catch (e) {
            toast(`Could not answer the approval: ${e.message}`, "error");
          }
          scheduleRefresh(0);
        } },
      });
      return el("div", { class: "approval-card", data: { session: a.session_id, request: a.request_id } },
        el("div", { class: "approval-head", text: `${title} asks to run a ${a.kind.replace("_", " ")}` }),
        a.command ? el("pre", { class: "approval-command", text: a.command }) : null,
        a.cwd ? el("div", { class: "hint", text: `in ${a.cwd}` }) : null,
        a.reason ? el("div", { class: "approval-reason", text: `Reason: ${a.reason}` }) : null,
        el("div", { class: "approval-actions" },
          decide("accept", "Approve"),
          decide("accept_for_session", "Approve for this session"),
          decide("decline", "Decline")));
    }));
  }

  function renderStatus() {
    renderAuditBanner();
    renderApprovals();
    renderBrand();
    renderStats();
    renderModels();
    renderGrid();
    renderSessions();
    renderFocusSelect();
    renderTimeline();
  }

  function renderBrand() {
    const st = S.status;
    if (st.project_name) {
      setText($("#project-name"), `· ${st.project_name}`);
      const title = `${S.needsYou ? `(${S.needsYou}) ` : ""}codex-governance · ${st.project_name}`;
      if (document.title !== title) document.title = title;
    }
    if (st.repo) setText($("#repo-path"), st.repo);
  }

  /** Once a second: advance idle times and the timeline's "now" locally. */
  function tick() {
    if (!S.status) return;
    const all = S.status.sessions || [];
    const byId = new Map(all.map((s) => [s.id, s]));
    for (const [id, r] of rows) {
      const s = byId.get(id);
      if (s && isRunning(s)) updateHeartbeat(r.hb, s);
    }
    for (const [id, t] of tiles) {
      const s = byId.get(id);
      if (s && isRunning(s)) updateHeartbeat(t.hb, s);
    }
    if (all.some(isRunning)) renderTimeline();
  }

  // ---------------------------------------------------------------- keyboard, theme

  /** `/` writes a task, `?` lists the keys; Esc inside a terminal leaves it. */
  function wireKeyboard() {
    const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (event.key === "/") {
        event.preventDefault();
        $("#task").focus();
      } else if (event.key === "?") {
        event.preventDefault();
        $("#shortcuts").showModal();
      }
    });
    $("#shortcuts-button").addEventListener("click", () => $("#shortcuts").showModal());
    // A terminal page says its Esc was pressed: the focus comes back to its tile.
    window.addEventListener("message", (event) => {
      if (!event.data || event.data.type !== "codex-governance:leave-terminal") return;
      const frame = $$("iframe.slot-frame").find((f) => f.contentWindow === event.source);
      if (!frame) return;
      const slot = frame.closest(".slot");
      if (!slot) return;
      slot.tabIndex = -1;
      slot.focus();
    });
  }

  const THEME_KEY = "codex_governance_theme";

  /** Light or dark: the system's choice until the toggle picks one (kept in localStorage). */
  function wireTheme() {
    const apply = (theme) => {
      document.documentElement.dataset.theme = theme;
    };
    let saved = null;
    try {
      saved = localStorage.getItem(THEME_KEY);
    } catch (e) {
      saved = null;
    }
    const system = () => (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark");
    apply(saved || system());
    $("#theme-toggle").addEventListener("click", () => {
      const next = document.documentElement.dataset.theme === "light" ? "dark" : "light";
      apply(next);
      try {
        localStorage.setItem(THEME_KEY, next);
      } catch (e) {
        // the choice lasts this page's life
      }
    });
  }

  // The small surface needs_you.js (an ES module) uses: no hub, just calls.
  window.codexGovernance = {
    api,
    toast,
    refresh: () => scheduleRefresh(0),
    setNeedsYou(count) {
      S.needsYou = count;
      if (S.status) renderBrand();
    },
    showSession(id) {
      const row = $(`.session-row[data-id="${CSS.escape(id)}"]`);
      const s = ((S.status && S.status.sessions) || []).find((x) => x.id === id);
      if (s && s.session_kind === "zhongshu") setFocus(id);
      if (row) {
        row.scrollIntoView({ behavior: "smooth", block: "center" });
        row.classList.add("flash");
        setTimeout(() => row.classList.remove("flash"), 1500);
      }
    },
  };

  // ---------------------------------------------------------------- wiring

  function init() {
    adoptFragmentToken();
    if (!token()) showAuthProblem();
    // Opening the printed URL again in this tab changes only the fragment.
    window.addEventListener("hashchange", () => {
      if (!adoptFragmentToken()) return;
      hideAuthProblem();
      connect();
      refresh();
      loadReport();
    });
    $("#start-form").addEventListener("submit", startZhongshu);
    $("#task").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("#start-form").requestSubmit();
      }
    });
    $("#focus").addEventListener("change", (event) => setFocus(event.target.value));
    wireKeyboard();
    wireTheme();
    $("#inbox-mark-read").addEventListener("click", markAllRead);
    for (const tab of $$(".report-tab")) tab.addEventListener("click", () => selectTab(tab.dataset.mode));
    $("#report-base-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadReport();
    });
    $("#report-refresh").addEventListener("click", () => loadReport());
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(renderTimeline, 150);
    });
    setConn("connecting");
    connect();
    refresh();
    loadReport();
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
