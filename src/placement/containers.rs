//! Containers of the launcher's making (issue 76): a provider's `create`
//! line makes one for the host, or one per department (its `{session}`),
//! `warm: N` made ahead; its `destroy` line removes each once its work is
//! settled. Each is written down in the state folder before `create` runs
//! and forgotten only once `destroy` ran, so one a crash left behind is
//! found at the next start and removed. What is read back from that folder
//! is an id only: the lines that run are the trusted configuration's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::provider_lifecycle::{Each, Lifecycle};
use crate::config::remotes::Remote;

use super::ssh::Ssh;

/// How long `create` may take (an image pulled, a pod scheduled).
const CREATE: Duration = Duration::from_secs(300);
/// How long `destroy` may take.
const DESTROY: Duration = Duration::from_secs(120);
/// How long making the repository's clone inside may take.
const CLONE: Duration = Duration::from_secs(60);

/// Why a container could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{host}: its {line} line could not start: {source}")]
    Spawn {
        host: String,
        line: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{host}: its {line} line failed ({code}): {said}")]
    Failed {
        host: String,
        line: &'static str,
        code: String,
        said: String,
    },
    #[error("{host}: its {line} line did not end within {seconds} s")]
    TimedOut {
        host: String,
        line: &'static str,
        seconds: u64,
    },
    #[error("writing down {host}'s container {id}: {source}")]
    Record {
        host: String,
        id: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host}: making the repository's clone inside {id}: {source}")]
    Clone {
        host: String,
        id: String,
        #[source]
        source: super::ssh::SshError,
    },
    #[error("{host}: making the repository's clone inside {id}: {said}")]
    CloneRefused {
        host: String,
        id: String,
        said: String,
    },
    #[error("{0} makes no containers (no provider.create)")]
    NoCreate(String),
}

/// Held (written) while a container is made again; its relay waits on it.
pub type Gate = std::sync::Arc<tokio::sync::RwLock<()>>;

/// The containers this launcher made, and those it keeps made ahead.
#[derive(Default)]
pub struct Containers {
    /// Host name -> ids made ahead, not a department's yet.
    warm: Mutex<HashMap<String, Vec<String>>>,
    /// (host, id) made in this run and not yet a stored workspace's: a
    /// sweep leaves them.
    held: Mutex<HashSet<(String, String)>>,
    /// Hosts whose own container this run made (or found in use).
    hosts_made: tokio::sync::Mutex<HashSet<String>>,
    /// Host name -> containers being made ahead now.
    making: Mutex<HashMap<String, usize>>,
    /// Told when a container made ahead is ready.
    ready: tokio::sync::Notify,
    /// (host, id) -> held (written) while that container is made again.
    gates: Mutex<HashMap<(String, String), Gate>>,
}

impl Containers {
    /// Host `host`'s own container (one per host), made at the first call
    /// of this run unless a record says it is there.
    pub async fn for_host(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
    ) -> Result<Remote, ContainerError> {
        let id = host.name.clone();
        let mut made = self.hosts_made.lock().await;
        if made.contains(&id) || records(state).contains(&(host.name.clone(), id.clone())) {
            made.insert(id.clone());
            return Ok(host.in_container(&id));
        }
        let inside = self.make(state, ssh, host, &id).await?;
        made.insert(id);
        Ok(inside)
    }

    /// A container for department `session` on `host`: one made ahead when
    /// there is one, else made now under the session's id.
    pub async fn take(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
        session: &str,
    ) -> Result<Remote, ContainerError> {
        loop {
            let told = self.ready.notified();
            let ahead = self
                .warm
                .lock()
                .unwrap()
                .get_mut(&host.name)
                .and_then(Vec::pop);
            if let Some(id) = ahead {
                return Ok(host.in_container(&id));
            }
            // One being made ahead is ready sooner than one made now.
            if self.making_count(&host.name) == 0 {
                return self.make(state, ssh, host, session).await;
            }
            if tokio::time::timeout(CREATE, told).await.is_err() {
                return self.make(state, ssh, host, session).await;
            }
        }
    }

    fn making_count(&self, host: &str) -> usize {
        self.making.lock().unwrap().get(host).copied().unwrap_or(0)
    }

    /// Makes one container ahead for `host`, counted while it is made.
    async fn make_ahead(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
    ) -> Result<Remote, ContainerError> {
        *self
            .making
            .lock()
            .unwrap()
            .entry(host.name.clone())
            .or_default() += 1;
        let made = self.make(state, ssh, host, &warm_id()).await;
        if let Some(n) = self.making.lock().unwrap().get_mut(&host.name) {
            *n = n.saturating_sub(1);
        }
        if let Ok(inside) = &made {
            self.add_warm(&host.name, inside.container.clone().unwrap_or_default());
        }
        // Whoever waits for one looks again (and makes its own on a failure).
        self.ready.notify_waiters();
        made
    }

    /// Makes containers ahead until `host` has its `warm` of them.
    pub async fn keep_warm(&self, state: &Path, ssh: &Ssh, host: &Remote) {
        let Some(wanted) = host.lifecycle.as_ref().map(|l| l.warm) else {
            return;
        };
        loop {
            let have = self.warm_count(&host.name) + self.making_count(&host.name);
            if have >= wanted {
                return;
            }
            if let Err(e) = self.make_ahead(state, ssh, host).await {
                tracing::warn!("making a container ahead: {e}");
                return;
            }
        }
    }

    /// A container made ahead for `host` (for its pre-flight): one from
    /// the pool, or a new one put there.
    pub async fn one_ahead(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
    ) -> Result<Remote, ContainerError> {
        if let Some(id) = self
            .warm
            .lock()
            .unwrap()
            .get(&host.name)
            .and_then(|w| w.last().cloned())
        {
            return Ok(host.in_container(&id));
        }
        self.make_ahead(state, ssh, host).await
    }

    /// Removes container `id` made ahead for `host` (its check is done and
    /// the host keeps none warm).
    pub async fn give_up_warm(&self, state: &Path, host: &Remote, id: &str) {
        let taken = match self.warm.lock().unwrap().get_mut(&host.name) {
            Some(ids) => {
                let before = ids.len();
                ids.retain(|i| i != id);
                before != ids.len()
            }
            None => false,
        };
        if !taken {
            return;
        }
        self.held
            .lock()
            .unwrap()
            .remove(&(host.name.clone(), id.to_string()));
        let (state, host, id) = (state.to_path_buf(), host.clone(), id.to_string());
        let gone = tokio::task::spawn_blocking(move || destroy(&state, &host, &id)).await;
        if let Ok(Err(e)) = gone {
            tracing::warn!("removing the container of a check: {e}");
        }
    }

    fn warm_count(&self, host: &str) -> usize {
        self.warm.lock().unwrap().get(host).map_or(0, Vec::len)
    }

    fn add_warm(&self, host: &str, id: String) {
        self.warm
            .lock()
            .unwrap()
            .entry(host.to_string())
            .or_default()
            .push(id);
    }

    /// What container `id` of `host`'s relay waits on while it is made
    /// again.
    pub fn gate(&self, host: &str, id: &str) -> Gate {
        let key = (host.to_string(), id.to_string());
        std::sync::Arc::clone(self.gates.lock().unwrap().entry(key).or_default())
    }

    /// Container `id` of `host` made again (it went away), as it was
    /// first made.
    pub(super) async fn make_again(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
        id: &str,
    ) -> Result<Remote, ContainerError> {
        self.make(state, ssh, host, id).await
    }

    /// Writes container `id` down, runs `create` for it, and makes the
    /// repository's clone inside (kept when its image has one).
    async fn make(
        &self,
        state: &Path,
        ssh: &Ssh,
        host: &Remote,
        id: &str,
    ) -> Result<Remote, ContainerError> {
        let lifecycle = host
            .lifecycle
            .as_ref()
            .ok_or_else(|| ContainerError::NoCreate(host.name.clone()))?;
        self.held
            .lock()
            .unwrap()
            .insert((host.name.clone(), id.to_string()));
        write_down(state, &host.name, id)?;
        let create = Lifecycle::filled(&lifecycle.create, id);
        run_line(&host.name, "create", &create, CREATE).await?;
        let inside = host.in_container(id);
        let clone = ["git", "init", "-q", host.repo.as_str()];
        let ran =
            ssh.run(&inside, &clone, CLONE)
                .await
                .map_err(|source| ContainerError::Clone {
                    host: host.name.clone(),
                    id: id.to_string(),
                    source,
                })?;
        if !ran.ok() {
            return Err(ContainerError::CloneRefused {
                host: host.name.clone(),
                id: id.to_string(),
                said: ran.stderr.trim().to_string(),
            });
        }
        tracing::info!("{}: made container {id}", host.name);
        Ok(inside)
    }

    /// Removes container `id` of `host` (its `destroy` line, when it has
    /// one) and forgets it; kept written down when `destroy` failed, so a
    /// later sweep tries again.
    pub fn destroy(&self, state: &Path, host: &Remote, id: &str) -> Result<(), ContainerError> {
        self.held
            .lock()
            .unwrap()
            .remove(&(host.name.clone(), id.to_string()));
        destroy(state, host, id)
    }

    /// Removes every container written down that no stored workspace
    /// (`in_use`: host, id) works in, none of this run's hands and none
    /// made ahead: what a crash or a stop left. Blocking.
    pub fn sweep(
        &self,
        state: &Path,
        hosts: &[Remote],
        in_use: &HashSet<(String, String)>,
        stopping: bool,
    ) {
        let warm: HashSet<(String, String)> = self
            .warm
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(h, ids)| ids.iter().map(move |id| (h.clone(), id.clone())))
            .collect();
        // At a stop nothing is in anyone's hands any more.
        let held = match stopping {
            true => HashSet::new(),
            false => self.held.lock().unwrap().clone(),
        };
        for (host, id) in records(state) {
            let key = (host.clone(), id.clone());
            if in_use.contains(&key) || held.contains(&key) || warm.contains(&key) {
                continue;
            }
            let Some(h) = hosts.iter().find(|h| h.name == host) else {
                tracing::warn!(
                    "container {id} of {host} was left by an earlier run, and {host} is not \
                     under launcher.remotes as you trusted it: it stays"
                );
                continue;
            };
            if let Err(e) = self.destroy(state, h, &id) {
                tracing::warn!("removing a container left by an earlier run: {e}");
            }
        }
    }

    /// Removes the containers made ahead (the launcher stops). Blocking.
    pub fn drop_warm(&self, state: &Path, hosts: &[Remote]) {
        let warm: Vec<(String, String)> = self
            .warm
            .lock()
            .unwrap()
            .drain()
            .flat_map(|(h, ids)| ids.into_iter().map(move |id| (h.clone(), id)))
            .collect();
        for (host, id) in warm {
            if let Some(h) = hosts.iter().find(|h| h.name == host) {
                if let Err(e) = self.destroy(state, h, &id) {
                    tracing::warn!("removing a container made ahead: {e}");
                }
            }
        }
    }

    /// Whether `host`'s containers are one per department.
    pub fn per_department(host: &Remote) -> bool {
        host.lifecycle
            .as_ref()
            .is_some_and(|l| l.each == Each::Department)
    }
}

/// Runs `host`'s `destroy` line for container `id`, when it has one; the
/// container stays written down. Blocking.
pub(super) fn destroy_line(host: &Remote, id: &str) -> Result<(), ContainerError> {
    if let Some(l) = host.lifecycle.as_ref().filter(|l| !l.destroy.is_empty()) {
        let line = Lifecycle::filled(&l.destroy, id);
        run_line_blocking(&host.name, &line, DESTROY)?;
    }
    Ok(())
}

/// Removes container `id` of `host` (its `destroy` line, when it has one)
/// and forgets it; kept written down when `destroy` failed, so a later
/// sweep tries again. Blocking.
pub fn destroy(state: &Path, host: &Remote, id: &str) -> Result<(), ContainerError> {
    destroy_line(host, id)?;
    let _ = std::fs::remove_file(record_path(state, &host.name, id));
    let _ = crate::platform::sync_dir(&records_dir(state));
    tracing::info!("{}: removed container {id}", host.name);
    Ok(())
}

/// An id for a container made ahead.
fn warm_id() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).unwrap_or_default();
    format!("warm-{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn records_dir(state: &Path) -> PathBuf {
    state.join("containers")
}

fn record_path(state: &Path, host: &str, id: &str) -> PathBuf {
    records_dir(state).join(format!("{host}~{id}"))
}

/// Writes down (durably) that container `id` of `host` is being made.
fn write_down(state: &Path, host: &str, id: &str) -> Result<(), ContainerError> {
    let record = |source| ContainerError::Record {
        host: host.to_string(),
        id: id.to_string(),
        source,
    };
    std::fs::create_dir_all(records_dir(state)).map_err(record)?;
    crate::files::write_atomic(&record_path(state, host, id), b"").map_err(record)
}

/// The containers written down: (host, id), both ids; anything else in the
/// folder is left alone.
fn records(state: &Path) -> HashSet<(String, String)> {
    let Ok(entries) = std::fs::read_dir(records_dir(state)) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let (host, id) = name.split_once('~')?;
            (crate::ids::is_valid_id(host) && crate::ids::is_valid_id(id))
                .then(|| (host.to_string(), id.to_string()))
        })
        .collect()
}

async fn run_line(
    host: &str,
    line_name: &'static str,
    line: &[String],
    patience: Duration,
) -> Result<(), ContainerError> {
    let mut cmd = tokio::process::Command::new(&line[0]);
    cmd.args(&line[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|source| ContainerError::Spawn {
        host: host.to_string(),
        line: line_name,
        source,
    })?;
    let out = tokio::time::timeout(patience, child.wait_with_output())
        .await
        .map_err(|_| ContainerError::TimedOut {
            host: host.to_string(),
            line: line_name,
            seconds: patience.as_secs(),
        })?
        .map_err(|source| ContainerError::Spawn {
            host: host.to_string(),
            line: line_name,
            source,
        })?;
    ended(host, line_name, out.status, &out.stderr)
}

fn run_line_blocking(
    host: &str,
    line: &[String],
    patience: Duration,
) -> Result<(), ContainerError> {
    let spawned = |source| ContainerError::Spawn {
        host: host.to_string(),
        line: "destroy",
        source,
    };
    let mut child = std::process::Command::new(&line[0])
        .args(&line[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawned)?;
    let deadline = std::time::Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().map_err(spawned)? {
            let mut said = Vec::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_end(&mut e, &mut said);
            }
            return ended(host, "destroy", status, &said);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ContainerError::TimedOut {
                host: host.to_string(),
                line: "destroy",
                seconds: patience.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ended(
    host: &str,
    line: &'static str,
    status: std::process::ExitStatus,
    stderr: &[u8],
) -> Result<(), ContainerError> {
    if status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(stderr);
    let last = said.lines().rev().find(|l| !l.trim().is_empty());
    Err(ContainerError::Failed {
        host: host.to_string(),
        line,
        code: status
            .code()
            .map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
        said: last.unwrap_or_default().trim().chars().take(300).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is in the records folder that is not `host~id` of two ids is
    /// never read as a container (an agent may plant files there).
    #[test]
    fn only_two_ids_read_as_a_container_written_down() {
        let dir = tempfile::tempdir().unwrap();
        write_down(dir.path(), "box", "gong-1").unwrap();
        let folder = records_dir(dir.path());
        for planted in ["box~../x", "nohost", "box~a b", "~x"] {
            std::fs::write(folder.join(planted), "").unwrap_or_default();
        }
        let read = records(dir.path());
        assert_eq!(read, HashSet::from([("box".into(), "gong-1".into())]));
    }
}
