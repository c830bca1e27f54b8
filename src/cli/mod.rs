//! The binary's commands that do more than a few lines: each takes its
//! parsed arguments and answers with an exit code, saying what went wrong
//! on stderr (`main.rs` parses and dispatches).

pub mod phones;
pub mod report;
pub mod serve;
pub mod worktrees;
