//! The monitor of a detached container (ARCHITECTURE.md point 1): the ebrun binary
//! re-executed in a hidden mode, in its own session. It is the parent (and subreaper) of the
//! container's init, writes its output to the container's log and to attached clients,
//! records every exit, applies the restart policy and does `--rm` clean-up. Killing any other
//! ebrun process never stops a container; killing the monitor leaves the container running.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Stdio;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::attach::{frame, socket_path};
use super::logs::{log_path, LogWriter, Stream};
use super::remove::auto_remove;
use super::restart_policy::backoff;
use super::start::{finish, start, Started};
use super::store::ContainerStore;
use super::ContainerError;
use crate::process::{StartFailure, StdioMode};
use crate::Paths;

/// The hidden command line that runs a monitor: `ebrun --root R container-monitor ID`.
pub const MONITOR_COMMAND: &str = "container-monitor";

/// Starts a monitor for container `id` and waits until its first start succeeded or failed.
pub fn spawn_monitor(paths: &Paths, id: &str) -> Result<(), ContainerError> {
    let mut child = paths
        .ebrun_command()
        .args([MONITOR_COMMAND, id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ContainerError::Io {
            op: "start the container monitor",
            path: "ebrun".into(),
            source,
        })?;
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    // The process started is the monitor's first half, which ends at once (see
    // `run_monitor`): reaped here, so a long-running caller keeps no zombie.
    let _ = child.wait();
    if line.trim_end() == "ok" {
        return Ok(());
    }
    let (code, message) = line
        .trim_end()
        .strip_prefix("err ")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(c, m)| Some((c.parse().ok()?, m.to_string())))
        .unwrap_or((
            125,
            "the container monitor exited before starting the container".into(),
        ));
    Err(ContainerError::Start(StartFailure {
        exit_code: code,
        message,
    }))
}

/// The monitor process's main: returns its exit code. `ready` receives `ok` once the
/// container's process has exec'ed, or `err <code> <message>`.
pub fn run_monitor(paths: &Paths, id: &str, mut ready: Option<File>) -> i32 {
    // The monitor outlives whoever started it, which may run for long (`ebrun serve`): the
    // process it started exits here at once and the monitor goes on in a child, adopted by
    // init (or a subreaper), never a zombie of its starter.
    // SAFETY: the monitor is single-threaded here; the child only goes on with this code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            // SAFETY: ending the first half without running destructors the child shares.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => {
            tracing::warn!(error = %e, "fork of the monitor failed; it stays the starter's child")
        }
    }
    let _ = nix::unistd::setsid();
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let store = ContainerStore::new(paths);
    loop {
        let Ok(config) = store.lookup(id) else {
            return 1;
        };
        // The attach socket is there before the process starts: a client that attached to
        // the created container (the Engine API's attach before start) is let in first and
        // sees all of its output; and before `run -d` returns, so an `attach` right behind
        // it finds it.
        let listener = bind_attach_socket(paths, id);
        let early = listener
            .as_ref()
            .map(|l| super::attach::accept_pending(paths, id, l))
            .unwrap_or_default();
        let started = match start(paths, &config, StdioMode::Piped) {
            Ok(s) => s,
            Err(e) => {
                if listener.is_some() {
                    let _ = std::fs::remove_file(socket_path(paths, id));
                }
                if let Some(mut r) = ready.take() {
                    let _ = writeln!(r, "err {} {}", e.exit_code(), e.one_line());
                }
                tracing::warn!(error = %e, "container start failed");
                return 1;
            }
        };
        // The health state says `starting` before `run -d` / `start` return, as dockerd's.
        let health = super::health_monitor::HealthMonitor::start(paths, &config, &started.state);
        if let Some(mut r) = ready.take() {
            let _ = writeln!(r, "ok");
        }
        let clients = Clients {
            early,
            stdin_once: config.process.stdin_once,
        };
        let outcome = supervise(paths, id, started, listener, clients);
        if let Some(h) = health {
            h.stop();
        }
        let Ok(mut state) = store.load_state(id) else {
            return 0;
        };
        state.monitor_pid = std::process::id() as i32;
        let Ok(mut state) = finish(paths, &config, state, &outcome) else {
            return 1;
        };
        let exit_code = state.exit_code;
        // `ebrun update --restart` may have changed the policy while it ran.
        let restart = super::restart_update::current_policy(&store, &config);
        if restart.should_restart(exit_code, state.restart_count, state.stopped_by_user)
            && store.dir(id).exists()
        {
            std::thread::sleep(backoff(state.restart_count));
            // The user may have stopped or removed it during the back-off.
            match store.load_state(id) {
                Ok(s) if !s.stopped_by_user => {}
                _ => return 0,
            }
            state.restart_count += 1;
            let _ = store.save_state(id, &state);
            continue;
        }
        state.monitor_pid = 0;
        if store.dir(id).exists() {
            let _ = store.save_state(id, &state);
        }
        if config.auto_remove {
            auto_remove(paths, &config);
        }
        return 0;
    }
}

/// The attached clients a run begins with, and what their end of input means.
struct Clients {
    /// Clients that attached before the start.
    early: Vec<UnixStream>,
    /// Docker's `StdinOnce`: a client's end of input closes the container's stdin.
    stdin_once: bool,
}

/// An attached client: output goes to it until it leaves; its input until it ends it.
struct Client {
    stream: UnixStream,
    input_open: bool,
}

/// Relays the container's output to its log and attached clients until its init exits;
/// returns the exit code Docker reports.
fn supervise(
    paths: &Paths,
    id: &str,
    mut started: Started,
    listener: Option<UnixListener>,
    attached: Clients,
) -> Result<i32, ContainerError> {
    let dir = paths.container_dir(id);
    let mut log = LogWriter::open(&log_path(&dir, id)).map_err(|source| {
        if listener.is_some() {
            let _ = std::fs::remove_file(socket_path(paths, id));
        }
        ContainerError::Io {
            op: "open log",
            path: log_path(&dir, id),
            source,
        }
    })?;
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let signals = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|source| {
            ContainerError::Process(crate::process::ProcessError::Sys {
                op: "signalfd",
                source,
            })
        })?;
    let init = started.spawned.pid;
    // Output sources: the terminal with -t, else the stdout and stderr pipes.
    let mut sources: Vec<(Stream, File)> = Vec::new();
    let mut stdin: Option<File> = started.spawned.stdin.take();
    if let Some(master) = started.spawned.pty_master.take() {
        let master = File::from(master);
        stdin = master.try_clone().ok();
        sources.push((Stream::Stdout, master));
    } else {
        sources.extend(started.spawned.stdout.take().map(|f| (Stream::Stdout, f)));
        sources.extend(started.spawned.stderr.take().map(|f| (Stream::Stderr, f)));
    }
    let mut clients: Vec<Client> = attached
        .early
        .into_iter()
        .map(|stream| Client {
            stream,
            input_open: true,
        })
        .collect();
    let mut exit: Option<i32> = None;
    loop {
        if exit.is_none() {
            exit = reap(init);
        }
        if exit.is_some() && sources.is_empty() {
            break;
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        for (_, f) in &sources {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        if let Some(l) = &listener {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
        }
        // Clients whose input ended are not polled (their socket would stay readable).
        let polled: Vec<usize> = (0..clients.len())
            .filter(|i| clients[*i].input_open)
            .collect();
        for i in &polled {
            fds.push(PollFd::new(clients[*i].stream.as_fd(), PollFlags::POLLIN));
        }
        // Once init is gone, wait only briefly for the last output.
        let timeout = if exit.is_some() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        let ready: Vec<bool> = match poll(&mut fds, timeout) {
            Ok(0) if exit.is_some() => break,
            Ok(_) => fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "poll");
                break;
            }
        };
        drop(fds);
        if ready[0] {
            while let Ok(Some(_)) = signals.read_signal() {}
        }
        // New clients first, so one that connected with the output already waiting gets it.
        let base = 1 + sources.len();
        if let Some(l) = &listener {
            if ready[base] {
                if let Ok((c, _)) = l.accept() {
                    clients.push(Client {
                        stream: c,
                        input_open: true,
                    });
                }
            }
        }
        let client_base = base + usize::from(listener.is_some());
        let mut gone = Vec::new();
        for (slot, i) in polled.iter().enumerate() {
            if !ready.get(client_base + slot).copied().unwrap_or(false) {
                continue;
            }
            let client = &mut clients[*i];
            let mut buf = [0u8; 4096];
            match client.stream.read(&mut buf) {
                Ok(0) => {
                    // The client ended its input (a half-close); it still gets the output.
                    // With StdinOnce the container's input ends with it.
                    client.input_open = false;
                    if attached.stdin_once {
                        stdin = None;
                    }
                }
                Err(_) => gone.push(*i),
                Ok(n) => {
                    if let Some(s) = stdin.as_mut() {
                        let _ = s.write_all(&buf[..n]);
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            clients.remove(i);
        }
        let mut closed = Vec::new();
        for (i, (stream, source)) in sources.iter_mut().enumerate() {
            if !ready[1 + i] {
                continue;
            }
            let mut buf = [0u8; 16384];
            match source.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(i),
                Ok(n) => {
                    let _ = log.write(*stream, &buf[..n]);
                    let bytes = frame(*stream, &buf[..n]);
                    clients.retain_mut(|c| c.stream.write_all(&bytes).is_ok());
                }
            }
        }
        for i in closed.into_iter().rev() {
            sources.remove(i);
        }
    }
    let _ = log.flush();
    drop(clients);
    if let Some(path) = listener.as_ref().map(|_| socket_path(paths, id)) {
        let _ = std::fs::remove_file(path);
    }
    Ok(exit.unwrap_or(255))
}

fn bind_attach_socket(paths: &Paths, id: &str) -> Option<UnixListener> {
    let path = socket_path(paths, id);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(&path);
    match UnixListener::bind(&path) {
        Ok(l) => {
            let _ = l.set_nonblocking(true);
            restrict(&path);
            Some(l)
        }
        Err(e) => {
            tracing::warn!(error = %e, "attach socket unavailable");
            None
        }
    }
}

/// Only root may attach.
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

/// Reaps every exited child (the monitor is a subreaper); returns init's exit code once it
/// has exited.
fn reap(init: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => result = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => continue,
        }
    }
}
