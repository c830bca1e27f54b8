// The launcher's JSON API. The URL the launcher prints carries the token in
// its fragment (/#token=…), which browsers never send: the page moves it to
// sessionStorage (this tab and origin only), clears the address bar and sends
// it as `Authorization: Bearer` on every call. No cookie is used (browsers
// share cookies across ports).

import { $, $$, el, replaceChildren, withCode } from "./dom.js";

const TOKEN_KEY = "codex_governance_token";
let memoryToken = ""; // when sessionStorage is not available
let authProblem = false;

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

const fragmentToken = () => /(?:^#|&)token=([^&]*)/.exec(location.hash);

/** Moves a `#token=…` fragment into sessionStorage; true if there was one.
 * Called once, as the page loads: a fragment that appears later comes from a
 * link inside the page (a packet's, say), never from the launcher. */
export function adoptFragmentToken() {
  const match = fragmentToken();
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

/** A `#token=…` that appeared after the page loaded: cleared, never used.
 * The page's own token opened again (the same URL) is no news: no warning. */
export function refuseLateFragmentToken() {
  const match = fragmentToken();
  if (!match) return;
  history.replaceState(null, "", location.pathname + location.search);
  let late = "";
  try {
    late = decodeURIComponent(match[1]);
  } catch (e) {
    late = "";
  }
  if (late && late === token()) return;
  toast("A token that appeared in the address after the page loaded was ignored (a link inside the page can put one there). To use a new token, open the launcher's URL in a new tab.", "error");
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch (e) {
    return memoryToken;
  }
}

export function authHeaders(extra) {
  return Object.assign({ Authorization: `Bearer ${token()}` }, extra);
}

/** GET `path`, or POST `body` as JSON; the `{ok:true,…}` answer or an ApiError. */
export async function api(path, body) {
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
    // The banner says what to do; the protocol's words are for programs.
    throw new ApiError(NOT_ACCEPTED, 401);
  } else if (response.ok && authProblem) {
    hideAuthProblem();
  }
  if (!response.ok || !data || data.ok === false) {
    throw new ApiError((data && data.error) || `HTTP ${response.status}`, response.status);
  }
  return data;
}

const NOT_ACCEPTED = "this page's token is not accepted: open the launcher's URL again (see the note at the top)";

export function showAuthProblem() {
  authProblem = true;
  const banner = $("#auth-banner");
  replaceChildren(banner, ...withCode(token()
    ? "The launcher does not accept this page's token (it may have restarted with a new one). Open the URL it printed (…/#token=…) again, in a new tab; `codex-governance url` prints it."
    : "This page has no token. Open the URL the launcher printed (…/#token=…) in a new tab; `codex-governance url`, run in the repository, prints it again."));
  banner.hidden = false;
  // Nothing this page asks is accepted: Start is off, and says why.
  document.body.classList.add("auth-blocked");
  const start = $("#start-zhongshu");
  start.disabled = true;
  start.title = "Start is off until this page has the launcher's token (see the note at the top).";
  const msg = $("#start-msg");
  msg.className = "form-msg error start-blocked";
  msg.textContent = start.title;
}

export function hideAuthProblem() {
  authProblem = false;
  $("#auth-banner").hidden = true;
  document.body.classList.remove("auth-blocked");
  // The next status says whether Start is off for another reason.
  const start = $("#start-zhongshu");
  start.disabled = document.body.classList.contains("agents-blocked");
  if (!start.disabled) {
    start.title = "";
    const msg = $("#start-msg");
    if (msg.classList.contains("start-blocked")) {
      msg.className = "form-msg";
      msg.textContent = "";
    }
  }
}

export function toast(message, kind = "info") {
  // The same words again (a button pressed twice) replace the ones shown.
  for (const old of $$("#toasts .toast")) {
    if (old.textContent === message && old.classList.contains(`toast-${kind}`)) old.remove();
  }
  const node = el("div", { class: `toast toast-${kind}`, text: message, attrs: { role: kind === "error" ? "alert" : "status" } });
  $("#toasts").appendChild(node);
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
}
