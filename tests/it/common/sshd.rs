//! A host on loopback for the tests of departments on other machines (issue
//! 53): Debian's OpenSSH server on `127.0.0.1:<free port>` with a host key,
//! an authorized key and a client configuration of its own in a temporary
//! folder. The launcher reaches it through `ssh` as a user would, with a
//! wrapper (`CODEX_GOVERNANCE_SSH`) that adds only `-F <this config>`:
//! BatchMode, host-key checking and the rest are the launcher's own.
//!
//! The server sets `SHLVL=1` for the commands it runs, so the host user's
//! `~/.bashrc` is not read (a stale pyenv lock there would make each command
//! wait a minute: see tools/test.sh).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tier::SSHD;
/// The name the client configuration gives the host.
pub const HOST: &str = "cg-test-host";

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
}

impl Sshd {
    /// A server on a free loopback port, ready to take a connection.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("cg-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            keygen(&d.join(key));
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let mut sshd = Sshd {
            dir,
            child: None,
            port,
        };
        sshd.write_known_hosts();
        sshd.write_configs();
        sshd.spawn();
        sshd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_configs(&self) {
        let d = self.dir.path().display();
        std::fs::write(
            self.path("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
                 SetEnv SHLVL=1\nPidFile {d}/sshd.pid\n",
                port = self.port
            ),
        )
        .unwrap();
        std::fs::write(
            self.path("ssh_config"),
            format!(
                "Host {HOST}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  \
                 IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n",
                port = self.port,
                user = whoami(),
            ),
        )
        .unwrap();
        let wrapper = self.ssh_wrapper();
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec ssh -F {d}/ssh_config \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The host key the client knows: the server's own.
    fn write_known_hosts(&self) {
        let key = std::fs::read_to_string(self.path("host_key.pub")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        std::fs::write(
            self.path("known_hosts"),
            format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")),
        )
        .unwrap();
    }

    fn spawn(&mut self) {
        // The server's privilege separation folder (root's server needs it).
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.path("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("sshd.log")).unwrap())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The program the launcher runs as its ssh (`CODEX_GOVERNANCE_SSH`).
    pub fn ssh_wrapper(&self) -> PathBuf {
        self.path("ssh")
    }

    /// The server's own log, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    /// The server comes back with a new host key: the client's known one no
    /// longer matches.
    pub fn change_host_key(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.path("host_key"));
        let _ = std::fs::remove_file(self.path("host_key.pub"));
        keygen(&self.path("host_key"));
        self.spawn();
    }

    /// The client knows no host key, and the user's configuration says to
    /// accept a new one (`StrictHostKeyChecking accept-new`). Returns the
    /// known-hosts file, which must stay empty.
    pub fn forget_host_key_accepting_new(&self) -> PathBuf {
        std::fs::write(self.path("known_hosts"), "").unwrap();
        let config = self.path("ssh_config");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("  StrictHostKeyChecking accept-new\n");
        std::fs::write(&config, text).unwrap();
        self.path("known_hosts")
    }

    /// The server back on the same port, with the same keys.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
