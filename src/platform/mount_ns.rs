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
                // The target is opened without following a link and the
                // bind made onto that handle: a link planted there (a
                // department's `.git`) is refused, never followed.
                let fd = libc::open(
                    to.as_ptr(),
                    libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                );
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut st: libc::stat = std::mem::zeroed();
                let kind = if libc::fstat(fd, &mut st) == 0 {
                    st.st_mode & libc::S_IFMT
                } else {
                    0
                };
                if kind != libc::S_IFDIR && kind != libc::S_IFREG {
                    libc::close(fd);
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let mut handle = [0u8; 32];
                fd_path(fd, &mut handle);
                let flags = libc::MS_BIND | libc::MS_REC;
                let bound = libc::mount(
                    from.as_ptr(),
                    handle.as_ptr().cast(),
                    none,
                    flags,
                    none.cast(),
                );
                let error = io::Error::last_os_error();
                libc::close(fd);
                if bound != 0 {
                    return Err(error);
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

/// `/proc/self/fd/<fd>` with its NUL, written into `out` without
/// allocating (between fork and exec).
fn fd_path(fd: libc::c_int, out: &mut [u8; 32]) {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    out[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let (mut n, mut len) = (fd.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        out[PREFIX.len() + i] = digits[len - 1 - i];
    }
    out[PREFIX.len() + len] = 0;
}

/// Whether this machine lets the launcher make such a namespace (Ubuntu's
/// AppArmor can refuse unprivileged user namespaces): tried once, with a
/// program that binds nothing. The error says why not.
pub fn works() -> Result<(), super::NamespaceError> {
    use super::NamespaceError;
    static TRIED: std::sync::OnceLock<Result<(), NamespaceError>> = std::sync::OnceLock::new();
    TRIED
        .get_or_init(|| {
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args(["-c", "exit 0"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let refused = |e| NamespaceError::Refused(std::sync::Arc::new(e));
            bind(&mut cmd, &[], Path::new("/")).map_err(refused)?;
            match cmd.status() {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(NamespaceError::Failed(s)),
                Err(e) => Err(refused(e)),
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_path_names_the_descriptor() {
        let mut out = [0u8; 32];
        fd_path(1234, &mut out);
        assert_eq!(&out[..19], b"/proc/self/fd/1234\0");
        fd_path(7, &mut out);
        assert_eq!(&out[..16], b"/proc/self/fd/7\0");
    }

    /// A link where a bind goes is refused, not followed.
    #[test]
    fn a_link_at_a_binds_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (from, aimed) = (dir.path().join("from"), dir.path().join("aimed"));
        std::fs::write(&from, "bound\n").unwrap();
        std::fs::write(&aimed, "untouched\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&aimed, &link).unwrap();
        let mut cmd = std::process::Command::new("cat");
        cmd.arg(&aimed);
        bind(&mut cmd, &[(from, link)], dir.path()).unwrap();
        let refused = cmd.output().expect_err("the link is refused");
        assert_eq!(refused.raw_os_error(), Some(libc::ELOOP), "{refused}");
    }

    #[test]
    fn this_machine_makes_namespaces() {
        // The suite's machines allow them (the bench and isolation tests need them).
        works().unwrap();
    }

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
