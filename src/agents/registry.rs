//! Which backend drives the agents: the one the settings name. The only place
//! outside a backend's own module that names the backends.

use std::sync::Arc;

use super::{codex, pty, AgentBackend};
use crate::config::AgentBackendSettings;
use crate::model::Backend;

/// The backend the settings choose.
pub fn backend_for(
    settings: &AgentBackendSettings,
    agent_command: &[String],
) -> Arc<dyn AgentBackend> {
    match settings.backend {
        Backend::Codex => Arc::new(codex::CodexBackend::new(settings)),
        Backend::Pty => Arc::new(pty::PtyBackend::new(agent_command.to_vec())),
    }
}
