//! Durable file replacement, shared by every writer of a launcher file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably: a temporary file in the
/// same folder, owner-only (0600), synced, renamed over the old one, then the
/// folder synced (where the platform can: [`crate::platform::sync_dir`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    crate::platform::make_private(tmp.as_file())?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    crate::platform::sync_dir(dir)
}
