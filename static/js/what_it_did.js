// "What it did" in the changes drawer: the department's conversation as a
// readable record (messages, commands with exit codes, file changes, tool
// calls, approvals). Issue 37 item 3 belongs to the conversation view; this
// is its slot in the drawer, placed after the department's summary and
// verdict (decision.js calls whatItDid once per drawer). Until that view
// exists it adds nothing.

/** The drawer section for the changes view `v` (GET /api/changes), or null. */
export function whatItDid(v) {
  void v;
  return null;
}
