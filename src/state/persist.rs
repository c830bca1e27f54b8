//! Saving and loading the state file so that `kill -9` at any moment loses nothing
//! acknowledged: write a temporary file in the same folder, fsync it, rename it over
//! the old one, fsync the folder. Concurrent savers coalesce: a snapshot older than
//! the one already on disk is skipped, because the newer one contains its change.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

use super::State;

pub const STATE_FILE: &str = "codex_governance_state.json";

pub struct StateFile {
    path: PathBuf,
    /// Version of the snapshot on disk; held while writing so writes are serial.
    written: Mutex<u64>,
}

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        StateFile {
            path,
            written: Mutex::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Persists snapshot `version` unless a newer one is already on disk.
    pub fn save(&self, version: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut written = self.written.lock().unwrap();
        if *written >= version {
            return Ok(());
        }
        write_atomic(&self.path, bytes)?;
        *written = version;
        Ok(())
    }
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Loads the state file; a missing file is an empty state, an unreadable one an error
/// (never silently replaced: the user must see it).
pub fn load_state(path: &Path) -> anyhow::Result<State> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid launcher state", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
