// What every "Needs you" item is made of (needs_you.js and the items of
// planner_needs.js and quota_needs.js): its nodes, its buttons, how it
// names a session, and the way to show one. User text is only ever set as
// textContent.

export const showSession = (id) => document.dispatchEvent(new CustomEvent("codex-governance:show-session", { detail: id }));

export function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

export function button(label, cls, onClick, data = {}) {
  const b = node("button", `small ${cls}`, label);
  b.type = "button";
  for (const [k, v] of Object.entries(data)) b.dataset[k] = v;
  b.addEventListener("click", onClick);
  return b;
}

/** How an item names a session: "planner zhongshu-1", a department by its title. */
export const title = (s) => (s.session_kind === "zhongshu" ? `Planner ${s.id}` : s.title || s.id);
