// Times, durations and token counts, in one format everywhere.

export const enc = encodeURIComponent;

export function list(items) {
  return Array.isArray(items) ? items.filter((x) => x !== null && x !== undefined && x !== "") : [];
}

export function parseTime(text) {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

/** 14:03:07 (24 h, local). */
export function clock(text) {
  const t = parseTime(text);
  if (t === null) return "";
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** The local date and the clock. */
export function dateTime(text) {
  const t = parseTime(text);
  if (t === null) return text || "";
  const d = new Date(t);
  return `${d.toLocaleDateString()} ${clock(text)}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

/** How long a session ran: "running 2m 5s" while it runs, "ran 4m 12s" after. */
export function runText(s) {
  const start = parseTime(s && s.started_at);
  if (start === null) return "";
  const running = s.status === "running";
  const end = running ? Date.now() : parseTime(s.ended_at);
  if (end === null) return "";
  // A planner done with its plan still runs, but works on nothing: "up";
  // a suspended session runs nothing until its agent program starts.
  if (running && s.suspended) return "nothing runs meanwhile";
  const word = running ? (s.in_progress === false ? "up" : "running") : "ran";
  return `${word} ${duration((end - start) / 1000)}`;
}

/** "3 of 3 ended: 2 reported, 1 failed" (as the launcher says it to the Zhongshu). */
export function outcomeWords(o) {
  const parts = [[o.reported, "reported"], [o.failed, "failed"], [o.no_report, "without a report"], [o.stopped, "stopped"]]
    .filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}`);
  const ended = o.reported + o.failed + o.no_report + o.stopped;
  return parts.length ? `${ended} of ${o.assignments} ended: ${parts.join(", ")}` : "no assignment ran";
}

/** A Zhongshu's plan in words: "plan finished: 3 of 3 ended: 2 reported, 1 failed". */
export function planWords(s) {
  const ps = s.plan_status || "none";
  if (ps === "awaiting_confirmation") return "plan awaits confirmation";
  if ((ps === "finished" || ps === "stopped") && s.plan_outcome) return `plan ${ps}: ${outcomeWords(s.plan_outcome)}`;
  return `plan ${ps}`;
}

/** `12.3k tokens`, "" before any. */
export function tokensText(n) {
  if (!n) return "";
  return n >= 1000 ? `${(n / 1000).toFixed(n >= 100000 ? 0 : 1)}k tokens` : `${n} tokens`;
}

/** `$0.42`, "" when unknown. */
export function costText(usd) {
  if (usd === null || usd === undefined) return "";
  return usd >= 100 ? `$${usd.toFixed(0)}` : `$${usd.toFixed(2)}`;
}

/** The first `max` characters of `text` (whole ones: an emoji is not split
 * into half a surrogate pair), with "…" when it was longer. */
export function cutText(text, max) {
  const chars = Array.from(String(text || ""));
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

/** Where the launcher's words to the agent begin in a sent-back session's
 * task (src/integration/mod.rs, send_back): "<task>\n\n[Sent back by the
 * user] <note>\n\n[The user's review: N comments…\n\n]Your earlier work…". */
const SENT_BACK = "\n\n[Sent back by the user] ";
const NO_NOTE = "see the comments below";

/** A session's task as the user wrote it: a sent-back one shows its task
 * and the user's note, not the launcher's instructions around them. */
export function taskWords(task) {
  const text = task || "";
  const at = text.indexOf(SENT_BACK);
  if (at < 0) return text;
  const [note, next] = text.slice(at + SENT_BACK.length).split("\n\n");
  // With line comments (src/review/comments.rs, review_text): their count.
  const review = /^The user's review: (\d+) comment/.exec(next || "");
  if (!review) return `${text.slice(0, at)}\nSent back by you: ${note}`;
  const comments = `${review[1]} line comment${review[1] === "1" ? "" : "s"}`;
  // No note: the launcher's stand-in words (NO_NOTE in src/integration/mod.rs) are not the user's.
  if (note === NO_NOTE) return `${text.slice(0, at)}\nSent back by you with ${comments}`;
  return `${text.slice(0, at)}\nSent back by you: ${note} (with ${comments})`;
}

/** The parts as sentences, each ending in a full stop (unless it has one). */
export function sentences(...parts) {
  return parts.filter(Boolean).map((p) => (/[.!?…]$/.test(p.trim()) ? p.trim() : `${p.trim()}.`)).join(" ");
}

/** "1 file", "3 files": a count with its noun agreeing. */
export function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
