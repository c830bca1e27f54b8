//! What the test modules share: the launcher harness (`launcher`, which the
//! modules name `support`), mailbox helpers, terminal and browser clients, the
//! attack tools, the scripted model server for the real Codex CLI, the
//! loopback ssh host and the private podman for departments elsewhere, the
//! steps of a department that works elsewhere (`elsewhere`) and the scripted
//! model's answers the Codex tests repeat (`scripted`).
//!
//! The pieces only the Unix modules use are built on Unix only, so the Windows
//! lane (`tools/test.sh`) builds just what it runs.

#[cfg(unix)]
pub mod anthropic_server;
#[cfg(unix)]
pub mod attack;
pub mod audit;
#[cfg(unix)]
pub mod axe;
#[cfg(unix)]
pub mod browser;
pub mod demo;
#[cfg(unix)]
pub mod elsewhere;
#[cfg(unix)]
pub mod flaky;
pub mod footprint;
#[cfg(unix)]
pub mod forge;
#[cfg(unix)]
pub mod gemini_server;
pub mod launcher;
pub mod mailbox;
#[cfg(unix)]
pub mod model_server;
#[cfg(unix)]
pub mod ntfy;
#[cfg(unix)]
pub mod page;
#[cfg(unix)]
pub mod plans;
#[cfg(unix)]
pub mod podman;
#[cfg(unix)]
pub mod real_acp;
pub mod scenario;
#[cfg(unix)]
pub mod scopes;
#[cfg(unix)]
pub mod scripted;
#[cfg(unix)]
pub mod sshd;
#[cfg(unix)]
pub mod telegram;
pub mod terminal;
#[cfg(unix)]
pub mod tier;

pub use launcher::git;
