//! What an agent's token, or a paired phone's, may see of a record: one step
//! every view they read passes through (`web::owned`), so a new view cannot
//! forget it.

/// A view with parts only the developer sees (terminal URLs, which carry a
/// token that types into a PTY; transcripts; typed input).
pub trait Redact {
    /// Leaves what an agent's token may see.
    fn hide_from_agents(&mut self);
}
