//! Parent side of container creation: clone the child into new namespaces, hold it until
//! the parent has placed it in its cgroups, then release it and learn whether exec worked.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::become_process::READY;
use super::child::{self, ChildContext};
use super::{supervise, Launch, ProcessError, ProcessSpec};

/// Stack for the cloned child. The child runs in its own copy of the address space (no
/// CLONE_VM), so this only needs to be big enough for the set-up code before exec.
const CHILD_STACK: usize = 1 << 20;

/// Where the container's stdin, stdout and stderr go (ignored with `-t`: the terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioMode {
    /// The caller's own (foreground `ebrun run`); stdin is /dev/null unless `-i`.
    Inherit,
    /// Pipes the caller reads (and writes, with `-i`): a detached container's monitor.
    Piped,
    /// stdout and stderr are pipes the caller relays (a foreground `ebrun run`, which logs
    /// them); stdin is the caller's own with `-i`, else /dev/null.
    Relayed,
}

/// A child held before exec.
pub struct Spawned {
    pub pid: Pid,
    go: File,
    errors: File,
    console: Option<std::os::unix::net::UnixStream>,
    /// With `-t`, once started: the master side of the container's terminal.
    pub pty_master: Option<OwnedFd>,
    /// With [`StdioMode::Piped`]: the container's stdout and stderr, and its stdin with `-i`
    /// (with [`StdioMode::Relayed`]: stdout and stderr).
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub stdin: Option<File>,
    /// Held by a start gate: [`Spawned::start`] returns once the child waits for it.
    gated: bool,
}

/// Why the container's process did not start: Docker's exit code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    pub exit_code: i32,
    pub message: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The pipes of [`StdioMode::Piped`] and [`StdioMode::Relayed`]: (parent's end, child's end)
/// per stream.
struct Pipes {
    stdin: Option<(OwnedFd, OwnedFd)>,
    stdout: Option<(OwnedFd, OwnedFd)>,
    stderr: Option<(OwnedFd, OwnedFd)>,
}

fn pipes(spec: &ProcessSpec, mode: StdioMode) -> nix::Result<Pipes> {
    if mode == StdioMode::Inherit || spec.terminal {
        return Ok(Pipes {
            stdin: None,
            stdout: None,
            stderr: None,
        });
    }
    let out = |p: (OwnedFd, OwnedFd)| (p.0, p.1);
    let stdin = if spec.stdin && mode == StdioMode::Piped {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        Some((w, r))
    } else {
        None
    };
    Ok(Pipes {
        stdin,
        stdout: Some(out(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)),
        stderr: Some(out(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)),
    })
}

/// Opens the namespaces `launch` joins by path; a PID namespace is joined by this process
/// (it applies to its children only, so the child is born in it).
fn open_joins(launch: &Launch) -> Result<Vec<(OwnedFd, CloneFlags)>, ProcessError> {
    let mut joins = Vec::new();
    for (flag, path) in &launch.namespaces.join {
        let file = File::open(path).map_err(|source| ProcessError::Io {
            op: "open namespace",
            source: std::io::Error::new(source.kind(), format!("{}: {source}", path.display())),
        })?;
        if *flag == CloneFlags::CLONE_NEWPID {
            nix::sched::setns(&file, CloneFlags::CLONE_NEWPID).map_err(|source| {
                ProcessError::Sys {
                    op: "join pid namespace",
                    source,
                }
            })?;
        } else {
            joins.push((OwnedFd::from(file), *flag));
        }
    }
    Ok(joins)
}

/// Clones the container's first process into new namespaces. It waits for [`Spawned::start`].
/// The forwarded signals are blocked in the caller from here on (see [`supervise`]).
/// `start_fifo`: `ebrun oci create`'s FIFO (O_PATH); the child then waits on it before exec.
pub fn spawn(
    launch: &Launch,
    stdio: StdioMode,
    start_fifo: Option<&File>,
) -> Result<Spawned, ProcessError> {
    let spec = &launch.process;
    let sys = |op| move |source| ProcessError::Sys { op, source };
    let (go_rx, go_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (err_rx, err_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    // With a terminal the child creates it inside the container and sends us the master.
    let (console_parent, console_child) = if spec.terminal {
        let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|source| ProcessError::Io {
            op: "socketpair",
            source,
        })?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let devnull: OwnedFd = File::open("/dev/null")
        .map_err(|source| ProcessError::Io {
            op: "open /dev/null",
            source,
        })?
        .into();
    let joins = open_joins(launch)?;
    let pipes = pipes(spec, stdio).map_err(sys("pipe"))?;
    // A new user namespace: the child waits on this until its mappings are written.
    let mapped = match launch.namespaces.user {
        Some(_) => Some(nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?),
        None => None,
    };
    let raw = |p: &Option<(OwnedFd, OwnedFd)>| p.as_ref().map(|(_, child)| child.as_raw_fd());
    let parent_end =
        |p: &Option<(OwnedFd, OwnedFd)>| p.as_ref().map(|(parent, _)| parent.as_raw_fd());
    let ctx = ChildContext {
        launch,
        go: go_rx.as_raw_fd(),
        errors: err_tx.as_raw_fd(),
        close_in_child: [
            Some(go_tx.as_raw_fd()),
            Some(err_rx.as_raw_fd()),
            console_parent.as_ref().map(|s| s.as_raw_fd()),
            parent_end(&pipes.stdin),
            parent_end(&pipes.stdout),
            parent_end(&pipes.stderr),
        ],
        console: console_child.as_ref().map(|s| s.as_raw_fd()),
        devnull: devnull.as_raw_fd(),
        stdio: [raw(&pipes.stdin), raw(&pipes.stdout), raw(&pipes.stderr)],
        joins: joins.iter().map(|(fd, f)| (fd.as_raw_fd(), *f)).collect(),
        start_fifo: start_fifo.map(|f| f.as_raw_fd()),
        mapped: mapped
            .as_ref()
            .map(|(rx, tx)| (rx.as_raw_fd(), tx.as_raw_fd())),
    };
    supervise::block_forwarded_signals().map_err(sys("block signals"))?;
    let mut stack = vec![0u8; CHILD_STACK];
    // SAFETY: the caller is single-threaded on the run path, so the child's copy of the
    // address space is consistent (no lock held by another thread). The callback never
    // returns into the parent's frames: it ends in exec or _exit.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| child::run(&ctx)),
            &mut stack,
            launch.namespaces.clone,
            Some(nix::sys::signal::Signal::SIGCHLD as i32),
        )
    }
    .map_err(sys("clone"))?;
    // The child's ends stay with the child only.
    drop(go_rx);
    drop(err_tx);
    drop(console_child);
    drop(devnull);
    drop(joins);
    let parent_file = |p: Option<(OwnedFd, OwnedFd)>| p.map(|(parent, _child)| File::from(parent));
    let spawned = Spawned {
        pid,
        go: File::from(go_tx),
        errors: File::from(err_rx),
        console: console_parent,
        pty_master: None,
        stdin: parent_file(pipes.stdin),
        stdout: parent_file(pipes.stdout),
        stderr: parent_file(pipes.stderr),
        gated: start_fifo.is_some(),
    };
    if let (Some(maps), Some((rx, tx))) = (&launch.namespaces.user, mapped) {
        drop(rx);
        if let Err(e) = write_mappings(pid, maps) {
            spawned.abort();
            return Err(e);
        }
        // The child goes on once this end is written to (or closed).
        let _ = nix::unistd::write(&tx, b"m");
    }
    if let Some(adj) = spec.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        if let Err(source) = std::fs::write(&path, adj.to_string()) {
            spawned.abort();
            return Err(ProcessError::Io {
                op: "write oom_score_adj",
                source: std::io::Error::new(source.kind(), format!("{path}: {source}")),
            });
        }
    }
    Ok(spawned)
}

/// Writes the user namespace's uid and gid maps of process `pid`.
fn write_mappings(pid: Pid, maps: &super::IdMappings) -> Result<(), ProcessError> {
    for (file, ranges) in [("uid_map", &maps.uid), ("gid_map", &maps.gid)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, super::IdMappings::map_text(ranges)).map_err(|source| {
            ProcessError::Io {
                op: "write id mappings",
                source: std::io::Error::new(source.kind(), format!("{path}: {source}")),
            }
        })?;
    }
    Ok(())
}

impl Spawned {
    /// Releases the child and waits until it has exec'ed (Ok) or failed (its exit code and
    /// message; the child is reaped).
    pub fn start(&mut self) -> Result<(), StartFailure> {
        let released = self.go.write_all(b"g");
        let report = self.read_report();
        // Gated, the child must say it waits; else it says nothing and execs.
        let ok = if self.gated {
            report == READY
        } else {
            report.is_empty()
        };
        if ok && released.is_ok() {
            if let Some(console) = self.console.take() {
                self.pty_master = super::pty::recv_fd(console.as_raw_fd()).ok().flatten();
            }
            return Ok(());
        }
        let _ = nix::sys::wait::waitpid(self.pid, None);
        let (code, message) = report
            .split_once(' ')
            .and_then(|(c, m)| Some((c.parse().ok()?, m.to_string())))
            .unwrap_or((125, "container process died before exec".to_string()));
        Err(StartFailure {
            exit_code: code,
            message,
        })
    }

    /// What the child reported: nothing (it exec'ed), [`READY`] (it waits at its start
    /// gate) or "<code> <message>".
    fn read_report(&mut self) -> String {
        let mut report = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.errors.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => report.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            if self.gated && report == READY.as_bytes() {
                break;
            }
        }
        String::from_utf8_lossy(&report).into_owned()
    }

    /// Kills the held child and reaps it (used when set-up fails before `start`).
    pub fn abort(self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}
