// Pairing a phone (issue 54, tier 2), in the Notifications panel at the desk:
// with --allow-host the launcher mints a phone's token and shows it once, as
// the page's tailnet address and its QR code; each paired phone can be
// unpaired. On a paired phone's page (the status says `phone`), the body is
// marked so the desk-only panels stay out of the way.

import { $, el, replaceChildren } from "./dom.js";
import { api, toast } from "./api.js";
import * as store from "./store.js";

function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  return svg && svg.nodeName === "svg" ? document.importNode(svg, true) : null;
}

function phoneRow(p) {
  const until = new Date(p.expires_unix * 1000).toLocaleDateString();
  return el("li", { class: "phone-row", attrs: { "data-phone": p.id } },
    el("strong", { text: p.label }), " ",
    el("span", { class: "hint", text: `paired ${(p.paired_at || "").slice(0, 10)}, until ${until}` }), " ",
    el("button", { type: "button", class: "small danger", text: "Unpair", on: { click: () => unpair(p) } }));
}

async function unpair(p) {
  try {
    await api("/api/phones/unpair", { phone_id: p.id });
    toast(`${p.label} is unpaired: its token is refused from now on.`, "info");
  } catch (e) {
    toast(`Could not unpair ${p.label}: ${e.message}`, "error");
  }
  load();
}

async function pair(ev) {
  const b = ev.currentTarget;
  b.disabled = true;
  try {
    const { paired } = await api("/api/phones/pair", { label: $("#phone-label").value });
    const qr = svgNode(paired.qr_svg);
    replaceChildren($("#phone-paired"),
      el("p", { class: "hint", text: "Scan this with the phone, on your tailnet. It is shown once: anyone who sees it can use the page as that phone until you unpair it." }),
      qr ? el("div", { class: "phone-qr" }, qr) : null,
      el("code", { class: "phone-url", text: paired.url }));
  } catch (e) {
    toast(`No phone paired: ${e.message}`, "error");
  }
  b.disabled = false;
  load();
}

function render(v) {
  const body = $("#phones-body");
  if (!v.tailnet) {
    replaceChildren(body, el("p", { class: "empty-note", text: "To answer from a phone in this page, serve it on your tailnet: start with --allow-host NAME (the name `tailscale serve` answers to; never Funnel), then pair the phone here." }));
    return;
  }
  replaceChildren(body,
    el("p", { class: "hint", text: `Paired phones open ${v.tailnet} and may read, answer what the phone may decide, and interrupt; no terminal, trust or setting.` }),
    v.phones.length ? el("ul", { class: "phones" }, v.phones.map(phoneRow)) : el("p", { class: "empty-note", text: "No phone is paired." }),
    el("div", { class: "panel-head" },
      el("input", { type: "text", attrs: { id: "phone-label", placeholder: "phone's name", maxlength: "60", "aria-label": "phone's name" } }),
      el("button", { type: "button", class: "small", text: "Pair a phone", attrs: { id: "phone-pair" }, on: { click: pair } })));
}

export async function load() {
  if (document.body.dataset.scope === "phone") return;
  try {
    render((await api("/api/phones")).phones);
  } catch (e) {
    replaceChildren($("#phones-body"), el("p", { class: "form-msg error", text: `Cannot read the paired phones: ${e.message}` }));
  }
}

export function mount() {
  store.subscribe((changed) => {
    if (!changed.has("status")) return;
    const status = store.get().status;
    const scope = status && status.phone ? "phone" : "desk";
    if (scope === "phone" && document.body.dataset.scope !== "phone" && document.body.dataset.view === "terminals-panel") {
      // The terminals are the desk's: a phone opens on the sessions.
      document.dispatchEvent(new CustomEvent("codex-governance:show-panel", { detail: "sessions-panel" }));
    }
    document.body.dataset.scope = scope;
  });
  $("#notify-details").addEventListener("toggle", (ev) => {
    if (ev.currentTarget.open) load();
  });
}
