//! Reading a file the launcher wrote under its state folder (a handoff packet,
//! an archived report) for the review drawer.
//!
//! The paths come from stored results. The launcher sets them itself, but the
//! folders they point into are ones agents write to, so a path is only read when
//! it resolves inside the state folder, its last component is not a link (the
//! file is opened with `O_NOFOLLOW`), the opened descriptor is a regular file,
//! and at most [`MAX_READ`] bytes of it are read: a larger file is cut, and the
//! answer says so.

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
