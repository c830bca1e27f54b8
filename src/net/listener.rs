//! Accepting connections with limits a browser-facing server needs: a request
//! head is capped in size (431) and must arrive within a deadline (slowloris);
//! a connection that sends nothing at all is closed sooner; one peer cannot
//! hold every connection, and a full listener makes room instead of queueing
//! newcomers behind idle sockets ([`super::peers`]). WebSocket upgrades are
//! supported (terminals use this too). Stopping drains in-flight requests for
//! a bounded time.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::peers::{Connection, Peers, PER_PEER};

/// Time a client has to send a request head (the first, and each next one on a
/// kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a new connection may stay silent: browsers and scripts send their
/// request at once, so one that has said nothing by then is a held socket.
pub const QUIET_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest request head accepted (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Read buffer of a connection (bodies are read through it in pieces).
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// Connections the kernel completes before the accept loop takes them. The
/// standard 128 overflows while a flood of reconnecting sockets waits, and a
/// dropped handshake costs a newcomer a 1 s retransmission; the kernel caps
/// this at `somaxconn`.
const BACKLOG: u32 = 1024;

/// Connections admitted between two turns given to the connections' tasks
/// (far below [`PER_PEER`], so none is pushed out before it was read).
const YIELD_EVERY: usize = 16;

/// A listener on `addr` with room for [`BACKLOG`] waiting connections.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As the standard library does: rebinding a port in TIME_WAIT on Unix; never
    // on Windows, where it would let another program take the port over.
    crate::platform::reuse_address(&socket)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `app` on `listener` until `stop` resolves, then asks every connection
/// to finish and waits at most `drain` for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let peers = Arc::new(Peers::new(PER_PEER, MAX_CONNECTIONS));
    let mut admitted = 0usize;
    let (stopping, _) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Over a cap with nothing that can give way: the newcomer is closed.
        let Some(conn) = peers.admit(peer.ip()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = Tracked {
            app: TowerToHyperService::new(app.clone()),
            conn: Arc::clone(&conn),
        };
        let stopped = stopping.subscribe();
        let peers = Arc::clone(&peers);
        tokio::spawn(async move {
            serve_connection(stream, service, stopped).await;
            peers.release(&conn);
        });
        // New connections read their requests before many more are admitted, so
        // a flood of newcomers cannot push one out before it has said anything.
        admitted += 1;
        if admitted.is_multiple_of(YIELD_EVERY) {
            tokio::task::yield_now().await;
        }
    }
    drop(listener);
    stopping.send_replace(true);
    let _ = tokio::time::timeout(drain, peers.all_closed()).await;
}

/// One connection until it ends, is made to give way, stays silent too long,
/// or the server stops.
async fn serve_connection(stream: TcpStream, service: Tracked, mut stopped: watch::Receiver<bool>) {
    let conn = Arc::clone(&service.conn);
    let io = Heard {
        inner: stream,
        conn: Arc::clone(&conn),
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(READ_BUFFER_BYTES);
    let served = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(served);
    let silent = async {
        tokio::time::sleep(QUIET_TIMEOUT).await;
        if conn.has_been_heard() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = served.as_mut() => {}
        // Dropping the connection closes the socket.
        _ = conn.evicted() => {}
        _ = silent => {}
        _ = async { stopped.wait_for(|s| *s).await.map(|_| ()) } => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}

/// The router, with each request marked in progress on its connection until
/// its answer is sent, and the connection in the request's extensions.
struct Tracked {
    app: TowerToHyperService<Router>,
    conn: Arc<Connection>,
}

impl Service<Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let busy = self.conn.busy();
        request.extensions_mut().insert(Arc::clone(&self.conn));
        let answer = self.app.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // The answer is in progress until its body is sent (or dropped).
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_progress = &busy;
                    frame
                }))
            }))
        })
    }
}

/// A stream that notes on its connection when the client first sends a byte.
struct Heard {
    inner: TcpStream,
    conn: Arc<Connection>,
}

impl AsyncRead for Heard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.conn.heard();
        }
        read
    }
}

impl AsyncWrite for Heard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
