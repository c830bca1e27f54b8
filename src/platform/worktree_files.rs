//! What writing a worktree's files by hand must know of the system: how a
//! repository path (bytes, `/`-separated) becomes a path here, whether names
//! are plain bytes (Unix) or have Windows' rules, links, the executable bit,
//! and the stat data Git keeps in its index. Also the allocator's trim.

use std::fs::{Metadata, OpenOptions};
use std::path::{Path, PathBuf};

/// Names are bytes kept as written: no reserved names, trailing dots and
/// spaces count, links are links (Unix). Otherwise Windows' rules apply and
/// such paths are left to libgit2.
pub const POSIX_NAMES: bool = cfg!(unix);

/// A repository path as a relative path of this system; `None` where it
/// cannot be one (not UTF-8 on Windows).
pub fn native_repo_path(path: &[u8]) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(path)))
    }
    #[cfg(not(unix))]
    {
        let text = std::str::from_utf8(path).ok()?;
        Some(PathBuf::from(text.replace('/', "\\")))
    }
}

/// Makes `link` a symbolic link to the bytes `target`, as Git does on Unix.
/// Elsewhere links go through libgit2: `Unsupported`.
pub fn symlink_to_bytes(target: &[u8], link: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), link)
    }
    #[cfg(not(unix))]
    {
        let _ = (target, link);
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// A new file's mode as Git makes it (the umask decides the rest); nothing
/// to do where files have no mode.
pub fn git_file_mode(options: &mut OpenOptions, executable: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if executable { 0o777 } else { 0o666 });
    }
    #[cfg(not(unix))]
    let _ = (options, executable);
}

/// A file's stat data as Git's index holds it.
#[derive(Debug, Clone, Copy)]
pub struct StatData {
    /// Seconds and nanoseconds.
    pub ctime: (i64, i64),
    pub mtime: (i64, i64),
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// The file's type and permission bits (`st_mode`).
    pub mode: u32,
}

/// Whether [`stat_data`] gives anything here.
pub const HAS_STAT_DATA: bool = cfg!(unix);

/// The stat data of `meta`, where Git keeps it (Unix); `None` elsewhere,
/// where the index is left to refresh itself.
pub fn stat_data(meta: &Metadata) -> Option<StatData> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(StatData {
            ctime: (meta.ctime(), meta.ctime_nsec()),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            dev: meta.dev(),
            ino: meta.ino(),
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mode: meta.mode(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Whether [`trim_heap`] gives anything back here (glibc).
pub const TRIMS_HEAP: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Hands the allocator's free pages back to the system (glibc's
/// `malloc_trim`); nothing elsewhere.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
