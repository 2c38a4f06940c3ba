//! One health probe, in the hidden `container-health-probe ID` helper the health checker
//! starts (see `health_monitor`): the probe joins the running container as `exec` does (its
//! namespaces and cgroups; the container's user, working directory and environment, as
//! dockerd runs it), its stdout and stderr go into one pipe of which the first 4096 bytes
//! are kept, and past the timeout its process group is killed and the result is Docker's
//! `Health check exceeded timeout (30s)` with exit code -1. The result is one JSON line
//! ([`ProbeReport`]) on the report channel.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::health::{self, MAX_OUTPUT_LEN};
use super::health_monitor::ProbeReport;
use super::store::ContainerStore;
use super::{ContainerError, ExecSpec};
use crate::format::go_duration;
use crate::process::{self, ExecTarget};
use crate::Paths;

/// After the probe exited, how long output still coming from what it left behind is read.
const DRAIN_MS: u16 = 50;
/// The longest such output is read for.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);

/// The helper's main: runs container `id`'s probe and writes its report to `report`.
pub fn run_health_probe(paths: &Paths, id: &str, mut report: File) -> i32 {
    let (exit_code, output) = match probe(paths, id) {
        Ok(result) => result,
        Err(ContainerError::Start(f)) => (-1, format!("OCI runtime exec failed: {}", f.message)),
        Err(e) => (-1, e.to_string()),
    };
    let line = serde_json::to_string(&ProbeReport { exit_code, output }).unwrap_or_default();
    match writeln!(report, "{line}") {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn probe(paths: &Paths, id: &str) -> Result<(i64, String), ContainerError> {
    let store = ContainerStore::new(paths);
    let config = store.lookup(id)?;
    let hc = config.healthcheck.clone().ok_or_else(|| {
        ContainerError::InvalidState(format!("container {id} has no health check"))
    })?;
    let args = health::probe_command(&hc).ok_or_else(|| {
        ContainerError::InvalidState(format!("container {id} has no health check"))
    })?;
    let state = super::observe(paths, &config)?;
    if !super::lifecycle::running(paths, &config)? || state.pid <= 0 {
        return Err(ContainerError::NotRunning(config.id.clone()));
    }
    let spec = ExecSpec {
        args,
        ..Default::default()
    };
    let root = std::path::PathBuf::from(format!("/proc/{}/root", state.pid));
    let process = super::oci_translate::exec_process(&config, &spec, &root)?;
    let target = ExecTarget::new(state.pid, state.cgroups.iter().flat_map(|c| c.dirs()));

    // The probe's stdout and stderr: one pipe, put on this process's fds 1 and 2 for the
    // exec to inherit, then pointed away so that only the probe (and what it starts) holds it.
    let sys = |op| move |source| ContainerError::Process(process::ProcessError::Sys { op, source });
    let (output, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    nix::unistd::dup2_stdout(&write_end).map_err(sys("dup2"))?;
    nix::unistd::dup2_stderr(&write_end).map_err(sys("dup2"))?;
    drop(write_end);
    let spawned = process::spawn_exec(&target, &process);
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let pid = match spawned? {
        Ok((pid, _)) => pid,
        Err(failure) => return Err(ContainerError::Start(failure)),
    };
    let timeout = health::timeout(&hc);
    let deadline = Instant::now() + timeout;
    // spawn_exec blocked SIGCHLD in this thread: a pending one is read here too.
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let signals = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(sys("signalfd"))?;
    let mut collected = Collected::default();
    let mut output = File::from(output);
    let mut output_open = true;
    let mut status = None;
    while status.is_none() {
        status = exited(pid);
        if status.is_some() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if output_open {
            fds.push(PollFd::new(output.as_fd(), PollFlags::POLLIN));
        }
        let ms = left.as_millis().clamp(1, u128::from(u16::MAX)) as u16;
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(sys("poll")(e)),
        }
        let ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);
        while let Ok(Some(_)) = signals.read_signal() {}
        if ready {
            output_open = collected.read_from(&mut output);
        }
    }
    let Some(code) = status else {
        // Past the timeout: the probe and what it started (its process group: it is a
        // session leader) are killed.
        let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        collected.drain(&mut output, output_open);
        let out = collected.text();
        let limit = go_duration::format(timeout.as_nanos() as i64);
        return Ok((
            -1,
            if out.is_empty() {
                format!("Health check exceeded timeout ({limit})")
            } else {
                format!("Health check exceeded timeout ({limit}): {out}")
            },
        ));
    };
    collected.drain(&mut output, output_open);
    Ok((code, collected.text()))
}

/// The probe's exit code (128 + signal when killed) once it has exited.
fn exited(pid: Pid) -> Option<i64> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(i64::from(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i64),
        Err(nix::Error::ECHILD) => Some(-1),
        _ => None,
    }
}

/// The output kept: the first [`MAX_OUTPUT_LEN`] bytes, and whether more came.
#[derive(Default)]
struct Collected {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Collected {
    /// Reads one chunk; false at the end of the output.
    fn read_from(&mut self, from: &mut File) -> bool {
        let mut buf = [0u8; 8192];
        match from.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                let room = MAX_OUTPUT_LEN - self.bytes.len();
                self.bytes.extend_from_slice(&buf[..n.min(room)]);
                self.truncated |= n > room;
                true
            }
        }
    }

    /// Reads what is left once the probe is gone, until the end, a short quiet spell or
    /// [`DRAIN_LIMIT`] (a process the probe left running may hold the pipe open).
    fn drain(&mut self, from: &mut File, open: bool) {
        if !open {
            return;
        }
        let until = Instant::now() + DRAIN_LIMIT;
        while Instant::now() < until {
            let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(DRAIN_MS)) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
            if !self.read_from(from) {
                return;
            }
        }
    }

    fn text(&self) -> String {
        health::output_text(&self.bytes, self.truncated)
    }
}
