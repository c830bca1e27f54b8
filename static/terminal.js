// The terminal page: xterm.js wired to the listener's WebSocket.
// Config comes from data- attributes on <body> (no inline script: the CSP forbids it).
import { Terminal } from "./vendor/xterm/xterm.mjs";
import { FitAddon } from "./vendor/addon-fit/addon-fit.mjs";
import { Unicode11Addon } from "./vendor/addon-unicode11/addon-unicode11.mjs";

const config = document.body.dataset;
const readOnly = config.kind === "session_preview";
const MAX_RETRIES = 5;

const term = new Terminal({
  cursorBlink: !readOnly,
  // The Unicode 11 width tables are a proposed API in xterm.js.
  allowProposedApi: true,
  disableStdin: readOnly,
  convertEol: false,
  scrollback: 5000,
  fontFamily: '"DejaVu Sans Mono", "Noto Sans Mono", "Noto Sans Mono CJK SC", monospace',
  fontSize: 14,
  lineHeight: 1.2,
  theme: {
    background: "#0d1117",
    foreground: "#c9d1d9",
    cursor: "#58a6ff",
    selectionBackground: "#264f78",
    scrollbarSliderBackground: "rgba(201, 209, 217, 0.15)",
    scrollbarSliderHoverBackground: "rgba(201, 209, 217, 0.3)",
    scrollbarSliderActiveBackground: "rgba(201, 209, 217, 0.45)",
  },
});
const fit = new FitAddon();
term.loadAddon(fit);
// Emoji and CJK take two cells, as the programs in the PTY (wcwidth) expect.
term.loadAddon(new Unicode11Addon());
term.unicode.activeVersion = "11";
term.open(document.getElementById("terminal"));
window.__term = term; // for tests: read __term.buffer.active

const status = document.getElementById("status");
function showStatus(text, ...classes) {
  status.textContent = text;
  status.className = ["banner", "status", ...classes].join(" ");
  status.hidden = !text;
}
if (readOnly) {
  document.getElementById("read-only").hidden = false;
}

let ws = null;
let retries = 0;
let exited = false;

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(message));
  }
}

function sendSize() {
  if (!readOnly) {
    send({ type: "resize", cols: term.cols, rows: term.rows });
  }
}

function onControl(message) {
  switch (message.type) {
    case "exit":
      exited = true;
      showStatus(`process exited with code ${message.code}`, "exited", message.code === 0 ? "" : "failed");
      break;
    case "read_only":
      document.getElementById("read-only").hidden = false;
      break;
    case "lagged":
      // This view fell behind a fast producer; some output was skipped.
      console.warn("terminal output skipped:", message.skipped_chunks, "chunks");
      break;
    case "error":
      console.warn("terminal:", message.error);
      break;
  }
}

function connect() {
  const url = `ws://${location.host}/ws?token=${encodeURIComponent(config.token)}`;
  ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    retries = 0;
    if (!exited) showStatus("");
    term.reset(); // the server replays the scrollback on every connect
    sendSize();
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      try {
        onControl(JSON.parse(event.data));
      } catch (e) {
        console.warn("bad control frame", e);
      }
    } else {
      term.write(new Uint8Array(event.data));
    }
  };
  ws.onclose = () => {
    ws = null;
    if (retries >= MAX_RETRIES) {
      showStatus(exited ? status.textContent + " · disconnected" : "disconnected", "disconnected");
      return;
    }
    const delay = 500 * 2 ** retries;
    retries += 1;
    showStatus(`disconnected — reconnecting (${retries}/${MAX_RETRIES})`, "disconnected");
    setTimeout(connect, delay);
  };
}

term.onData((data) => {
  if (!readOnly) send({ type: "input", data });
});
term.onResize(sendSize);
new ResizeObserver(() => fit.fit()).observe(document.querySelector(".term-frame"));
fit.fit();
connect();

// Ctrl+] leaves the terminal, so the keyboard can go on through the page
// (the telnet escape: no agent or shell here needs it). Esc is not taken: it
// goes to the program, where Codex users press it to stop a runaway turn.
// Inside the dashboard, its page takes the focus back, and it is told when
// the terminal has the keyboard so it can say these keys (the messages carry
// nothing secret).
const embedded = window.parent !== window;
const tell = (message) => {
  if (embedded) window.parent.postMessage(message, "*");
};
const leaves = (event) => event.ctrlKey && !event.altKey && !event.metaKey &&
  (event.key === "]" || event.code === "BracketRight");
term.attachCustomKeyEventHandler((event) => {
  if (!leaves(event)) return true;
  if (event.type === "keydown") {
    term.blur();
    tell({ type: "codex-governance:leave-terminal" });
  }
  return false;
});
if (term.textarea) {
  term.textarea.addEventListener("focus", () => tell({ type: "codex-governance:terminal-focus", focused: true }));
  term.textarea.addEventListener("blur", () => tell({ type: "codex-governance:terminal-focus", focused: false }));
}
// A terminal opened on its own takes the keyboard; one in the dashboard waits
// for a click, so Tab can move through the page.
if (!embedded) term.focus();
