//! Real containers for the tests of departments in containers (issue 76):
//! Debian's podman, rootful, with every bit of its state in a folder of the
//! harness's own, and no registry reached.
//!
//! The recipe was proven on the project's VM (cgroup v1 with a hybrid cgroup2
//! mount, no `CAP_SYS_RESOURCE`, 2 cores):
//!
//! - `containers.conf`, `storage.conf` and `registries.conf` in the state
//!   folder, named by `CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF` and
//!   `CONTAINERS_REGISTRIES_CONF` on **every** podman command ([`Podman::env`]).
//!   Without them podman writes the machine's `/var/lib/containers`,
//!   `/dev/shm/libpod_lock`, and (without `netns = "none"`) a CNI bridge with
//!   iptables rules: never run it without them. Cgroups are disabled, the
//!   caller's rlimits kept (`default_ulimits = []`), storage is vfs, locks are
//!   files in the state folder (the default shm locks are machine-wide, and a
//!   fresh podman frees them all: parallel harnesses would clobber each other).
//! - crun refuses to start a container beside a hybrid cgroup2 mount, even
//!   with cgroups disabled: `podman run` (only it: `exec`, `rm`, `ps` need
//!   nothing) runs in a private mount namespace with a plain tmpfs over
//!   `/sys/fs/cgroup` ([`Podman::run_argv`]). conmon and the container keep
//!   that namespace.
//! - The image is a skeleton root folder (`--rootfs`, read-only) with the
//!   machine's `/usr` and the pinned Codex folder mounted read-only, and
//!   tmpfs on `/work` and `/root`: what a container writes there is not on
//!   this machine.
//! - conmon is re-parented to PID 1: only `podman rm` stops a container.
//!   Drop removes every container in the state folder before deleting it
//!   (else conmon and `sleep infinity` stay behind as orphans).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::tier::{codex_dir, PODMAN};

/// The label key every container the harness starts carries; its value is
/// unique to the harness ([`Podman::label`]).
pub const LABEL_KEY: &str = "cg.test";
/// Where the pinned Codex folder is mounted inside.
pub const CODEX_MOUNT: &str = "/opt/codex";

/// One private podman: a state folder with its configuration and a root
/// folder skeleton. Containers started here are removed on drop.
pub struct Podman {
    dir: tempfile::TempDir,
    label: String,
}

/// A running container of a [`Podman`]; a handle only (the harness removes it).
pub struct Container {
    name: String,
    env: Vec<(String, String)>,
}

impl Podman {
    /// A fresh state folder. Panics, saying what is missing, without podman
    /// (`needs!(Podman)` first) or the pinned Codex (`needs!(Codex)`).
    pub fn new() -> Podman {
        if let Some(missing) = super::tier::Tier::Podman.missing() {
            panic!("the podman harness needs {missing}: run tools/test.sh (it installs it)");
        }
        let codex = codex_dir();
        assert!(
            codex.join(native_codex_rel()).exists(),
            "the podman harness mounts the pinned Codex, and {} is missing: run tools/test.sh",
            codex.join(native_codex_rel()).display()
        );
        let dir = tempfile::Builder::new()
            .prefix("cg-podman-")
            .tempdir()
            .expect("a state folder for podman");
        let label = format!(
            "{LABEL_KEY}={}",
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let podman = Podman { dir, label };
        podman.write_configs();
        podman.make_rootfs();
        podman
    }

    /// The state folder (configuration, storage, locks, root folder).
    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The label (`cg.test=<unique>`) on the containers [`Podman::start`] starts.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The three variables every podman command of this harness runs with;
    /// the launcher under test needs them in its environment to run podman.
    pub fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.path();
        [
            ("CONTAINERS_CONF", "containers.conf"),
            ("CONTAINERS_STORAGE_CONF", "storage.conf"),
            ("CONTAINERS_REGISTRIES_CONF", "registries.conf"),
        ]
        .into_iter()
        .map(|(k, f)| (k.to_string(), d.join(f).display().to_string()))
        .collect()
    }

    /// The podman program (Debian's).
    pub fn program(&self) -> PathBuf {
        PathBuf::from(PODMAN)
    }

    /// A podman command with an empty environment but [`Podman::env`].
    pub fn command(&self) -> Command {
        podman_command(&self.env())
    }

    /// The argv to prepend to a command to run it in container `name` with its
    /// stdin passed (a provider's `exec`): `[podman, exec, -i, name]`.
    pub fn exec_argv(&self, name: &str) -> Vec<String> {
        exec_argv(name)
    }

    /// The argv that starts container `name` detached, `sleep infinity` as
    /// its PID 1, labelled [`Podman::label`] (a provider's `create`): the
    /// private mount namespace, then `podman run` with options before the
    /// root folder (`--rootfs` is a flag; the folder is the first positional).
    /// util-linux's `unshare -m` makes `/` private first, so the tmpfs over
    /// `/sys/fs/cgroup` is seen by podman, conmon and the container only.
    /// Prints the container's id. Needs [`Podman::env`] in its environment.
    pub fn run_argv(&self, name: &str) -> Vec<String> {
        let rootfs = self.dir.path().join("rootfs").display().to_string();
        let codex = codex_dir().display().to_string();
        let mut argv: Vec<String> = [
            "/usr/bin/unshare",
            "-m",
            "/bin/sh",
            "-c",
            "/bin/mount -t tmpfs -o size=64k,mode=755 none /sys/fs/cgroup && exec \"$@\"",
            "sh",
            PODMAN,
            "run",
            "-d",
            "--name",
            name,
            "--label",
            &self.label,
            "--network",
            "none",
            "--ipc",
            "private",
            "--read-only",
            "--stop-timeout",
            "0",
            "--pull",
            "never",
            "-w",
            "/work",
            "-e",
            "HOME=/root",
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/etc/alternatives:/etc/alternatives:ro",
            "-v",
            "/etc/ld.so.cache:/etc/ld.so.cache:ro",
            "-v",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(format!("{codex}:{CODEX_MOUNT}:ro"));
        argv.extend(
            ["--tmpfs", "/work", "--tmpfs", "/root", "--rootfs", &rootfs].map(String::from),
        );
        argv.extend(["sleep", "infinity"].map(String::from));
        argv
    }

    /// The argv that removes container `name` at once (a provider's `destroy`).
    pub fn remove_argv(&self, name: &str) -> Vec<String> {
        [PODMAN, "rm", "-f", "-t", "0", name]
            .map(String::from)
            .to_vec()
    }

    /// Starts container `name` ([`Podman::run_argv`]) and returns once it runs.
    pub fn start(&self, name: &str) -> Container {
        let argv = self.run_argv(name);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .envs(self.env())
            .stdin(Stdio::null())
            .output()
            .expect("run podman run");
        assert!(
            out.status.success(),
            "podman run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Container {
            name: name.to_string(),
            env: self.env(),
        }
    }

    /// Names of the containers (running or not) with `label`, `key=value` or
    /// just `key` (any value).
    pub fn leftovers(&self, label: &str) -> Vec<String> {
        let out = self
            .command()
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label={label}"))
            .output()
            .expect("run podman ps");
        assert!(
            out.status.success(),
            "podman ps: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// Removes container `name` at once (`rm -f -t 0`); true when podman did.
    pub fn remove(&self, name: &str) -> bool {
        self.command()
            .args(["rm", "-f", "-t", "0", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn write_configs(&self) {
        let s = self.dir.path().display();
        for sub in ["root", "run", "tmp", "net", "rootfs"] {
            std::fs::create_dir_all(self.dir.path().join(sub)).unwrap();
        }
        std::fs::write(
            self.dir.path().join("containers.conf"),
            format!(
                "[containers]\n\
                 cgroups = \"disabled\"\n\
                 default_ulimits = []\n\
                 netns = \"none\"\n\
                 pids_limit = 0\n\
                 log_driver = \"k8s-file\"\n\
                 \n\
                 [engine]\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\n\
                 events_logfile_path = \"{s}/events.log\"\n\
                 tmp_dir = \"{s}/tmp\"\n\
                 static_dir = \"{s}/root/libpod\"\n\
                 volume_path = \"{s}/root/volumes\"\n\
                 lock_type = \"file\"\n\
                 runtime = \"crun\"\n\
                 image_default_transport = \"containers-storage:\"\n\
                 \n\
                 [network]\n\
                 network_config_dir = \"{s}/net\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{s}/root\"\nrunroot = \"{s}/run\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            self.dir.path().join("registries.conf"),
            "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n",
        )
        .unwrap();
    }

    /// The root folder: nothing copied, the machine's merged `/usr` is
    /// mounted over `usr`; mount points for the rest.
    fn make_rootfs(&self) {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let r = self.dir.path().join("rootfs");
        for d in [
            "usr",
            "etc/alternatives",
            "tmp",
            "work",
            "root",
            "proc",
            "sys",
            "dev",
            "run",
            "opt/codex",
            "var/tmp",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for d in ["tmp", "var/tmp"] {
            std::fs::set_permissions(r.join(d), std::fs::Permissions::from_mode(0o1777)).unwrap();
        }
        for l in ["bin", "lib", "lib64", "sbin"] {
            symlink(format!("usr/{l}"), r.join(l)).unwrap();
        }
        std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(r.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        // Mount points: the machine's cache, and podman's own hosts and hostname.
        for f in ["etc/ld.so.cache", "etc/hosts", "etc/hostname"] {
            std::fs::write(r.join(f), "").unwrap();
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Every container of this state folder: the harness's, and any the
        // launcher under test made with this environment. Removed before the
        // folder goes, else their conmon and PID 1 stay behind as orphans.
        let removed = self
            .command()
            .args(["rm", "--all", "-f", "-t", "0"])
            .stdout(Stdio::null())
            .output();
        match removed {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "podman harness: rm --all: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("podman harness: rm --all: {e}"),
        }
        // conmon and its cleanup command (`podman container cleanup`) may
        // still be finishing: they name the state folder on their command line.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !processes_naming(self.dir.path()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Container {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `podman exec -i NAME argv…` (stdin, stdout, stderr as the caller sets).
    pub fn command(&self, argv: &[&str]) -> Command {
        let exec = exec_argv(&self.name);
        let mut cmd = podman_command(&self.env);
        cmd.args(&exec[1..]).args(argv);
        cmd
    }

    /// Runs `argv` inside, stdin empty, and returns its output.
    pub fn exec(&self, argv: &[&str]) -> Output {
        self.command(argv)
            .stdin(Stdio::null())
            .output()
            .expect("run podman exec")
    }

    /// The pinned Codex's native binary inside (not its node launcher).
    pub fn codex_path(&self) -> String {
        codex_inside()
    }

    /// Makes a clone of the local repository `from_repo` at `path` inside,
    /// through git's own transport over `podman exec -i` (no port): a repository
    /// is made there on the branch `from_repo` has checked out (`main` when
    /// detached), and every local branch (or a detached HEAD, as `main`) is
    /// pushed into it, its work tree following (`updateInstead`).
    pub fn init_clone(&self, path: &str, from_repo: &Path) {
        let head = host_git(from_repo, &[], &["symbolic-ref", "-q", "--short", "HEAD"]);
        let on_branch = head
            .status
            .success()
            .then(|| String::from_utf8_lossy(&head.stdout).trim().to_string());
        let (branch, refspec) = match &on_branch {
            Some(b) => (b.as_str(), "refs/heads/*:refs/heads/*"),
            None => ("main", "HEAD:refs/heads/main"),
        };
        let made = self.exec(&[
            "sh",
            "-c",
            "git init -q -b \"$1\" \"$2\" && git -C \"$2\" config receive.denyCurrentBranch updateInstead",
            "sh",
            branch,
            path,
        ]);
        assert!(
            made.status.success(),
            "git init in {}: {}",
            self.name,
            String::from_utf8_lossy(&made.stderr)
        );
        // git splits an `ext::` command at spaces and runs it with no shell;
        // `%S` is git-receive-pack, on the container's PATH.
        let remote = format!(
            "ext::{} {} %S {path}",
            PODMAN,
            exec_argv(&self.name)[1..].join(" ")
        );
        let pushed = host_git(
            from_repo,
            &self.env,
            &[
                "-c",
                "protocol.ext.allow=always",
                "push",
                "-q",
                &remote,
                refspec,
            ],
        );
        assert!(
            pushed.status.success(),
            "git push into {}:{path}: {}",
            self.name,
            String::from_utf8_lossy(&pushed.stderr)
        );
    }
}

/// `[podman, exec, -i, name]`.
fn exec_argv(name: &str) -> Vec<String> {
    [PODMAN, "exec", "-i", name].map(String::from).to_vec()
}

/// Podman with nothing of this process's environment but `env`.
fn podman_command(env: &[(String, String)]) -> Command {
    assert_eq!(
        env.len(),
        3,
        "podman runs with its three CONTAINERS_* variables"
    );
    let mut cmd = Command::new(PODMAN);
    cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// The machine's git in `repo`, with an empty environment but `env` (the
/// podman it starts for an `ext::` remote gets just those).
fn host_git(repo: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let git = codex_governance::platform::find_program("git").expect("git on PATH");
    Command::new(git)
        .arg("-C")
        .arg(repo)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run git")
}

/// The native Codex binary, relative to the pinned Codex folder (what its
/// node launcher `execve()`s; a static musl binary).
/// The pinned Codex's native binary inside any container of the harness.
pub fn codex_inside() -> String {
    format!("{CODEX_MOUNT}/{}", native_codex_rel())
}

fn native_codex_rel() -> String {
    let (package, triple) = match std::env::consts::ARCH {
        "aarch64" => ("codex-linux-arm64", "aarch64-unknown-linux-musl"),
        _ => ("codex-linux-x64", "x86_64-unknown-linux-musl"),
    };
    format!("node_modules/@openai/{package}/vendor/{triple}/bin/codex")
}

/// The processes whose command line names `dir` (conmon, a cleanup podman).
pub fn processes_naming(dir: &Path) -> Vec<u32> {
    let needle = format!("{}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(&needle)
                })
                .unwrap_or(false)
        })
        .collect()
}
