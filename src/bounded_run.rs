//! A child process waited for with a time limit, its output read beside
//! it: a program that hangs (or is made to hang) costs the limit, not the
//! thread that waits. Used where a blocking step runs the user's programs
//! (git, ssh) on what an agent may control.

use std::io::Read;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Waits for `child` (its standard output and error piped, if read at all)
/// at most `limit`; `None` when the limit came first and the child was
/// killed. What it started on its own is not: a caller that needs that
/// starts it in a process group of its own.
pub fn wait_within(child: &mut Child, limit: Duration) -> std::io::Result<Option<Output>> {
    let stdout = read_to_end(child.stdout.take());
    let stderr = read_to_end(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait()? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ok(Some(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// A pipe read to its end on a thread of its own.
fn read_to_end(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_child_within_its_limit_is_read_and_one_past_it_is_killed() {
        let mut quick = Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_within(&mut quick, Duration::from_secs(60))
            .unwrap()
            .unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
        let mut slow = Command::new("sleep").arg("600").spawn().unwrap();
        assert!(wait_within(&mut slow, Duration::from_millis(100))
            .unwrap()
            .is_none());
        assert!(slow.try_wait().unwrap().is_some(), "killed and reaped");
    }
}
