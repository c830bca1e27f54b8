// A repository configuration that waits for the user's trust: what its
// governance.yaml sets (its agent command, a looser sandbox, integration
// without asking) and the one button that lets sessions start. Nothing runs
// before it is pressed; the answer is kept for this version of the file.

import { $, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import * as live from "./live.js";
import * as store from "./store.js";

let shownHash = "";

function render(request) {
  const panel = $("#trust-banner");
  panel.hidden = !request;
  if (!request) {
    shownHash = "";
    return;
  }
  if (request.hash === shownHash) return;
  shownHash = request.hash;
  const settings = (request.settings || []).map((s) =>
    el("li", {},
      el("code", { text: `${s.key}: ${s.value}` }),
      ` — ${s.meaning}`));
  const button = el("button", { class: "primary", text: "Trust this configuration", attrs: { type: "button", id: "trust-config" } });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/api/trust_config", { hash: request.hash });
      toast("Configuration trusted: sessions can start.", "success");
      await live.refresh();
    } catch (e) {
      toast(`Not trusted: ${e.message}`, "error");
      shownHash = "";
      button.disabled = false;
    }
  });
  const before = request.trusted_before || [];
  // An edit of a file you trusted is said as one, not as a stranger's file.
  const edited = request.edited || before.length > 0;
  replaceChildren(panel,
    el("strong", { text: edited ? `Your edit of ${request.file} (or another's since you trusted it) adds settings that run programs or send data. ` : "This repository's configuration asks for more than the defaults. " }),
    el("span", { text: `Nothing starts until you trust ${request.file}. ${edited ? "What it adds or changes:" : "It sets:"}` }),
    el("ul", { class: "trust-settings" }, settings),
    before.length ? el("p", { class: "hint trust-before", text: `As you trusted them before: ${before.join(", ")}.` }) : null,
    button);
}

export function mount() {
  store.subscribe((changed) => {
    if (!changed.has("status")) return;
    const st = store.get().status;
    if (st) render(st.config_trust || null);
  });
}
