//! Entering a user namespace of one's own between fork and exec (Linux),
//! the user mapped to itself: what lets an unprivileged process make a
//! network ([`super::net_fence`]) or mounts ([`super::mount_ns`]) of its own.
//! The code runs after a fork in a threaded process, so it makes system
//! calls only, on memory prepared before the fork.

use std::io;

/// The user's and group's maps, written before the fork.
pub struct Maps {
    uid: Vec<u8>,
    gid: Vec<u8>,
}

impl Maps {
    /// The current user and group, each mapped to itself.
    pub fn of_current_user() -> Maps {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Maps {
            uid: format!("{uid} {uid} 1\n").into_bytes(),
            gid: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }
}

/// Makes a new user namespace (and the namespaces `also` names) and maps
/// the user to itself in it.
///
/// # Safety
/// Only in a child between fork and exec (`pre_exec`).
pub unsafe fn enter(also: libc::c_int, maps: &Maps) -> io::Result<()> {
    if libc::unshare(libc::CLONE_NEWUSER | also) != 0 {
        return Err(io::Error::last_os_error());
    }
    write_proc(c"/proc/self/setgroups", b"deny")?;
    write_proc(c"/proc/self/uid_map", &maps.uid)?;
    write_proc(c"/proc/self/gid_map", &maps.gid)
}

/// Writes `text` to a file of `/proc` (after fork: no allocation).
unsafe fn write_proc(path: &std::ffi::CStr, text: &[u8]) -> io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let written = libc::write(fd, text.as_ptr().cast(), text.len());
    libc::close(fd);
    if written != text.len() as isize {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
