//! `exec`: a new process inside a running container. It joins all of the container's
//! namespaces (from its init's /proc/PID/ns) and its cgroups before exec, and becomes the
//! container's user like the first process did.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::become_process::{become_and_exec, fail, Failure, EXIT_RUNTIME};
use super::{supervise, ProcessError, ProcessSpec, StartFailure};

/// The namespaces an exec'ed process joins, in the order it joins them (mount last: the
/// namespace files were opened before).
const NAMESPACES: [(&str, CloneFlags); 5] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// A running container to exec into.
pub struct ExecTarget {
    /// The container's init, whose namespaces are joined.
    pub init_pid: i32,
    /// The container's cgroup directories.
    pub cgroup_dirs: Vec<PathBuf>,
}

impl ExecTarget {
    /// The container whose init is `init_pid`, in the cgroup directories `dirs`.
    pub fn new<'a>(init_pid: i32, dirs: impl IntoIterator<Item = &'a std::path::Path>) -> Self {
        ExecTarget {
            init_pid,
            cgroup_dirs: dirs.into_iter().map(PathBuf::from).collect(),
        }
    }
}

/// Runs `spec` in the container and waits for it (signals forwarded, terminal relayed);
/// returns its exit code, or Docker's 126/127 when it cannot start.
pub fn exec_in(
    target: &ExecTarget,
    spec: &ProcessSpec,
) -> Result<Result<i32, StartFailure>, ProcessError> {
    match spawn_exec(target, spec)? {
        Ok((pid, master)) => {
            let status = supervise::supervise(pid, master)?;
            Ok(Ok(status.code()))
        }
        Err(failure) => Ok(Err(failure)),
    }
}

/// Starts `spec` in the container without waiting for it: its pid and, with a terminal,
/// the terminal's master (`ebrun oci exec --detach`).
pub fn spawn_exec(
    target: &ExecTarget,
    spec: &ProcessSpec,
) -> Result<Result<(Pid, Option<OwnedFd>), StartFailure>, ProcessError> {
    let sys = |op| move |source| ProcessError::Sys { op, source };
    let io = |op| move |source| ProcessError::Io { op, source };
    let ns_file = |name: &str| File::open(format!("/proc/{}/ns/{name}", target.init_pid));
    let pid_ns = ns_file("pid").map_err(io("open the container's pid namespace"))?;
    let mut joins = Vec::new();
    // A container in a user namespace of its own: that one first (the others belong to it).
    let ino = |path: String| {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    };
    if ino(format!("/proc/{}/ns/user", target.init_pid)) != ino("/proc/self/ns/user".into()) {
        joins.push((
            OwnedFd::from(ns_file("user").map_err(io("open the container's user namespace"))?),
            CloneFlags::CLONE_NEWUSER,
        ));
    }
    for (name, flag) in NAMESPACES {
        // A namespace the container shares with this process (the host's cgroup namespace
        // under `--cgroupns host`, the host's network) is not joined: once in the container's
        // user namespace, joining one of the host's would be refused.
        if ino(format!("/proc/{}/ns/{name}", target.init_pid))
            == ino(format!("/proc/self/ns/{name}"))
        {
            continue;
        }
        joins.push((
            OwnedFd::from(ns_file(name).map_err(io("open the container's namespaces"))?),
            flag,
        ));
    }
    // The PID namespace is joined last, by an intermediate child that has already entered
    // every other namespace (the mount namespace included): the process the container can
    // see in its /proc is born inside it, never holding the host's root, cwd or files
    // (CVE-2016-9962). A container sharing this process's PID namespace joins nothing.
    if ino(format!("/proc/{}/ns/pid", target.init_pid)) != ino("/proc/self/ns/pid".into()) {
        joins.push((OwnedFd::from(pid_ns), CloneFlags::CLONE_NEWPID));
    } else {
        drop(pid_ns);
    }

    let (go_rx, go_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (err_rx, err_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (pid_rx, pid_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let console = if spec.terminal {
        Some(std::os::unix::net::UnixStream::pair().map_err(io("socketpair"))?)
    } else {
        None
    };
    let devnull: OwnedFd = File::open("/dev/null")
        .map_err(io("open /dev/null"))?
        .into();
    supervise::block_forwarded_signals().map_err(sys("block signals"))?;
    let mut process_stack = vec![0u8; 1 << 20];
    let ctx = ExecChild {
        spec,
        joins: joins
            .iter()
            .map(|(fd, flag)| (fd.as_raw_fd(), *flag))
            .collect(),
        go: go_rx.as_raw_fd(),
        errors: err_tx.as_raw_fd(),
        pid_out: pid_tx.as_raw_fd(),
        console: console.as_ref().map(|(_, child)| child.as_raw_fd()),
        devnull: devnull.as_raw_fd(),
        stack: process_stack.as_mut_ptr(),
        stack_len: process_stack.len(),
    };
    let mut stack = vec![0u8; 1 << 20];
    // SAFETY: the caller is single-threaded; the child gets its own copy of the address space
    // (no CLONE_VM) and ends in _exit.
    let joiner = unsafe {
        nix::sched::clone(
            Box::new(|| join_child(&ctx)),
            &mut stack,
            CloneFlags::empty(),
            Some(nix::sys::signal::Signal::SIGCHLD as i32),
        )
    }
    .map_err(sys("clone"))?;
    drop((go_rx, err_tx, pid_tx, devnull, joins));
    let mut pid_bytes = [0u8; 4];
    let got_pid = File::from(pid_rx).read_exact(&mut pid_bytes).is_ok();
    let _ = nix::sys::wait::waitpid(joiner, None);
    let pid = Pid::from_raw(i32::from_ne_bytes(pid_bytes));
    if got_pid {
        for dir in &target.cgroup_dirs {
            // A cgroup that refuses the process (e.g. removed meanwhile) is not fatal here.
            let _ = std::fs::write(dir.join("cgroup.procs"), pid.to_string());
        }
        let mut go = File::from(go_tx);
        let _ = go.write_all(b"g");
    } else {
        drop(go_tx);
    }
    let mut report = String::new();
    let _ = File::from(err_rx).read_to_string(&mut report);
    if !report.is_empty() || !got_pid {
        if got_pid {
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        let (code, message) = report
            .split_once(' ')
            .and_then(|(c, m)| Some((c.parse().ok()?, m.to_string())))
            .unwrap_or((EXIT_RUNTIME, report.clone()));
        return Ok(Err(StartFailure {
            exit_code: code,
            message,
        }));
    }
    let master = match console {
        Some((parent, _)) => super::pty::recv_fd(parent.as_raw_fd()).ok().flatten(),
        None => None,
    };
    Ok(Ok((Pid::from_raw(pid.as_raw()), master)))
}

struct ExecChild<'a> {
    spec: &'a ProcessSpec,
    joins: Vec<(RawFd, CloneFlags)>,
    go: RawFd,
    errors: RawFd,
    /// Where the joining child writes the pid of the process it started.
    pid_out: RawFd,
    console: Option<RawFd>,
    devnull: RawFd,
    /// The stack of the container's process, allocated before the first clone.
    stack: *mut u8,
    stack_len: usize,
}

/// Reports a failure on the error pipe and exits.
fn report_and_exit(ctx: &ExecChild<'_>, (code, message): Failure) -> ! {
    let report = format!("{code} {message}");
    // SAFETY: writing a valid buffer to our pipe fd, then exiting without unwinding.
    unsafe {
        libc::write(ctx.errors, report.as_ptr().cast(), report.len());
        libc::_exit(code)
    }
}

/// The intermediate child: not dumpable (a container process cannot reach it through
/// /proc), it joins the container's namespaces, starts the container's process there (a
/// child of the exec'ing process, CLONE_PARENT) and reports its pid.
fn join_child(ctx: &ExecChild<'_>) -> isize {
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(failure) = join(ctx) {
        report_and_exit(ctx, failure);
    }
    // SAFETY: the stack was allocated for this by the exec'ing process, and this process has
    // its own copy of it.
    let stack = unsafe { std::slice::from_raw_parts_mut(ctx.stack, ctx.stack_len) };
    // SAFETY: this process is single-threaded; the child gets its own copy of the address
    // space (no CLONE_VM) and ends in exec or _exit.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| exec_child(ctx)),
            stack,
            CloneFlags::CLONE_PARENT,
            None,
        )
    };
    match pid {
        Ok(pid) => {
            let bytes = pid.as_raw().to_ne_bytes();
            // SAFETY: writing a valid buffer to our pipe fd, then exiting without unwinding.
            unsafe {
                libc::write(ctx.pid_out, bytes.as_ptr().cast(), bytes.len());
                libc::_exit(0)
            }
        }
        Err(e) => report_and_exit(ctx, (EXIT_RUNTIME, format!("clone: {e}"))),
    }
}

fn join(ctx: &ExecChild<'_>) -> Result<(), Failure> {
    for (fd, flag) in &ctx.joins {
        // SAFETY: `fd` is an open namespace file descriptor this process owns.
        let ns = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
        nix::sched::setns(ns, *flag)
            .map_err(fail(EXIT_RUNTIME, "join the container's namespaces"))?;
        if *flag == CloneFlags::CLONE_NEWUSER {
            // The host's root is not mapped there: become the namespace's root.
            let (uid, gid) = (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0));
            nix::unistd::setresgid(gid, gid, gid).map_err(fail(EXIT_RUNTIME, "setresgid"))?;
            nix::unistd::setresuid(uid, uid, uid).map_err(fail(EXIT_RUNTIME, "setresuid"))?;
        }
    }
    Ok(())
}

fn exec_child(ctx: &ExecChild<'_>) -> isize {
    let mut byte = [0u8; 1];
    // SAFETY: reading one byte from a pipe fd this process owns into a stack buffer.
    if unsafe { libc::read(ctx.go, byte.as_mut_ptr().cast(), 1) } != 1 {
        // SAFETY: exiting without running the parent's destructors twice.
        unsafe { libc::_exit(EXIT_RUNTIME) };
    }
    let Err(failure) = enter_and_exec(ctx);
    report_and_exit(ctx, failure)
}

fn enter_and_exec(ctx: &ExecChild<'_>) -> Result<std::convert::Infallible, Failure> {
    nix::unistd::chdir("/").map_err(fail(EXIT_RUNTIME, "chdir /"))?;
    nix::unistd::setsid().map_err(fail(EXIT_RUNTIME, "setsid"))?;
    if let Some(console) = ctx.console {
        let master = super::pty::open_in_container(ctx.spec.console_size)
            .map_err(fail(EXIT_RUNTIME, "terminal"))?;
        super::pty::send_fd(console, master.as_raw_fd())
            .map_err(fail(EXIT_RUNTIME, "send terminal"))?;
    } else if !ctx.spec.stdin {
        // SAFETY: both fds are open in this process; dup2 onto stdin.
        if unsafe { libc::dup2(ctx.devnull, 0) } < 0 {
            return Err((EXIT_RUNTIME, "dup2 /dev/null".into()));
        }
    }
    become_and_exec(ctx.spec, false, None)
}
