//! One WebSocket client of a terminal: PTY output out, keystrokes and resizes in.
//!
//! Output goes as binary frames: the scrollback first, then live chunks coalesced
//! up to [`BATCH_BYTES`]. Each send is awaited, so a client that does not drain its
//! socket holds at most one frame here; meanwhile its broadcast receiver lags and
//! skips ahead (the PTY's channel is bounded), and it gets a `lagged` notice.
//! Control goes as text frames: `read_only`, `exit`, `error`, `lagged`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::shared::Shared;

/// Largest output frame we build from several chunks.
const BATCH_BYTES: usize = 64 * 1024;
/// After the process exits, how long to wait for its last output (a background
/// child may keep the terminal open) before sending the exit frame anyway.
const EXIT_DRAIN: Duration = Duration::from_secs(1);

type Sink = SplitSink<WebSocket, Message>;

/// What a client may send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

/// Counts a client of the terminal while it is connected.
struct Viewer(Arc<tokio::sync::watch::Sender<usize>>);

impl Viewer {
    fn new(viewers: &Arc<tokio::sync::watch::Sender<usize>>) -> Viewer {
        viewers.send_modify(|n| *n += 1);
        Viewer(Arc::clone(viewers))
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Serves one client until it leaves, the socket fails, or the terminal closes.
pub(crate) async fn run(socket: WebSocket, s: Arc<Shared>) {
    let _viewer = Viewer::new(&s.viewers);
    let (mut sink, stream) = socket.split();
    let (control_tx, control_rx) = mpsc::channel::<String>(16);
    let mut stop = s.shutdown.clone();
    let closed_by_us = tokio::select! {
        _ = pump(&mut sink, &s, control_rx) => false,
        _ = incoming(stream, &s, control_tx) => false,
        _ = stop.wait_for(|stop| *stop) => true,
    };
    if closed_by_us {
        let bye = Message::Close(Some(CloseFrame {
            code: 1001,
            reason: "terminal closed".into(),
        }));
        // A client that does not read gets no goodbye; dropping the socket will do.
        let _ = tokio::time::timeout(Duration::from_millis(500), sink.send(bye)).await;
    }
}

fn control(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

/// Output to the client: scrollback, live chunks, the exit code, control frames.
async fn pump(
    sink: &mut Sink,
    s: &Shared,
    mut control_rx: mpsc::Receiver<String>,
) -> Result<(), axum::Error> {
    let (scrollback, mut rx) = s.pty.subscribe();
    let mut exit = s.pty.exit_watch();
    let mut output_closed = s.pty.output_closed_watch();
    if !s.kind.accepts_input() {
        sink.send(control(serde_json::json!({"type": "read_only"})))
            .await?;
    }
    for part in scrollback.chunks(BATCH_BYTES) {
        sink.send(Message::Binary(Bytes::copy_from_slice(part)))
            .await?;
    }
    let mut exit_sent = false;
    let mut exit_deadline: Option<Instant> = None;
    let mut rx_open = true;
    let mut exit_open = true;
    loop {
        // Once the process ended and its last output is forwarded, say so (once).
        if !exit_sent {
            let code = *exit.borrow_and_update();
            if let Some(code) = code {
                let drained = *output_closed.borrow_and_update()
                    || exit_deadline.is_some_and(|d| Instant::now() >= d);
                if drained {
                    while let Some((batch, skipped)) = next_batch(None, &mut rx) {
                        send_batch(sink, batch, skipped).await?;
                    }
                    sink.send(control(serde_json::json!({"type": "exit", "code": code})))
                        .await?;
                    exit_sent = true;
                } else {
                    exit_deadline.get_or_insert_with(|| Instant::now() + EXIT_DRAIN);
                }
            }
        }
        let exit_pending = exit_open && exit.borrow().is_none();
        let output_pending = !exit_sent && !*output_closed.borrow();
        let deadline = exit_deadline.filter(|_| !exit_sent);
        tokio::select! {
            r = rx.recv(), if rx_open => match r {
                Ok(chunk) => {
                    if let Some((batch, skipped)) = next_batch(Some(chunk), &mut rx) {
                        send_batch(sink, batch, skipped).await?;
                    }
                }
                Err(RecvError::Lagged(n)) => send_batch(sink, Vec::new(), n).await?,
                Err(RecvError::Closed) => rx_open = false,
            },
            text = control_rx.recv() => match text {
                Some(text) => sink.send(Message::Text(text.into())).await?,
                None => return Ok(()),
            },
            // The waiter always publishes a code before it goes; if not, give up on it.
            r = exit.changed(), if exit_pending => exit_open = r.is_ok(),
            _ = output_closed.changed(), if output_pending => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
        }
    }
}

/// `first` (if any) plus whatever else is ready, up to [`BATCH_BYTES`], and how
/// many chunks were skipped because this client lagged. `None` if nothing ready.
fn next_batch(
    first: Option<Arc<[u8]>>,
    rx: &mut broadcast::Receiver<Arc<[u8]>>,
) -> Option<(Vec<u8>, u64)> {
    let mut batch = Vec::new();
    if let Some(chunk) = first {
        batch.extend_from_slice(&chunk);
    }
    let mut skipped = 0;
    while batch.len() < BATCH_BYTES {
        match rx.try_recv() {
            Ok(chunk) => batch.extend_from_slice(&chunk),
            Err(TryRecvError::Lagged(n)) => skipped += n,
            Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
        }
    }
    (!batch.is_empty() || skipped > 0).then_some((batch, skipped))
}

async fn send_batch(sink: &mut Sink, batch: Vec<u8>, skipped: u64) -> Result<(), axum::Error> {
    if skipped > 0 {
        let notice = serde_json::json!({"type": "lagged", "skipped_chunks": skipped});
        sink.send(control(notice)).await?;
    }
    if !batch.is_empty() {
        sink.send(Message::Binary(Bytes::from(batch))).await?;
    }
    Ok(())
}

/// Input from the client. Replies (errors) go through `control_tx` to the pump.
async fn incoming(
    mut stream: SplitStream<WebSocket>,
    s: &Shared,
    control_tx: mpsc::Sender<String>,
) {
    while let Some(Ok(message)) = stream.next().await {
        let reply = match message {
            Message::Text(text) => handle_frame(text.as_str(), s).await,
            Message::Binary(_) => {
                Some("binary frames are not accepted; send {\"type\":\"input\"}".to_string())
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => None,
        };
        if let Some(reply) = reply {
            let frame = serde_json::json!({"type": "error", "error": reply}).to_string();
            if control_tx.send(frame).await.is_err() {
                break;
            }
        }
    }
}

/// Applies one client frame; `Some(message)` is an error to report back.
async fn handle_frame(text: &str, s: &Shared) -> Option<String> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => return Some(format!("malformed frame: {e}")),
    };
    match frame {
        ClientFrame::Input { data } => {
            if !s.kind.accepts_input() {
                return Some("read-only preview: input refused".to_string());
            }
            if s.pty.exit_code().is_some() {
                return Some("the process has exited".to_string());
            }
            // A process that does not read its input can block the write: keep it
            // off the async workers, and in order (awaited before the next frame).
            let pty = Arc::clone(&s.pty);
            match tokio::task::spawn_blocking(move || pty.write(data.as_bytes())).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("input failed: {e}")),
                Err(_) => Some("input failed".to_string()),
            }
        }
        // A preview must not change the size of the session it watches.
        ClientFrame::Resize { .. } if !s.kind.accepts_input() => None,
        ClientFrame::Resize { cols, rows } => {
            if !(1..=1000).contains(&cols) || !(1..=1000).contains(&rows) {
                return Some("resize out of range (1..=1000)".to_string());
            }
            s.pty.resize(cols, rows).err().map(|e| e.to_string())
        }
    }
}
