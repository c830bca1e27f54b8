//! What every service reads and none owns alone: the repository, the
//! configuration, the runtime paths, the store and the launcher's own URL
//! (known once the server is bound). Behaviour lives in the services.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::config::Config;
use crate::store::{Paths, Store};

/// How long shutdown waits for the background tasks (those that follow
/// sessions, the mailbox's, the quota clock's).
const TASKS_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Context {
    pub repo: PathBuf,
    pub config: Config,
    pub paths: Paths,
    pub store: Store,
    url: OnceLock<String>,
    /// The runtime background work runs on, for threads that are not on it.
    runtime: OnceLock<tokio::runtime::Handle>,
    /// Every background task that may write state: shutdown waits for them
    /// (`wait_tasks`) before the launcher says it stopped.
    tasks: tokio_util::task::TaskTracker,
}

impl Context {
    pub fn new(repo: PathBuf, config: Config, paths: Paths, store: Store) -> Context {
        Context {
            repo,
            config,
            paths,
            store,
            url: OnceLock::new(),
            runtime: OnceLock::new(),
            tasks: tokio_util::task::TaskTracker::new(),
        }
    }

    /// The dashboard/API base URL agents and terminals use ("" before binding).
    pub fn url(&self) -> &str {
        self.url.get().map(String::as_str).unwrap_or("")
    }

    pub fn set_url(&self, url: String) {
        if self.url.set(url).is_err() {
            tracing::warn!("the launcher's URL was already set");
        }
    }

    /// Remembers the runtime, so threads off it can still start async work.
    pub fn set_runtime(&self, handle: tokio::runtime::Handle) {
        // Set once at start; a second start keeps the first runtime.
        let _unchanged = self.runtime.set(handle);
    }

    /// Runs a task on the launcher's runtime, from any thread; shutdown waits
    /// for it (`wait_tasks`).
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let fut = self.tasks.track_future(fut);
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(fut);
            }
            Err(_) => match self.runtime.get() {
                Some(h) => {
                    h.spawn(fut);
                }
                None => tracing::error!("no runtime to run background work on"),
            },
        }
    }

    /// At shutdown, once what feeds them has stopped: waits (a while) for the
    /// background tasks to end.
    pub async fn wait_tasks(&self) {
        self.tasks.close();
        if tokio::time::timeout(TASKS_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} background task(s) still running after {TASKS_GRACE:?}",
                self.tasks.len()
            );
        }
    }
}
