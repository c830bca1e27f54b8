//! The launcher's side of a fenced agent's network ([`super::reach`]): each
//! listener made in the agent's network is served here, outside it. A
//! model's loopback port is relayed to the same port on the host's
//! loopback; the tunnel answers an HTTP proxy's `CONNECT` only for the
//! model's places and refuses any other with 403. A tunnel to a host by
//! name carries only a TLS session whose ClientHello names that host (a
//! shared front end routes by that name); a plain request in absolute form
//! is served only for a model on loopback or given by its address. An agent holds at most
//! [`MAX_CONNECTIONS`] at once, and a request head comes within
//! [`HEAD_PATIENCE`]. Its tasks end with the agent (dropping the relay).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::client_hello::{server_name, Hello};
use super::reach::{join, Reach};

/// The longest request head the tunnel reads.
const HEAD_LIMIT: usize = 16 * 1024;
/// How long a request head (or a tunnel's ClientHello) may take to come.
const HEAD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
/// The connections one agent may hold open at once, over all its listeners.
pub(super) const MAX_CONNECTIONS: usize = 64;

/// The tasks serving one agent's listeners; they end when it is dropped.
pub(super) struct Relay {
    tasks: JoinSet<()>,
}

impl Relay {
    /// Serves `listeners` (made in the agent's network) as `reach` says.
    pub fn serve(
        listeners: Vec<(SocketAddr, TcpListener)>,
        reach: &Reach,
    ) -> std::io::Result<Relay> {
        let allowed: Arc<Allowed> = Arc::new(Allowed {
            places: reach.allowed(),
            loopback: reach.loopback.iter().map(|(h, p)| join(h, *p)).collect(),
        });
        let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut tasks = JoinSet::new();
        for (bind, listener) in listeners {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let target = reach.target(bind);
            let allowed = Arc::clone(&allowed);
            let open = Arc::clone(&open);
            tasks.spawn(async move {
                // The connections go with the listener's task.
                let mut connections = JoinSet::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => {
                                // Over the limit, a connection is closed at once.
                                let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
                                    continue;
                                };
                                let target = target.clone();
                                let allowed = Arc::clone(&allowed);
                                connections.spawn(async move {
                                    let _ = match target {
                                        Some((host, port)) => relay(stream, &host, port).await,
                                        None => tunnel(stream, &allowed).await,
                                    };
                                    drop(permit);
                                });
                            }
                            Err(e) => {
                                tracing::warn!("an agent's network listener stopped: {e}");
                                return;
                            }
                        },
                        Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    }
                }
            });
        }
        Ok(Relay { tasks })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Where the tunnel opens to: every place, and those on loopback (a
/// model's own server there, which takes plain requests).
struct Allowed {
    places: Vec<String>,
    loopback: Vec<String>,
}

/// Copies `stream` to and from `host:port` on the host.
async fn relay(mut stream: TcpStream, host: &str, port: u16) -> std::io::Result<()> {
    let mut upstream = TcpStream::connect((host, port)).await?;
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
    Ok(())
}

/// A proxy's request: a tunnel (`CONNECT host:port`) or a plain request
/// to a host named in its target (`GET http://host/...`).
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Tunnel(String),
    Plain(String),
}

/// The place a request head asks for, `host:port` (host lowercase).
fn asked(head: &str) -> Option<Asked> {
    let line = head.lines().next()?;
    let mut words = line.split_whitespace();
    let method = words.next()?;
    let target = words.next()?;
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_place(target)?;
        return Some(Asked::Tunnel(join(&host, port)));
    }
    let rest = target.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = match split_place(authority) {
        Some(place) => place,
        None => (authority.trim_matches(['[', ']']).to_ascii_lowercase(), 80),
    };
    Some(Asked::Plain(join(&host, port)))
}

/// `host:port` (IPv6 in brackets) as a lowercase host and a port.
fn split_place(place: &str) -> Option<(String, u16)> {
    let (host, port) = place.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_matches(['[', ']']);
    (!host.is_empty() && !host.contains(['@', '/'])).then(|| (host.to_ascii_lowercase(), port))
}

/// Serves one proxy connection: only a place in `allowed` is reached.
async fn tunnel(mut stream: TcpStream, allowed: &Allowed) -> std::io::Result<()> {
    let Ok(head) = tokio::time::timeout(HEAD_PATIENCE, read_head(&mut stream)).await else {
        return refuse(&mut stream, "408 Request Timeout").await;
    };
    let Some((head, end)) = head? else {
        return refuse(&mut stream, "431 Request Header Fields Too Large").await;
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let Some(asked) = asked(&text) else {
        return refuse(&mut stream, "400 Bad Request").await;
    };
    let place = match &asked {
        Asked::Tunnel(place) | Asked::Plain(place) => place.clone(),
    };
    let (host, port) = split_place(&place).ok_or_else(|| std::io::Error::other("no place"))?;
    // A host by name may be a shared front end that routes by the name a
    // client gives: only a TLS session naming it goes there. A model the
    // user gave by address (or on loopback) takes the bytes as they come.
    let by_name = host.parse::<std::net::IpAddr>().is_err() && !allowed.loopback.contains(&place);
    let plain_by_name = matches!(asked, Asked::Plain(_)) && by_name;
    if !allowed.places.contains(&place) || plain_by_name {
        let shown: String = place.chars().take(80).collect();
        tracing::info!("an agent's network: {shown:?} refused (not its model's)");
        return refuse(&mut stream, "403 Forbidden").await;
    }
    let mut upstream = match TcpStream::connect((host.as_str(), port)).await {
        Ok(upstream) => upstream,
        Err(_) => return refuse(&mut stream, "502 Bad Gateway").await,
    };
    match asked {
        Asked::Tunnel(_) => {
            stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            let mut first = head[end..].to_vec();
            if by_name {
                // Only a TLS session with the model's host goes through.
                match tokio::time::timeout(HEAD_PATIENCE, hello(&mut stream, &mut first)).await {
                    Ok(Ok(Some(name))) if name == host => {}
                    _ => return stream.shutdown().await,
                }
            }
            upstream.write_all(&first).await?;
        }
        // The request as it came: a server takes its absolute form.
        Asked::Plain(_) => upstream.write_all(&head).await?,
    }
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
    Ok(())
}

/// A request head and where it ends, or `None` when it is too long.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, usize)>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some((head, at + 4)));
        }
        if head.len() > HEAD_LIMIT {
            return Ok(None);
        }
    }
}

/// Reads the tunnel's first bytes into `first` until its ClientHello names
/// a server; `None` for anything else.
async fn hello(stream: &mut TcpStream, first: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    let mut buffer = [0u8; 4096];
    loop {
        match server_name(first) {
            Hello::Names(name) => return Ok(Some(name)),
            Hello::Refused(why) => {
                tracing::info!("an agent's network: a tunnel refused ({why})");
                return Ok(None);
            }
            Hello::Partial if first.len() > HEAD_LIMIT + 5 => return Ok(None),
            Hello::Partial => {}
        }
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        first.extend_from_slice(&buffer[..read]);
    }
}

async fn refuse(stream: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_head_names_the_place_it_asks_for() {
        let tunnel = "CONNECT API.Anthropic.com:443 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            asked(tunnel),
            Some(Asked::Tunnel("api.anthropic.com:443".into()))
        );
        assert_eq!(
            asked("CONNECT [::1]:9000 HTTP/1.1\r\n\r\n"),
            Some(Asked::Tunnel("[::1]:9000".into()))
        );
        assert_eq!(
            asked("POST http://127.0.0.1:8080/v1/messages HTTP/1.1\r\n\r\n"),
            Some(Asked::Plain("127.0.0.1:8080".into()))
        );
        assert_eq!(
            asked("GET http://host.example/x HTTP/1.1\r\n\r\n"),
            Some(Asked::Plain("host.example:80".into()))
        );
        for bad in [
            "GET /x HTTP/1.1\r\n\r\n",
            "CONNECT host HTTP/1.1\r\n\r\n",
            "CONNECT user@host:443 HTTP/1.1\r\n\r\n",
            "",
        ] {
            assert_eq!(asked(bad), None, "{bad:?}");
        }
    }

    /// A server on the host's loopback that answers each connection with
    /// `WHO-<n>` and the first line it read.
    async fn answering() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buffer = [0u8; 256];
                let n = s.read(&mut buffer).await.unwrap_or(0);
                let first = String::from_utf8_lossy(&buffer[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let _ = s.write_all(format!("WHO {first}\n").as_bytes()).await;
            }
        });
        addr
    }

    async fn exchange(proxy: SocketAddr, sent: &str) -> String {
        let mut s = TcpStream::connect(proxy).await.unwrap();
        s.write_all(sent.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut buffer = [0u8; 512];
            while let Ok(n) = s.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buffer[..n]);
                if got.ends_with(b"\n") && String::from_utf8_lossy(&got).contains("WHO") {
                    break;
                }
            }
        })
        .await;
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn the_tunnel_opens_to_the_models_places_only() {
        let model = answering().await;
        let other = answering().await;
        let reach = Reach {
            loopback: Vec::new(),
            hosts: vec![format!("127.0.0.1:{}", model.port())],
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = listener.local_addr().unwrap();
        // Served as the tunnel (no loopback relay at that port).
        let _relay = Relay::serve(vec![(proxy, listener)], &reach).unwrap();
        let to_model = format!(
            "CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\nhello\r\n",
            model.port()
        );
        let got = exchange(proxy, &to_model).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(got.contains("WHO hello"), "{got}");
        let plain = format!("GET http://127.0.0.1:{}/x HTTP/1.1\r\n\r\n", model.port());
        let got = exchange(proxy, &plain).await;
        assert!(got.contains("WHO GET http://127.0.0.1"), "{got}");
        for asked in [
            format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", other.port()),
            format!("GET http://127.0.0.1:{}/ HTTP/1.1\r\n\r\n", other.port()),
        ] {
            let got = exchange(proxy, &asked).await;
            assert!(got.starts_with("HTTP/1.1 403"), "{asked}: {got}");
        }
    }

    /// Serves `reach`'s tunnel on a loopback port of the test's.
    fn tunnel_of(reach: &Reach) -> (SocketAddr, Relay) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = listener.local_addr().unwrap();
        (proxy, Relay::serve(vec![(proxy, listener)], reach).unwrap())
    }

    /// Opens a tunnel to `place` and sends `bytes` through it; what came back.
    async fn through(proxy: SocketAddr, place: &str, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(proxy).await.unwrap();
        let head = format!("CONNECT {place} HTTP/1.1\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 39];
        s.read_exact(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        s.write_all(bytes).await.unwrap();
        let mut got = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut got)).await;
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn a_tunnel_to_a_host_by_name_carries_only_tls_naming_that_host() {
        let model = answering().await;
        let place = format!("localhost:{}", model.port());
        let reach = Reach {
            loopback: Vec::new(),
            hosts: vec![place.clone()],
        };
        let (proxy, _relay) = tunnel_of(&reach);
        let to_it = crate::agents::acp::client_hello::hello_to("localhost");
        assert!(through(proxy, &place, &to_it).await.contains("WHO"));
        let elsewhere = crate::agents::acp::client_hello::hello_to("site.attacker.example");
        let got = through(proxy, &place, &elsewhere).await;
        assert_eq!(got, "", "a session naming another site went through");
        let got = through(proxy, &place, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(got, "", "plain bytes to a host by name went through");
        let plain = format!("GET http://{place}/ HTTP/1.1\r\n\r\n");
        let got = exchange(proxy, &plain).await;
        assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    }

    #[tokio::test]
    async fn an_agent_holds_only_so_many_connections_at_once() {
        let reach = Reach {
            loopback: Vec::new(),
            hosts: vec!["localhost:1".into()],
        };
        let (proxy, _relay) = tunnel_of(&reach);
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            held.push(TcpStream::connect(proxy).await.unwrap());
        }
        // Each of those is accepted and waits for its head; one more is
        // closed at once.
        let mut closed = false;
        for _ in 0..500 {
            let mut extra = TcpStream::connect(proxy).await.unwrap();
            let mut byte = [0u8; 1];
            match tokio::time::timeout(std::time::Duration::from_secs(2), extra.read(&mut byte))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        assert!(closed, "a connection over the limit was kept");
        drop(held);
    }

    #[tokio::test]
    async fn a_models_loopback_port_is_relayed_as_it_is() {
        let model = answering().await;
        let reach = Reach {
            loopback: vec![("127.0.0.1".into(), model.port())],
            hosts: Vec::new(),
        };
        // The agent's listener (here on another port of the same loopback,
        // named by the model's address as the fence would).
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let agents = listener.local_addr().unwrap();
        let relay = Relay::serve(vec![(model, listener)], &reach).unwrap();
        let got = exchange(agents, "anything at all\n").await;
        assert_eq!(got, "WHO anything at all\n");
        drop(relay);
        let mut gone = false;
        for _ in 0..500 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            if TcpStream::connect(agents).await.is_err() {
                gone = true;
                break;
            }
        }
        assert!(gone, "the listener outlived its relay");
    }
}
