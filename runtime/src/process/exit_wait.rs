//! Waiting for a process that is not our child to exit (a container's init from `rm -f`,
//! its monitor from `rm`), without sleeping in steps: a pidfd becomes readable the moment
//! the process exits (a zombie counts). Kernels without pidfd_open (before 5.3) fall back
//! to polling.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Whether `pid` has exited (or never existed), as `kill(pid, 0)` and /proc see it.
fn gone(pid: i32) -> bool {
    // A zombie still answers kill(pid, 0); its /proc stat says Z.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
            })
            .unwrap_or(true)
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until process `pid` exits or `timeout` passes; returns whether it is gone.
pub fn wait_for_exit(pid: i32, timeout: Duration) -> bool {
    if pid <= 0 {
        return true;
    }
    let deadline = Instant::now() + timeout;
    if let Some(fd) = pidfd_open(pid) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&fd),
                PollFlags::POLLIN,
            )];
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(n) if n > 0 => return true,
                Err(nix::Error::EINTR) => continue,
                Ok(_) if left.is_zero() => return gone(pid),
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    // No pidfd (ESRCH: already gone; ENOSYS: an old kernel): poll.
    while !gone(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_when_a_process_exits_and_times_out_while_it_runs() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(!wait_for_exit(pid, Duration::from_millis(20)));
        let started = Instant::now();
        assert!(wait_for_exit(pid, Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(2));
        child.wait().unwrap();
        assert!(wait_for_exit(pid, Duration::from_millis(1)));
    }
}
