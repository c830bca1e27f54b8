// Keyboard and theme: `/` writes a task, `?` lists the keys, Ctrl+] inside a
// terminal leaves it (the terminal page tells us; Esc goes to the agent, which
// Codex users press to stop a turn); light or dark follows the system until
// the toggle picks one.

import { $, $$ } from "./dom.js";
import { terminalFocus } from "./grid.js";

const THEME_KEY = "codex_governance_theme";

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
  // A terminal page says it has the keyboard, or that Ctrl+] was pressed:
  // the focus comes back to its tile.
  window.addEventListener("message", (event) => {
    const type = event.data && event.data.type;
    if (type !== "codex-governance:leave-terminal" && type !== "codex-governance:terminal-focus") return;
    const frame = $$("iframe.slot-frame").find((f) => f.contentWindow === event.source);
    if (!frame) return;
    if (type === "codex-governance:terminal-focus") {
      terminalFocus(frame, event.data.focused === true);
      return;
    }
    terminalFocus(frame, false);
    const slot = frame.closest(".slot");
    slot.tabIndex = -1;
    slot.focus();
  });
}

function wireTheme() {
  const apply = (theme) => {
    document.documentElement.dataset.theme = theme;
    $("#theme-toggle").setAttribute("aria-pressed", theme === "light" ? "true" : "false");
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

export function mount() {
  wireKeyboard();
  wireTheme();
}
