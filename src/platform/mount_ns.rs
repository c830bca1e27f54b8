//! Folders shown at other paths, for one program and what it starts
//! (Linux): the program starts in a new user and mount namespace where
//! each `(from, to)` folder or file is bound over `to`, then in `cwd`.
//! Nothing outside sees these mounts, and nothing is mounted for anyone
//! else. A department's build uses it to run at the user's tree's path,
//! where rustc keeps its incremental caches (issue 52).
//!
//! The binds are made in order, each from the paths as they are at that
//! moment: a later bind's source can be hidden by an earlier one, so an
//! earlier one can carry a folder out of the way first.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Has `cmd` start with `binds` made, in `cwd`. Set no `current_dir` on
/// `cmd`: the standard library enters it before the binds exist.
pub fn bind(
    cmd: &mut std::process::Command,
    binds: &[(PathBuf, PathBuf)],
    cwd: &Path,
) -> io::Result<()> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
    };
    let binds: Vec<(CString, CString)> = binds
        .iter()
        .map(|(from, to)| Ok((c(from)?, c(to)?)))
        .collect::<io::Result<_>>()?;
    let cwd = c(cwd)?;
    let maps = super::user_ns::Maps::of_current_user();
    // SAFETY: the closure makes only system calls, on memory it owns (made
    // before the fork), as a child between fork and exec must.
    unsafe {
        cmd.pre_exec(move || {
            super::user_ns::enter(libc::CLONE_NEWNS, &maps)?;
            // Nothing of these mounts goes back to the namespace it came from.
            let none = std::ptr::null();
            if libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            for (from, to) in &binds {
                let flags = libc::MS_BIND | libc::MS_REC;
                if libc::mount(from.as_ptr(), to.as_ptr(), none, flags, none.cast()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::chdir(cwd.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The program sees the other folder at the path, writes land there,
    /// and the folder it covers is untouched.
    #[test]
    fn a_program_sees_a_folder_at_another_path_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let (shown, covered) = (dir.path().join("shown"), dir.path().join("covered"));
        std::fs::create_dir_all(&shown).unwrap();
        std::fs::create_dir_all(&covered).unwrap();
        std::fs::write(shown.join("f"), "shown\n").unwrap();
        std::fs::write(covered.join("f"), "covered\n").unwrap();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "pwd; cat f; echo new > made; id -u"]);
        bind(&mut cmd, &[(shown.clone(), covered.clone())], &covered).unwrap();
        let out = cmd.output().expect("started in a namespace of its own");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        assert_eq!(said, format!("{}\nshown\n{uid}\n", covered.display()));
        assert_eq!(
            std::fs::read_to_string(shown.join("made")).unwrap(),
            "new\n"
        );
        assert!(!covered.join("made").exists());
        assert_eq!(
            std::fs::read_to_string(covered.join("f")).unwrap(),
            "covered\n"
        );
    }
}
