//! The foreground monitor: forwards signals to the container's process (Docker's
//! sig-proxy), relays its terminal with `-t`, and returns its exit status.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::pty::{copy_winsize, RawMode};
use super::ProcessError;

/// Signals a foreground `ebrun run` (and `attach --sig-proxy`) passes on to the container.
pub const FORWARDED: [Signal; 7] = [
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
    let output = Output {
        pty_master,
        stdout: None,
        stderr: None,
    };
    supervise_relayed(child, output, &mut |_, _| {})
}

/// The container's output a foreground monitor relays: its terminal with `-t`, else the
/// pipes of its stdout and stderr (see `StdioMode::Relayed`).
pub struct Output {
    pub pty_master: Option<OwnedFd>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

/// After the container's init has exited, how long to wait for the rest of its output (its
/// other processes are gone with its PID namespace, so the pipes end at once).
const DRAIN_TIMEOUT_MS: u16 = 200;

/// [`supervise`], also copying every chunk of the container's output to this process's own
/// stdout (fd 1) or stderr (fd 2) and handing it to `sink` with that fd number (the
/// terminal's output counts as stdout, as Docker logs it).
pub fn supervise_relayed(
    child: Pid,
    output: Output,
    sink: &mut dyn FnMut(i32, &[u8]),
) -> Result<ExitStatus, ProcessError> {
    supervise_interruptible(child, output, sink, None)
}

/// [`supervise_relayed`], except that with `interrupted`, SIGINT, SIGTERM, SIGHUP and SIGQUIT
/// are not forwarded but kill the container's process (a PID 1 ignores signals it has no
/// handler for) and set the flag, and the output only goes to `sink`: how a build's `RUN`
/// step runs.
pub fn supervise_interruptible(
    child: Pid,
    output: Output,
    sink: &mut dyn FnMut(i32, &[u8]),
    interrupted: Option<&std::sync::atomic::AtomicBool>,
) -> Result<ExitStatus, ProcessError> {
    let sys = |op| move |source| ProcessError::Sys { op, source };
    let signals =
        SignalFd::with_flags(&handled_set(), SfdFlags::SFD_CLOEXEC).map_err(sys("signalfd"))?;
    let _raw = output.pty_master.as_ref().and_then(|_| RawMode::enter());
    let mut master = output.pty_master.map(File::from);
    if let Some(m) = &master {
        copy_winsize(std::io::stdin().as_fd(), m.as_fd());
    }
    // (target fd, source): the terminal, or the stdout and stderr pipes.
    let mut sources: Vec<(i32, File)> = Vec::new();
    if let Some(m) = &master {
        sources.push((
            1,
            m.try_clone().map_err(|source| ProcessError::Io {
                op: "dup terminal",
                source,
            })?,
        ));
    }
    sources.extend(output.stdout.map(|f| (1, f)));
    sources.extend(output.stderr.map(|f| (2, f)));
    let mut stdin_open = master.is_some();
    let mut exit: Option<ExitStatus> = None;
    loop {
        if exit.is_none() {
            exit = reap(child)?;
        }
        if let (Some(status), true) = (exit, sources.is_empty()) {
            return Ok(status);
        }
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        for (_, f) in &sources {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        let stdin_polled = stdin_open && master.is_some() && exit.is_none();
        if stdin_polled {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if exit.is_some() {
            PollTimeout::from(DRAIN_TIMEOUT_MS)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                return Err(ProcessError::Sys {
                    op: "poll",
                    source: e,
                })
            }
            Ok(0) if exit.is_some() => return Ok(exit.expect("checked")),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let stdin_ready = stdin_polled && ready.get(1 + sources.len()) == Some(&true);
        if ready[0] {
            if let Ok(Some(info)) = signals.read_signal() {
                let signo = info.ssi_signo as i32;
                match interrupted {
                    Some(flag) if is_interrupt(signo) => {
                        flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        let _ = kill(child, Signal::SIGKILL);
                    }
                    _ => handle_signal(child, signo, master.as_ref()),
                }
            }
        }
        let mut closed = Vec::new();
        for (i, (target, source)) in sources.iter_mut().enumerate() {
            if ready[1 + i] && !relay_output(source, *target, sink, interrupted.is_none()) {
                closed.push(i);
            }
        }
        for i in closed.into_iter().rev() {
            // The container closed its terminal or output: wait for it to exit.
            if sources.remove(i).0 == 1 && master.is_some() {
                master = None;
            }
        }
        if stdin_ready {
            if let Some(m) = master.as_mut() {
                stdin_open = relay(&mut std::io::stdin(), m);
            }
        }
    }
}

/// Copies one chunk of output to this process's fd `target` and to `sink`; false at the end
/// of the container's output, or when the caller's side is gone (EPIPE: closing our end
/// passes that on to the container, as if it wrote there itself).
fn relay_output(
    source: &mut File,
    target: i32,
    sink: &mut dyn FnMut(i32, &[u8]),
    relay: bool,
) -> bool {
    let mut buf = [0u8; 16384];
    match source.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            sink(target, &buf[..n]);
            if !relay {
                true
            } else if target == 2 {
                std::io::stderr().write_all(&buf[..n]).is_ok()
            } else {
                let mut out = std::io::stdout();
                out.write_all(&buf[..n]).and_then(|_| out.flush()).is_ok()
            }
        }
    }
}

/// Signals that ask a build to stop.
pub fn is_interrupt(signo: i32) -> bool {
    [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ]
    .iter()
    .any(|s| *s as i32 == signo)
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
