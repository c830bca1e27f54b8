//! The integration tests, one binary: a module per area, the shared harness in
//! `common`. Run one area with a filter: `cargo test --test it mailbox::`.
//!
//! The modules gated `cfg(unix)` drive `/bin/sh`, `/proc`, Chromium or the
//! real Codex CLI; the others also run in the Windows lane under Wine
//! (`tools/test.sh`), which builds this binary for Windows and runs it whole.

mod common;

mod acp;
#[cfg(unix)]
mod acp_claude;
#[cfg(unix)]
mod acp_codex;
#[cfg(unix)]
mod acp_gemini;
#[cfg(unix)]
mod attacks;
#[cfg(unix)]
mod attempts_browser;
#[cfg(unix)]
mod attempts_compared;
#[cfg(unix)]
mod codex;
#[cfg(unix)]
mod codex_confined;
#[cfg(unix)]
mod codex_contract;
#[cfg(unix)]
mod config_trust;
#[cfg(unix)]
mod containers;
#[cfg(unix)]
mod containers_made;
#[cfg(unix)]
mod control;
#[cfg(unix)]
mod control_browser;
#[cfg(unix)]
mod dashboard_browser;
#[cfg(unix)]
mod edges_browser;
#[cfg(unix)]
mod faults;
mod first_run;
#[cfg(unix)]
mod isolation;
#[cfg(unix)]
mod landing;
mod launcher;
#[cfg(unix)]
mod layout_browser;
mod mailbox;
mod mailbox_crash;
#[cfg(unix)]
mod needs_you_browser;
#[cfg(unix)]
mod notify;
#[cfg(unix)]
mod notify_browser;
#[cfg(unix)]
mod page_scripts;
#[cfg(unix)]
mod phone_browser;
#[cfg(unix)]
mod placements_walk;
#[cfg(unix)]
mod pull_requests;
mod python_compat;
#[cfg(unix)]
mod python_parity;
#[cfg(unix)]
mod remotes;
mod report;
#[cfg(unix)]
mod review;
#[cfg(unix)]
mod review_browser;
#[cfg(unix)]
mod review_comments;
#[cfg(unix)]
mod review_comments_browser;
#[cfg(unix)]
mod review_findings;
#[cfg(unix)]
mod second_opinion;
#[cfg(unix)]
mod setup_browser;
#[cfg(unix)]
mod tailnet;
#[cfg(unix)]
mod tailnet_browser;
#[cfg(unix)]
mod terminal_browser;
mod terminal_ws;
mod windows_loop;
mod windows_terminal;
#[cfg(unix)]
mod words_browser;
#[cfg(unix)]
mod worktree_ready;
