//! The foreground monitor: forwards signals to the container's process (Docker's
//! sig-proxy), relays its terminal with `-t`, and returns its exit status.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::pty::{copy_winsize, RawMode};
use super::ProcessError;

/// Signals a foreground `ebrun run` passes on to the container.
const FORWARDED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGWINCH);
    set
}

/// Blocks the signals the supervisor handles, so none is lost before its signalfd exists.
pub(super) fn block_forwarded_signals() -> nix::Result<()> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled_set()), None)
}

/// How the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(Signal),
}

impl ExitStatus {
    /// The exit code Docker reports: the code, or 128 + signal number.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s as i32,
        }
    }
}

/// Waits for `child`, forwarding signals and relaying the pty, and returns its status.
pub fn supervise(child: Pid, pty_master: Option<OwnedFd>) -> Result<ExitStatus, ProcessError> {
    let sys = |op| move |source| ProcessError::Sys { op, source };
    let signals =
        SignalFd::with_flags(&handled_set(), SfdFlags::SFD_CLOEXEC).map_err(sys("signalfd"))?;
    let _raw = pty_master.as_ref().and_then(|_| RawMode::enter());
    let mut master = pty_master.map(std::fs::File::from);
    if let Some(m) = &master {
        copy_winsize(std::io::stdin().as_fd(), m.as_fd());
    }
    let mut stdin_open = master.is_some();
    loop {
        if let Some(status) = reap(child)? {
            if let Some(m) = master.as_mut() {
                drain(m);
            }
            return Ok(status);
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                return Err(ProcessError::Sys {
                    op: "poll",
                    source: e,
                })
            }
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            if let Ok(Some(info)) = signals.read_signal() {
                handle_signal(child, info.ssi_signo as i32, master.as_ref());
            }
        }
        if let Some(m) = master.as_mut() {
            if ready.get(1) == Some(&true) && !relay(m, &mut std::io::stdout()) {
                // The container closed its terminal; wait for it to exit.
                master = None;
            }
        }
        if ready.get(2) == Some(&true) {
            if let Some(m) = master.as_mut() {
                stdin_open = relay(&mut std::io::stdin(), m);
            }
        }
    }
}

fn handle_signal(child: Pid, signo: i32, master: Option<&std::fs::File>) {
    let Ok(signal) = Signal::try_from(signo) else {
        return;
    };
    match signal {
        Signal::SIGCHLD => {}
        Signal::SIGWINCH => {
            if let Some(m) = master {
                copy_winsize(std::io::stdin().as_fd(), m.as_fd());
            }
        }
        other => {
            let _ = kill(child, other);
        }
    }
}

/// Non-blocking reap of `child` (and of any other child, e.g. an orphaned grandchild).
fn reap(child: Pid) -> Result<Option<ExitStatus>, ProcessError> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => {
                return Ok(Some(ExitStatus::Exited(code)))
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                return Ok(Some(ExitStatus::Signaled(sig)))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(nix::Error::ECHILD) => {
                return Err(ProcessError::Sys {
                    op: "wait for the container's process",
                    source: nix::Error::ECHILD,
                })
            }
            Err(e) => {
                return Err(ProcessError::Sys {
                    op: "waitpid",
                    source: e,
                })
            }
        }
    }
}

/// Copies one chunk; false at EOF or error (EIO on a pty whose other side is gone).
fn relay(from: &mut impl Read, to: &mut impl Write) -> bool {
    let mut buf = [0u8; 8192];
    match from.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => to.write_all(&buf[..n]).and_then(|_| to.flush()).is_ok(),
    }
}

/// Output the container wrote just before exiting.
fn drain(master: &mut std::fs::File) {
    let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
    while matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
    {
        if !relay(master, &mut std::io::stdout()) {
            break;
        }
        fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
    }
}
