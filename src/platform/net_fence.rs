//! A network of its own for a confined agent (Linux): the agent's process
//! starts in a new user and network namespace whose only interface is
//! loopback. Nothing in it reaches another host, the host's loopback or the
//! host's abstract sockets; it reaches only the listeners made for it there,
//! which the launcher serves from outside (each accepted connection arrives
//! in the launcher, which alone decides where it goes).
//!
//! The child makes the namespaces and the listeners between fork and exec
//! and hands the listeners back over a socket pair (`SCM_RIGHTS`): a
//! process outside cannot enter the namespace without privileges, and a
//! socket belongs to the namespace it was made in. That code runs after a
//! fork in a threaded process, so it only makes system calls on memory
//! prepared before the fork (no allocation, no lock): the reason it is
//! written with `libc` rather than a wrapper crate that allocates.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;

/// The listeners a fenced child made, to be collected after its spawn.
pub struct Pending {
    ours: OwnedFd,
    theirs: Option<OwnedFd>,
    binds: Vec<SocketAddr>,
}

/// A socket address as the kernel reads it.
#[derive(Clone, Copy)]
struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
    family: libc::c_int,
}

fn raw(addr: &SocketAddr) -> RawAddr {
    // SAFETY: an all-zero sockaddr_storage is valid; each arm writes a
    // sockaddr of its family at its start, which the storage is made to hold.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            RawAddr {
                storage,
                len: std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                family: libc::AF_INET,
            }
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            RawAddr {
                storage,
                len: std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                family: libc::AF_INET6,
            }
        }
    }
}

/// Makes `cmd` start in a network of its own whose loopback listens at
/// each of `binds` (loopback addresses). An address the namespace cannot
/// take (IPv6 switched off) is left out. Collect the listeners with
/// [`Pending::listeners`] once the command is spawned.
pub fn fence(cmd: &mut std::process::Command, binds: &[SocketAddr]) -> io::Result<Pending> {
    let mut pair = [0 as RawFd; 2];
    // SAFETY: `pair` has room for the two descriptors socketpair writes.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair just made both, and nothing else owns them.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    let maps = super::user_ns::Maps::of_current_user();
    let addrs: Vec<RawAddr> = binds.iter().map(raw).collect();
    let channel = theirs.as_raw_fd();
    // SAFETY: the closure makes only system calls, on memory it owns (made
    // before the fork), as a child between fork and exec must.
    unsafe {
        cmd.pre_exec(move || {
            // Its user is the user's, within the namespace too.
            super::user_ns::enter(libc::CLONE_NEWNET, &maps)?;
            loopback_up()?;
            for (index, addr) in addrs.iter().enumerate() {
                if let Some(listener) = listen(addr)? {
                    let sent = send_fd(channel, index as u8, listener);
                    libc::close(listener);
                    sent?;
                }
            }
            Ok(())
        });
    }
    Ok(Pending {
        ours,
        theirs: Some(theirs),
        binds: binds.to_vec(),
    })
}

impl Pending {
    /// The listeners the spawned child made, each with the address it
    /// listens at in the child's network. Call only after the spawn
    /// returned: the child has exec'd, so every one is waiting.
    pub fn listeners(mut self) -> io::Result<Vec<(SocketAddr, TcpListener)>> {
        drop(self.theirs.take());
        let mut found = Vec::new();
        while let Some((index, fd)) = receive_fd(self.ours.as_raw_fd())? {
            let Some(addr) = self.binds.get(index as usize) else {
                continue;
            };
            let listener = TcpListener::from(fd);
            listener.set_nonblocking(true)?;
            found.push((*addr, listener));
        }
        Ok(found)
    }
}

/// Brings the namespace's loopback interface up (it starts down).
unsafe fn loopback_up() -> io::Result<()> {
    let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut request: libc::ifreq = std::mem::zeroed();
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    let mut result = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut request);
    if result == 0 {
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        result = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request);
    }
    let error = io::Error::last_os_error();
    libc::close(fd);
    if result != 0 {
        return Err(error);
    }
    Ok(())
}

/// A listening socket at `addr`, or `None` where the namespace has no such
/// address (IPv6 switched off).
unsafe fn listen(addr: &RawAddr) -> io::Result<Option<RawFd>> {
    let fd = libc::socket(addr.family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
    if fd < 0 {
        if addr.family == libc::AF_INET6 {
            return Ok(None);
        }
        return Err(io::Error::last_os_error());
    }
    let on: libc::c_int = 1;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    libc::setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_REUSEADDR,
        (&on as *const libc::c_int).cast(),
        size,
    );
    if addr.family == libc::AF_INET6 {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&on as *const libc::c_int).cast(),
            size,
        );
    }
    let bound = libc::bind(
        fd,
        (&addr.storage as *const libc::sockaddr_storage).cast(),
        addr.len,
    );
    if bound != 0 || libc::listen(fd, 128) != 0 {
        let error = io::Error::last_os_error();
        libc::close(fd);
        if addr.family == libc::AF_INET6 {
            return Ok(None);
        }
        return Err(error);
    }
    Ok(Some(fd))
}

/// Room for one descriptor's control message (aligned as cmsghdr is).
#[repr(C)]
union OneFd {
    header: libc::cmsghdr,
    bytes: [u8; 32],
}

/// Sends `fd` over `channel` with the one byte `index`.
unsafe fn send_fd(channel: RawFd, index: u8, fd: RawFd) -> io::Result<()> {
    let mut byte = [index];
    let mut part = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = OneFd { bytes: [0; 32] };
    let mut message: libc::msghdr = std::mem::zeroed();
    message.msg_iov = &mut part;
    message.msg_iovlen = 1;
    message.msg_control = (&mut control as *mut OneFd).cast();
    message.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
    let header = libc::CMSG_FIRSTHDR(&message);
    (*header).cmsg_level = libc::SOL_SOCKET;
    (*header).cmsg_type = libc::SCM_RIGHTS;
    (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
    std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
    // Nobody reads until the spawn returns: never wait for room.
    if libc::sendmsg(channel, &message, libc::MSG_DONTWAIT) != 1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The next descriptor waiting on `channel` with its byte, or `None` when
/// none waits.
fn receive_fd(channel: RawFd) -> io::Result<Option<(u8, OwnedFd)>> {
    let mut byte = [0u8];
    let mut part = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = OneFd { bytes: [0; 32] };
    // SAFETY: the message points at buffers that live through the call; a
    // descriptor the kernel passes is owned here from then on.
    unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut part;
        message.msg_iovlen = 1;
        message.msg_control = (&mut control as *mut OneFd).cast();
        message.msg_controllen = std::mem::size_of::<OneFd>() as _;
        let got = libc::recvmsg(
            channel,
            &mut message,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        );
        if got < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(error);
        }
        if got == 0 {
            return Ok(None);
        }
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other("a fenced child sent no listener"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
        Ok(Some((byte[0], OwnedFd::from_raw_fd(fd))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Runs `script` with bash in a fenced network listening at `binds`;
    /// returns its output and the listeners.
    fn fenced(script: &str, binds: &[SocketAddr]) -> (String, Vec<(SocketAddr, TcpListener)>) {
        let mut cmd = std::process::Command::new("bash");
        cmd.args(["-c", script]);
        let pending = fence(&mut cmd, binds).unwrap();
        let child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let listeners = pending.listeners().unwrap();
        // The child reaches its listeners: answer each connection.
        let serving: Vec<_> = listeners
            .iter()
            .map(|(_, l)| l.try_clone().unwrap())
            .collect();
        std::thread::spawn(move || {
            for listener in serving {
                listener.set_nonblocking(false).unwrap();
                if let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.write_all(b"FROM-OUTSIDE\n");
                }
            }
        });
        let out = child.wait_with_output().unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), listeners)
    }

    #[test]
    fn a_fenced_process_reaches_its_own_listeners_and_nothing_of_the_hosts() {
        // An open port on the host's loopback, and one on its address off
        // loopback (where its default route leaves).
        let host = TcpListener::bind("127.0.0.1:0").unwrap();
        let host_port = host.local_addr().unwrap().port();
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        probe
            .connect("192.0.2.1:9")
            .expect("this test needs an address off loopback (a default route)");
        let away_ip = probe.local_addr().unwrap().ip();
        let away = TcpListener::bind((away_ip, 0)).unwrap();
        let away_port = away.local_addr().unwrap().port();
        // An abstract unix socket of the host's (such as a session bus's).
        use std::os::linux::net::SocketAddrExt;
        let name = format!("cg-fence-test-{}", std::process::id());
        let abstract_addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let _bus = std::os::unix::net::UnixListener::bind_addr(&abstract_addr).unwrap();
        let own: SocketAddr = "127.0.0.1:47811".parse().unwrap();
        // perl-base is essential on Debian.
        let script = format!(
            "echo SOCKETS=$(ls -l /proc/$$/fd | grep -c socket); \
             if exec 3<>/dev/tcp/127.0.0.1/{host_port}; then echo HOST-OPEN; else echo HOST-FENCED; fi; \
             exec 4<>/dev/tcp/127.0.0.1/47811 && head -1 <&4; \
             exec 5<>/dev/tcp/{away_ip}/{away_port} && echo AWAY-OPEN || echo AWAY-FENCED; \
             perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0) or die; \
               print connect(S, pack_sockaddr_un(\"\\0{name}\")) ? \"ABSTRACT-OPEN\\n\" : \"ABSTRACT-FENCED\\n\"'; \
             echo UID=$(id -u)"
        );
        let (out, listeners) = fenced(&script, &[own]);
        assert!(out.contains("HOST-FENCED"), "{out}");
        assert!(!out.contains("HOST-OPEN"), "{out}");
        assert!(out.contains("FROM-OUTSIDE"), "{out}");
        assert!(out.contains("AWAY-FENCED"), "{out}");
        assert!(
            out.contains("SOCKETS=0"),
            "a socket leaked into the child: {out}"
        );
        assert!(out.contains("ABSTRACT-FENCED"), "{out}");
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        assert!(out.contains(&format!("UID={uid}")), "{out}");
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners[0].0, own);
        // The host's listener saw nothing.
        for listener in [&host, &away] {
            listener.set_nonblocking(true).unwrap();
            assert!(listener.accept().is_err(), "the host's port was reached");
        }
    }
}
