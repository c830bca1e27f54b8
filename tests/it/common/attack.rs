//! Helpers for the attack and fault suites (and the load bench) on top of
//! `common/launcher.rs`: raw requests with chosen headers, a status-line-only
//! request for streaming routes, WebSocket handshakes with chosen Host and Origin,
//! file-tree snapshots, a seeded RNG, `/proc` readings and a tmpfs mount guard.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::launcher::{raw, RawResponse, PATIENCE};

/// A request as an attacker would write it. `host: None` leaves the header out.
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl<'a> Req<'a> {
    pub fn new(method: &'a str, path: &'a str, host: Option<String>) -> Req<'a> {
        Req {
            method,
            path,
            host,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req<'a> {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Req<'a> {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req<'a> {
        self.body = body.into();
        self
    }

    /// A JSON POST body (Content-Type application/json).
    pub fn json(self, body: &serde_json::Value) -> Req<'a> {
        self.header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub fn head(&self) -> String {
        let mut head = format!("{} {} HTTP/1.1\n", self.method, self.path);
        if let Some(h) = &self.host {
            head.push_str(&format!("Host: {h}\n"));
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\n"));
        }
        head
    }

    /// Sends with `Connection: close` and reads the whole answer.
    pub async fn send(&self, addr: SocketAddr) -> RawResponse {
        raw(addr, &self.head(), &self.body).await
    }

    /// Sends and reads only the status line and headers (for streaming routes).
    pub async fn status_only(&self, addr: SocketAddr) -> (u16, Vec<(String, String)>) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut req = self.head().trim_end().replace('\n', "\r\n");
        if !self.body.is_empty() {
            req.push_str(&format!("\r\nContent-Length: {}", self.body.len()));
        }
        req.push_str("\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.expect("write head");
        let _ = stream.write_all(&self.body).await;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(PATIENCE, async {
            loop {
                if find(&buf, b"\r\n\r\n").is_some() {
                    break;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "no answer head in time for {}", self.path);
        let text = String::from_utf8_lossy(&buf);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer for {}: {text:?}", self.path));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers)
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Names of every `access-control-*` header in an answer.
pub fn cors_headers(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.starts_with("access-control-"))
        .map(|(k, _)| k.clone())
        .collect()
}

/// A route template from `route_table()` made concrete (`{*path}` → an asset).
pub fn concrete(path: &str) -> String {
    path.replace("{*path}", "dashboard.js")
}

/// A port that is not `port` (for "another localhost port" origins and hosts).
pub fn other_port(port: u16) -> u16 {
    if port == u16::MAX {
        port - 1
    } else {
        port + 1
    }
}

use super::footprint;
#[allow(unused_imports)] // faults.rs uses neither
pub use footprint::{tree, Footprint};

/// A small deterministic RNG (splitmix64), seeded per test cycle.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// VmRSS of a process in KiB (None once it is gone).
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// True while any process belongs to process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-(pgid as libc::pid_t), 0) == 0 }
}

/// Set in the copy of a test run inside a user and mount namespace.
const IN_NAMESPACE: &str = "CODEX_GOVERNANCE_TEST_IN_NAMESPACE";

/// Whether this process may mount a tmpfs: true when it can (root with
/// CAP_SYS_ADMIN, or inside the namespace). Otherwise the test `name` (its
/// path in the test binary, `module::test`) is run
/// again by this same test binary inside `unshare --user --map-root-user
/// --mount` (util-linux; its children, the launcher and its agents, share the
/// namespace), its output is passed on, it must pass, and false is returned:
/// the caller has nothing left to do.
pub fn may_mount_or_run_in_namespace(name: &str) -> bool {
    if std::env::var_os(IN_NAMESPACE).is_some() || can_mount_tmpfs() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--"])
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("not root: this test mounts a tmpfs inside `unshare` (util-linux; tools/test.sh installs it): {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{name}, run in a user and mount namespace (not root): {}",
        out.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in the namespace: {stdout}"
    );
    false
}

/// Mounts and unmounts a tiny tmpfs: whether mounting is permitted here.
fn can_mount_tmpfs() -> bool {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let run = |cmd: &mut std::process::Command| {
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    run(std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
        .arg(dir.path()))
        && run(std::process::Command::new("umount").arg(dir.path()))
}

/// A tmpfs mounted at `dir` for the life of the guard (lazy unmount on drop, so a
/// failed test never leaves it behind).
pub struct TmpfsMount {
    pub dir: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `size` (e.g. "512k"); fails the test with a clear
    /// message when that is not permitted.
    pub fn mount(dir: &Path, size: &str) -> TmpfsMount {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => TmpfsMount {
                dir: dir.to_path_buf(),
            },
            Ok(o) => panic!(
                "this fault test needs to mount a tmpfs (root, or an unprivileged user namespace: see may_mount_or_run_in_namespace): `mount -t tmpfs -o size={size} tmpfs {}` failed: {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("this fault test needs the `mount` command: {e}"),
        }
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(&self.dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status();
        }
    }
}

/// Writes `filler` in 4 KiB blocks (then single bytes) until the file system
/// refuses; returns the bytes written.
pub fn fill_disk(filler: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(filler).expect("create the filler file");
    let block = vec![0xA5u8; 4096];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    while let Ok(1) = f.write(&block[..1]) {
        written += 1;
    }
    let _ = f.sync_all();
    written
}

/// Waits (polling) up to `timeout` for `f` to hold; false if it never did.
pub fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `fake-agent --record-stdin <dir>` recorded for `session`, once the
/// recording holds `pastes` pastes each followed by Enter.
pub async fn recorded_pastes(dir: &Path, session: &str, pastes: usize) -> Vec<u8> {
    let path = dir.join(format!("{session}.stdin"));
    super::launcher::wait_until(
        &format!("{pastes} typed paste(s) in {}", path.display()),
        PATIENCE,
        || {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let ends = bytes.windows(7).filter(|w| w == b"\x1b[201~\r").count();
            async move { (ends >= pastes).then_some(bytes) }
        },
    )
    .await
}

/// Splits a recording of typed text into the pastes' bodies. Fails the test
/// when any byte arrived outside a paste (other than the Enter after each one)
/// or when a body holds an escape or another control key.
pub fn paste_bodies(recording: &[u8]) -> Vec<String> {
    const START: &[u8] = b"\x1b[200~";
    const END: &[u8] = b"\x1b[201~";
    let shown = String::from_utf8_lossy(recording).into_owned();
    let mut rest = recording;
    let mut bodies = Vec::new();
    while !rest.is_empty() {
        assert!(
            rest.starts_with(START),
            "typed outside a paste: {:?} in {shown:?}",
            String::from_utf8_lossy(rest)
        );
        let body = &rest[START.len()..];
        let end = find(body, END).unwrap_or_else(|| panic!("a paste never ended: {shown:?}"));
        let text = String::from_utf8(body[..end].to_vec()).expect("UTF-8 paste");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "a control character inside the paste {text:?}"
        );
        bodies.push(text);
        rest = &body[end + END.len()..];
        assert!(
            rest.starts_with(b"\r"),
            "after a paste came {:?}, not Enter, in {shown:?}",
            String::from_utf8_lossy(rest)
        );
        rest = &rest[1..];
    }
    bodies
}
