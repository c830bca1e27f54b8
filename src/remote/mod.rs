//! Departments on other machines (issue 53): hosts named under
//! `launcher.remotes`, reached with the user's own `ssh` and nothing of ours
//! on the host. This first step checks each host before any department is
//! placed there ([`preflight`]): the same Codex version on both sides, git
//! and the repository's clone present, and Codex's sandbox working there
//! (a host whose commands would run unsandboxed is refused unless the user
//! set `sandbox: none` for it). What it finds is kept in [`Hosts`] for the
//! status and the page.

pub mod hosts;
pub mod preflight;
pub mod ssh;

pub use hosts::{HostView, Hosts};
