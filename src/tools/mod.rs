//! The governance tools: what an agent with tools (Codex) may call instead of
//! the HTTP API. `spec` says what each role may call and checks the arguments;
//! `runner` carries a call out through the same services as the API.

mod answers;
pub mod runner;
pub mod spec;
