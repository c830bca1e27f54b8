//! The launcher's side of a session's MCP server: a listener on the
//! session's socket, each connection served with its tools.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use tokio::sync::{mpsc, oneshot};

use crate::agents::{AgentEvent, ToolAnswer, ToolCall, ToolReply, ToolSpec};

/// One session's governance tools, served over MCP.
#[derive(Clone)]
pub struct SessionTools {
    tools: Arc<Vec<ToolSpec>>,
    events: mpsc::UnboundedSender<AgentEvent>,
    calls: Arc<AtomicU64>,
}

impl SessionTools {
    /// `tools`, whose calls go to `events` (the session's own).
    pub fn new(tools: Vec<ToolSpec>, events: mpsc::UnboundedSender<AgentEvent>) -> SessionTools {
        SessionTools {
            tools: Arc::new(tools),
            events,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Carries one call to the session's tool handler and waits for its answer.
    async fn call(&self, name: &str, arguments: serde_json::Value) -> ToolAnswer {
        if !self.tools.iter().any(|t| t.name == name) {
            return ToolAnswer {
                text: format!("no tool {name:?} here"),
                success: false,
            };
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        let tx = Mutex::new(Some(tx));
        let reply = ToolReply::new(move |answer: &ToolAnswer| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(answer.clone());
            }
            Ok(())
        });
        let call = ToolCall {
            call_id: format!("mcp-{n}"),
            tool: name.to_string(),
            arguments,
            reply,
        };
        if self.events.send(AgentEvent::ToolCall(call)).is_err() {
            return ToolAnswer {
                text: "the session has ended".into(),
                success: false,
            };
        }
        rx.await.unwrap_or(ToolAnswer {
            text: "the launcher gave no answer (it is stopping)".into(),
            success: false,
        })
    }
}

impl ServerHandler for SessionTools {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("codex-governance", env!("CARGO_PKG_VERSION"));
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .tools
            .iter()
            .map(|t| {
                let schema = t.input_schema.as_object().cloned().unwrap_or_default();
                Tool::new(t.name, t.description.clone(), schema)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let answer = self.call(&request.name, arguments).await;
        let content = vec![ContentBlock::text(answer.text)];
        Ok(if answer.success {
            CallToolResult::success(content)
        } else {
            CallToolResult::error(content)
        }
        .into())
    }
}

/// A session's socket, served while it is held; removed when dropped (with
/// its folder, once empty).
pub struct ToolsSocket {
    path: PathBuf,
    address: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ToolsSocket {
    /// Listens on `path` (a new file in a private folder; on Windows a named
    /// pipe instead) and serves `tools` to every connection.
    pub fn open(path: &Path, tools: SessionTools) -> std::io::Result<ToolsSocket> {
        let mut listener = crate::platform::listen_local(path)?;
        let address = listener.address().to_path_buf();
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok(stream) => stream,
                    // One failed connection (or a moment out of descriptors)
                    // does not end the session's tools.
                    Err(e) => {
                        tracing::warn!("the MCP socket failed to accept a connection: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let tools = tools.clone();
                tokio::spawn(async move {
                    match tools.serve(stream).await {
                        Ok(running) => {
                            let _ = running.waiting().await;
                        }
                        Err(e) => tracing::warn!("an MCP connection failed to start: {e}"),
                    }
                });
            }
        });
        Ok(ToolsSocket {
            path: path.to_path_buf(),
            address,
            task,
        })
    }

    /// The socket's file (its folder is the agent's to reach).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the relay names to reach it: the socket's path (a named pipe's
    /// name on Windows).
    pub fn address(&self) -> &Path {
        &self.address
    }
}

impl Drop for ToolsSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
        if let Some(folder) = self.path.parent() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}
