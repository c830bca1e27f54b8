//! The launcher's side of a fenced agent's network ([`super::reach`]): each
//! listener made in the agent's network is served here, outside it. A
//! model's loopback port is relayed to the same port on the host's
//! loopback; the tunnel answers an HTTP proxy's `CONNECT` (or a plain
//! request in absolute form) only for the model's hosts and refuses any
//! other with 403. Its tasks end with the agent (dropping the relay).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::reach::{join, Reach};

/// The longest request head the tunnel reads.
const HEAD_LIMIT: usize = 16 * 1024;

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
        let allowed: Arc<Vec<String>> = Arc::new(reach.allowed());
        let mut tasks = JoinSet::new();
        for (bind, listener) in listeners {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let target = reach.target(bind);
            let allowed = Arc::clone(&allowed);
            tasks.spawn(async move {
                // The connections go with the listener's task.
                let mut connections = JoinSet::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => {
                                let target = target.clone();
                                let allowed = Arc::clone(&allowed);
                                connections.spawn(async move {
                                    let _ = match target {
                                        Some((host, port)) => relay(stream, &host, port).await,
                                        None => tunnel(stream, &allowed).await,
                                    };
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
async fn tunnel(mut stream: TcpStream, allowed: &[String]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    let end = loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if head.len() > HEAD_LIMIT {
            return refuse(&mut stream, "431 Request Header Fields Too Large").await;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let Some(asked) = asked(&text) else {
        return refuse(&mut stream, "400 Bad Request").await;
    };
    let place = match &asked {
        Asked::Tunnel(place) | Asked::Plain(place) => place.clone(),
    };
    if !allowed.contains(&place) {
        tracing::info!("an agent's network: {place} refused (not its model's)");
        return refuse(&mut stream, "403 Forbidden").await;
    }
    let (host, port) = split_place(&place).ok_or_else(|| std::io::Error::other("no place"))?;
    let mut upstream = match TcpStream::connect((host.as_str(), port)).await {
        Ok(upstream) => upstream,
        Err(_) => return refuse(&mut stream, "502 Bad Gateway").await,
    };
    match asked {
        Asked::Tunnel(_) => {
            stream
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            upstream.write_all(&head[end..]).await?;
        }
        // The request as it came: a server takes its absolute form.
        Asked::Plain(_) => upstream.write_all(&head).await?,
    }
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
    Ok(())
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
