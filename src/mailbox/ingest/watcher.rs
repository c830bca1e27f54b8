//! Noticing reports the moment they land: a `notify` watch on the mailbox
//! root feeds one ingestion thread, which scans the folders named by the
//! events (and every folder at start-up or when a watch is created). After
//! the first event it takes what lands within a few milliseconds with it, so
//! reports that land together are one batch (and one notice), as a debounce
//! made them, without a thread that ticks while nothing happens. Polling is
//! only a retry for files that are still being written.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::Seen;
use crate::mailbox::Mailbox;

/// After a job, what arrives within this long is taken with it: short, so a
/// drop shows within milliseconds.
const GATHER: Duration = Duration::from_millis(4);
/// Retry interval while a file is incomplete.
const RETRY: Duration = Duration::from_millis(100);
/// Every folder is scanned after this long without a job: a watch that
/// missed an event (seen with Windows' change notifications under Wine)
/// delays a report by at most this, never loses it.
const SWEEP: Duration = Duration::from_secs(5);

pub type MailboxWatcher = RecommendedWatcher;

/// Work for the ingestion thread.
pub enum Job {
    /// Scan one Zhongshu's incoming folder.
    Scan(String),
    /// Scan every folder under the mailbox root.
    ScanAll,
    /// Scan a folder, then signal: used before registering a fallback.
    Sync(String, tokio::sync::oneshot::Sender<()>),
}

/// Starts the watch on the mailbox root; events become `Job::Scan`s.
pub fn watch(root: &Path, jobs: std::sync::mpsc::Sender<Job>) -> notify::Result<MailboxWatcher> {
    let root_owned = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let Ok(event) = result else {
            // The watch lost events (overflow): rescan everything.
            let _ = jobs.send(Job::ScanAll);
            return;
        };
        let folders: BTreeSet<String> = event
            .paths
            .iter()
            .filter_map(|path| zhongshu_of(&root_owned, path))
            .collect();
        for id in folders {
            let _ = jobs.send(Job::Scan(id));
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// The Zhongshu id an event path belongs to, if it concerns an incoming folder.
fn zhongshu_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = rel.components().filter_map(|c| match c {
        Component::Normal(s) => s.to_str(),
        _ => None,
    });
    let id = parts.next()?;
    match parts.next() {
        None | Some("incoming") => Some(id.to_string()),
        Some(_) => None,
    }
}

/// The ingestion loop; ends when the launcher is gone or the channel closes.
pub fn run(launcher: Weak<Mailbox>, jobs: Receiver<Job>) {
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    let mut waiting: BTreeSet<String> = BTreeSet::new();
    loop {
        let idle = waiting.is_empty();
        let (first, sweep) = match jobs.recv_timeout(if idle { SWEEP } else { RETRY }) {
            Ok(job) => {
                // What lands with it comes in the same batch.
                std::thread::sleep(GATHER);
                (Some(job), false)
            }
            // Quiet for a while: look everywhere, in case the watch missed a file.
            Err(RecvTimeoutError::Timeout) => (None, idle),
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Some(launcher) = launcher.upgrade() else {
            return;
        };
        let mut folders = std::mem::take(&mut waiting);
        let mut syncs = Vec::new();
        let mut all = sweep;
        for job in first.into_iter().chain(jobs.try_iter()) {
            match job {
                Job::Scan(id) => {
                    folders.insert(id);
                }
                Job::ScanAll => all = true,
                Job::Sync(id, done) => {
                    folders.insert(id);
                    syncs.push(done);
                }
            }
        }
        if all {
            folders.extend(all_folders(&launcher.ctx.paths.mailbox_root()));
        }
        for id in folders {
            let _busy = launcher.ingest.watchdog.busy(&id);
            let outcome = launcher.ingest.ingest_folder(&id, &mut seen);
            if outcome.waiting > 0 {
                waiting.insert(id.clone());
            }
            if !outcome.registered.is_empty() {
                launcher.after_results(&id, outcome.registered);
            }
        }
        seen.retain(|p, _| p.exists());
        for done in syncs {
            let _ = done.send(());
        }
    }
}

fn all_folders(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_paths_map_to_folders() {
        let root = Path::new("/m");
        assert_eq!(
            zhongshu_of(root, Path::new("/m/zhongshu-1/incoming/a.json")).as_deref(),
            Some("zhongshu-1")
        );
        assert_eq!(
            zhongshu_of(root, Path::new("/m/zhongshu-1")).as_deref(),
            Some("zhongshu-1")
        );
        assert_eq!(
            zhongshu_of(root, Path::new("/m/zhongshu-1/archive/a.json")),
            None
        );
        assert_eq!(zhongshu_of(root, Path::new("/elsewhere/a.json")), None);
    }
}
