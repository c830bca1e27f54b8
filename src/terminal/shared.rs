//! What one terminal's listener and its connections share: the PTY, the token
//! and the origins allowed to open its WebSocket.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use tokio::sync::watch;

use super::{Origins, TerminalKind};
use crate::pty::Pty;

/// What one terminal's handlers share.
pub(crate) struct Shared {
    pub id: String,
    pub kind: TerminalKind,
    pub title: String,
    pub token: String,
    pub port: u16,
    pub pty: Arc<Pty>,
    pub origins: Origins,
    /// Turns true when the terminal is closed.
    pub shutdown: watch::Receiver<bool>,
    /// How many clients are connected (an on-demand terminal stops without them).
    pub viewers: Arc<watch::Sender<usize>>,
}

impl Shared {
    pub(super) fn token_ok(&self, given: Option<&str>) -> bool {
        given.is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.token.as_bytes())))
    }

    /// The terminal's own origins, then the dashboard's.
    pub(super) fn origin_allowed(&self, origin: &str) -> bool {
        origin == format!("http://127.0.0.1:{}", self.port)
            || origin == format!("http://localhost:{}", self.port)
            || self.origins.read().unwrap().iter().any(|o| o == origin)
    }

    pub(super) fn host_ok(&self, host: &str) -> bool {
        host.eq_ignore_ascii_case(&format!("127.0.0.1:{}", self.port))
            || host.eq_ignore_ascii_case(&format!("localhost:{}", self.port))
    }
}
