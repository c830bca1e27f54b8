//! Reading a file the launcher wrote under its state folder (a handoff packet,
//! an archived report) for the review drawer.
//!
//! The paths come from stored results. The launcher sets them itself, but the
//! folders they point into are ones agents write to, so a path is only read when
//! it resolves inside the state folder, its last component is not a link (the
//! file is opened with `O_NOFOLLOW`), the opened descriptor is a regular file
//! with a single name (a hard link to a file outside has two), the file really
//! found at the path, resolved again after opening, is the one opened and lies
//! inside, and at most [`MAX_READ`] bytes of it are read: a larger file is cut,
//! and the answer says so.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{LResult, LauncherError};
use crate::platform::{self, OpenRefusal};

/// Bytes read of one file at most (1 MiB).
pub const MAX_READ: u64 = 1024 * 1024;

/// A file's text (invalid UTF-8 replaced) and whether it was cut at [`MAX_READ`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateText {
    pub text: String,
    pub truncated: bool,
}

/// Where `path` really is, if that is inside `state_dir` (both resolved, links
/// in the folders followed); the last component is kept as it is, unresolved.
pub fn inside_state_dir(state_dir: &Path, path: &Path) -> LResult<PathBuf> {
    let refuse = |why: &str| {
        LauncherError::BadRequest(format!(
            "refusing to read {}: {why} the launcher's state folder {}",
            path.display(),
            state_dir.display()
        ))
    };
    let root = state_dir
        .canonicalize()
        .map_err(|e| LauncherError::Internal(format!("{}: {e}", state_dir.display())))?;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(refuse("it names no file in"));
    };
    let parent = match parent.canonicalize() {
        Ok(p) => p,
        // A missing folder holds no file; whether it would be inside is moot.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LauncherError::NotFound(format!(
                "{} does not exist",
                path.display()
            )))
        }
        Err(e) => return Err(LauncherError::Internal(format!("{}: {e}", path.display()))),
    };
    if !parent.starts_with(&root) {
        return Err(refuse("it is outside"));
    }
    Ok(parent.join(name))
}

/// Reads `path` after [`inside_state_dir`], at most `max` bytes of it.
pub fn read_state_file(state_dir: &Path, path: &Path, max: u64) -> LResult<StateText> {
    let real = inside_state_dir(state_dir, path)?;
    let file = platform::open_no_follow(&real).map_err(|(why, e)| match why {
        OpenRefusal::Gone => LauncherError::NotFound(format!("{} does not exist", path.display())),
        OpenRefusal::NotRegular(what) => LauncherError::BadRequest(format!(
            "refusing to read {}: it is {what}, not a regular file",
            path.display()
        )),
        OpenRefusal::Other => {
            LauncherError::Internal(format!("cannot open {}: {e}", path.display()))
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| LauncherError::Internal(format!("{}: {e}", path.display())))?;
    if !meta.file_type().is_file() {
        return Err(LauncherError::BadRequest(format!(
            "refusing to read {}: it is {}, not a regular file",
            path.display(),
            platform::describe_file_type(&meta.file_type())
        )));
    }
    let links = platform::link_count(&file)
        .map_err(|e| LauncherError::Internal(format!("{}: {e}", path.display())))?;
    if links != 1 {
        return Err(LauncherError::BadRequest(format!(
            "refusing to read {}: it has {links} names (a hard link), so it may be a \
             file from outside the launcher's state folder",
            path.display()
        )));
    }
    opened_inside(state_dir, &real, &file)?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LauncherError::Internal(format!("cannot read {}: {e}", path.display())))?;
    let truncated = bytes.len() as u64 > max;
    if truncated {
        bytes.truncate(max as usize);
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if truncated && text.ends_with('\u{FFFD}') {
        // A character cut in half at the limit is dropped, not shown as garbage.
        text.pop();
    }
    Ok(StateText { text, truncated })
}

/// The file at `real`, resolved now that it is open, is `file` and lies inside
/// `state_dir` (a folder swapped for a link between the check and the open
/// would show here).
fn opened_inside(state_dir: &Path, real: &Path, file: &std::fs::File) -> LResult<()> {
    let refuse = || {
        LauncherError::BadRequest(format!(
            "refusing to read {}: it changed while it was opened",
            real.display()
        ))
    };
    let root = state_dir
        .canonicalize()
        .map_err(|e| LauncherError::Internal(format!("{}: {e}", state_dir.display())))?;
    let now = real.canonicalize().map_err(|_| refuse())?;
    let same = same_file::Handle::from_path(&now).map_err(|_| refuse())?
        == file
            .try_clone()
            .and_then(same_file::Handle::from_file)
            .map_err(|_| refuse())?;
    if !now.starts_with(&root) || !same {
        return Err(refuse());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_inside_are_read_whole_or_cut_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(state.join("mailbox/archive")).unwrap();
        let packet = state.join("mailbox/archive/handoff-r-1.md");
        std::fs::write(&packet, "# Title\n").unwrap();
        assert_eq!(
            read_state_file(&state, &packet, MAX_READ).unwrap(),
            StateText {
                text: "# Title\n".into(),
                truncated: false
            }
        );
        // "é" is two bytes: a limit of 2 cuts it in half, and the half is dropped.
        std::fs::write(&packet, "aé").unwrap();
        assert_eq!(
            read_state_file(&state, &packet, 2).unwrap(),
            StateText {
                text: "a".into(),
                truncated: true
            }
        );
        std::fs::write(&packet, vec![b'x'; (MAX_READ + 10) as usize]).unwrap();
        let big = read_state_file(&state, &packet, MAX_READ).unwrap();
        assert!(big.truncated);
        assert_eq!(big.text.len() as u64, MAX_READ);
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "Wine makes no symbolic links (its CreateSymbolicLinkW is a stub)"
    )]
    fn paths_outside_links_folders_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(state.join("archive")).unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "secret").unwrap();

        let outside = read_state_file(&state, &secret, MAX_READ).unwrap_err();
        assert!(
            matches!(&outside, LauncherError::BadRequest(m) if m.contains("outside")),
            "{outside}"
        );
        let dotdot = state.join("archive/../../secret.txt");
        let err = read_state_file(&state, &dotdot, MAX_READ).unwrap_err();
        assert!(matches!(err, LauncherError::BadRequest(_)), "{err}");

        // A link to the secret, inside the state folder: not followed.
        let link = state.join("archive/handoff.md");
        crate::platform::symlink_for_tests(&secret, &link).unwrap();
        let err = read_state_file(&state, &link, MAX_READ).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("symbolic link")),
            "{err}"
        );
        // A linked folder inside the state folder that leads out of it.
        crate::platform::symlink_for_tests(dir.path(), state.join("escape")).unwrap();
        let err = read_state_file(&state, &state.join("escape/secret.txt"), MAX_READ).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("outside")),
            "{err}"
        );

        // A hard link inside to a file outside: one inode, two names.
        let hard = state.join("archive/handoff-hard.md");
        std::fs::hard_link(&secret, &hard).unwrap();
        let err = read_state_file(&state, &hard, MAX_READ).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("hard link")),
            "{err}"
        );

        let err = read_state_file(&state, &state.join("archive"), MAX_READ).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("a directory")),
            "{err}"
        );
        for missing in [state.join("archive/none.md"), state.join("no/such/file.md")] {
            let err = read_state_file(&state, &missing, MAX_READ).unwrap_err();
            assert!(matches!(err, LauncherError::NotFound(_)), "{err}");
        }
    }
}
