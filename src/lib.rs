//! codex-governance: govern a team of coding agents from the root of a Git repository.
//!
//! The binary is a thin layer over these modules; each one is a concept of the
//! domain and can be used and tested without the HTTP server.

pub mod agents;
pub mod attempts;
pub mod audit;
pub mod bounded_run;
pub mod clock;
pub mod config;
pub mod config_trust;
pub mod context;
pub mod credentials;
pub mod dashboard_token;
pub mod demo;
pub mod error;
pub mod files;
pub mod forge;
pub mod git_ffi;
pub mod glob;
pub mod ids;
pub mod instance;
pub mod integration;
pub mod landing;
pub mod launcher;
pub mod launcher_client;
pub mod limits;
pub mod mailbox;
pub mod model;
pub mod net;
pub mod notify;
pub mod paste_mode;
pub mod phones;
pub mod placement;
pub mod plans;
pub mod platform;
pub mod policy;
pub mod private_state;
pub mod pty;
pub mod quota;
pub mod report;
pub mod repository;
pub mod review;
pub mod sanitize;
pub mod second_opinion;
pub mod secret;
pub mod sessions;
pub mod signals;
pub mod store;
pub mod suggest;
pub mod terminal;
pub mod terminal_text;
#[cfg(test)]
mod test_tools;
pub mod text;
pub mod tools;
pub mod views;
pub mod web;
pub mod worktrees;
