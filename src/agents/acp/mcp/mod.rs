//! The governance tools as an MCP server, for agents that take their tools
//! from MCP servers (the ACP backend): the same tools a Codex thread gets,
//! their calls carried to the launcher's tool handler as
//! [`AgentEvent::ToolCall`](crate::agents::AgentEvent)s of the session they
//! are served for, and answered from there.
//!
//! Why a socket per session and a relay: the agent starts its MCP servers
//! itself, from its `mcpServers` list, as children speaking MCP on stdio. The
//! launcher names `codex-governance mcp-serve --socket <path>` there, a relay
//! that only copies its stdio to that socket; the launcher listens on it and
//! serves that one session's tools. So the binding is the socket the relay
//! reaches, never an argument or a key: nothing in the `mcpServers` entry
//! reaches the launcher's HTTP API, a tool call's caller is the session whose
//! socket it came on, and a session cannot call tools as another without
//! reaching that other's socket, which lives in the launcher's private state
//! folder (a confined agent sees only its own). On Windows the socket is a
//! named pipe of a fresh random name: there ACP agents run unconfined, as the
//! user, so like any unconfined agent they could reach another's tools.

mod server;

pub use server::{SessionTools, ToolsSocket};

use std::path::Path;

/// `codex-governance mcp-serve --socket PATH`: copies stdin to the session's
/// socket (on Windows its named pipe) and the socket to stdout until either
/// side ends.
pub async fn relay(socket: &Path) -> std::io::Result<()> {
    let stream = crate::platform::connect_tools(socket).await?;
    let (mut from_socket, mut to_socket) = tokio::io::split(stream);
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let up = async {
        tokio::io::copy(&mut stdin, &mut to_socket).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut to_socket).await
    };
    let down = async {
        tokio::io::copy(&mut from_socket, &mut stdout).await?;
        tokio::io::AsyncWriteExt::flush(&mut stdout).await
    };
    // Either side's end ends the relay: the agent closed its stdin, or the
    // launcher closed the session's socket.
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}
