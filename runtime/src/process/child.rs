//! Child side: runs in the new namespaces from clone until exec. Any failure is written to
//! the error pipe as "<exit code> <message>" and the child exits with that code.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, RawFd};

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::close;

use super::become_process::{become_and_exec, fail, Failure, StartGate, EXIT_RUNTIME};
use super::Launch;
use crate::rootfs;

/// What the child needs; file descriptors are raw because the child owns its copy of them.
pub(super) struct ChildContext<'a> {
    pub launch: &'a Launch,
    /// Read end of the pipe the parent writes one byte to once the child is in its cgroups.
    pub go: RawFd,
    /// Write end of the error pipe (close-on-exec: EOF tells the parent exec worked).
    pub errors: RawFd,
    /// The parent's ends of the pipes and of the console socket.
    pub close_in_child: [Option<RawFd>; 6],
    /// With piped stdio: the child's ends for stdin, stdout, stderr.
    pub stdio: [Option<RawFd>; 3],
    /// Namespaces to join, opened by the parent (cgroup ones are joined after the release).
    pub joins: Vec<(RawFd, CloneFlags)>,
    /// With a terminal: the socket to send the terminal's master to the parent over.
    pub console: Option<RawFd>,
    pub devnull: RawFd,
    /// `ebrun oci create`: wait for `start` on this FIFO just before exec.
    pub start_fifo: Option<RawFd>,
    /// A new user namespace: (read end to wait on until the parent wrote the mappings, the
    /// parent's write end to close).
    pub mapped: Option<(RawFd, RawFd)>,
}

/// The clone callback. Never returns on success (exec replaces the process).
pub(super) fn run(ctx: &ChildContext<'_>) -> isize {
    for fd in ctx.close_in_child.into_iter().flatten() {
        let _ = close(fd);
    }
    // While the parent places this process in its cgroups and wires its network, build
    // what needs nothing from it; a failure is reported once released, like any other.
    let prepared = prepare(ctx);
    let mut byte = [0u8; 1];
    // SAFETY: `go` is a pipe fd this process owns; reading into a stack buffer.
    let got = unsafe { libc::read(ctx.go, byte.as_mut_ptr().cast(), 1) };
    if got != 1 {
        // The parent gave up (or died) before releasing us.
        // SAFETY: _exit is always safe; it skips destructors we do not want to run twice.
        unsafe { libc::_exit(EXIT_RUNTIME) };
    }
    let Err((code, message)) = prepared.and_then(|()| setup_and_exec(ctx));
    let report = format!("{code} {message}");
    // SAFETY: writing a valid buffer to our pipe fd, then exiting without unwinding.
    unsafe {
        libc::write(ctx.errors, report.as_ptr().cast(), report.len());
        libc::_exit(code)
    }
}

fn join(ctx: &ChildContext<'_>, cgroup: bool) -> Result<(), Failure> {
    for (fd, flag) in &ctx.joins {
        if (*flag == CloneFlags::CLONE_NEWCGROUP) != cgroup {
            continue;
        }
        // SAFETY: `fd` is an open namespace file descriptor owned by this process.
        let ns = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
        setns(ns, *flag).map_err(fail(EXIT_RUNTIME, "join namespace"))?;
        let _ = close(*fd);
        if *flag == CloneFlags::CLONE_NEWUSER {
            become_namespace_root()?;
        }
    }
    Ok(())
}

/// Inside a user namespace: become its root (the host's root is not mapped there), so that
/// what the process builds belongs to the container's root.
fn become_namespace_root() -> Result<(), Failure> {
    let root_uid = nix::unistd::Uid::from_raw(0);
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)
        .map_err(fail(EXIT_RUNTIME, "setresgid in the user namespace"))?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
        .map_err(fail(EXIT_RUNTIME, "setresuid in the user namespace"))
}

/// A new user namespace: wait for the parent's mappings, then become its root.
fn wait_for_mappings(ctx: &ChildContext<'_>) -> Result<(), Failure> {
    let Some((rx, tx)) = ctx.mapped else {
        return Ok(());
    };
    let _ = close(tx);
    let mut byte = [0u8; 1];
    // SAFETY: reading one byte from a pipe fd this process owns into a stack buffer.
    if unsafe { libc::read(rx, byte.as_mut_ptr().cast(), 1) } != 1 {
        return Err((EXIT_RUNTIME, "the user namespace was never mapped".into()));
    }
    let _ = close(rx);
    become_namespace_root()
}

/// Before the parent's release: join namespaces by path (`--net container:X`, so that
/// /sys shows its devices) and build the new root.
fn prepare(ctx: &ChildContext<'_>) -> Result<(), Failure> {
    wait_for_mappings(ctx)?;
    join(ctx, false)?;
    rootfs::prepare(&ctx.launch.rootfs).map_err(fail(EXIT_RUNTIME, "rootfs"))
}

/// The hooks' state with this process's pid as the host sees it (its /proc is still the
/// host's until pivot_root).
fn hook_state(ctx: &ChildContext<'_>) -> String {
    let mut state = ctx.launch.hooks.state.clone();
    if let Ok(pid) = std::fs::read_link("/proc/self") {
        state["pid"] = pid.to_string_lossy().parse::<i64>().unwrap_or(0).into();
    }
    state.to_string()
}

/// After the release: the process is in its cgroups (so the cgroup namespace made now has
/// them as its root).
fn setup_and_exec(ctx: &ChildContext<'_>) -> Result<Infallible, Failure> {
    let launch = ctx.launch;
    join(ctx, true)?;
    if launch.namespaces.new_cgroup {
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(fail(EXIT_RUNTIME, "cgroup namespace"))?;
    }
    nix::unistd::setsid().map_err(fail(EXIT_RUNTIME, "setsid"))?;
    let hooks = &launch.hooks;
    let state = hook_state(ctx);
    super::run_hooks("createContainer", &hooks.create_container, &state)
        .map_err(|e| (EXIT_RUNTIME, e))?;
    rootfs::enter(&launch.rootfs).map_err(fail(EXIT_RUNTIME, "rootfs"))?;
    for (key, value) in &launch.sysctl {
        // The dotted form with dots and slashes swapped: `net.ipv4.conf.eth0/100.forwarding`
        // is /proc/sys/net/ipv4/conf/eth0.100/forwarding.
        let path: String = crate::oci::dotted_sysctl(key)
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect();
        let path = format!("/proc/sys/{path}");
        std::fs::write(&path, value).map_err(fail(EXIT_RUNTIME, &path))?;
    }
    rootfs::finish(&launch.rootfs).map_err(fail(EXIT_RUNTIME, "rootfs"))?;
    stdio(ctx)?;
    if let Some(name) = &launch.hostname {
        nix::unistd::sethostname(name).map_err(fail(EXIT_RUNTIME, "sethostname"))?;
    }
    if let Some(name) = &launch.domainname {
        // SAFETY: a valid buffer and its length; the kernel copies it.
        if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
            return Err((EXIT_RUNTIME, "setdomainname failed".into()));
        }
    }
    if let Some(domain) = launch.personality {
        // SAFETY: personality(2) takes a plain integer.
        if unsafe { libc::personality(domain) } < 0 {
            return Err((EXIT_RUNTIME, "personality failed".into()));
        }
    }
    let gate = ctx.start_fifo.map(|fifo| StartGate {
        fifo,
        ready: ctx.errors,
        start_hooks: (&hooks.start_container, state.clone()),
    });
    become_and_exec(&launch.process, true, gate)
}

/// stdin/stdout/stderr: a terminal on the container's devpts (its master goes to the
/// parent); otherwise the pipes of a monitor or the caller's own, stdin from /dev/null
/// unless kept.
fn stdio(ctx: &ChildContext<'_>) -> Result<(), Failure> {
    if let Some(console) = ctx.console {
        let master = super::pty::open_in_container(ctx.launch.process.console_size)
            .map_err(fail(EXIT_RUNTIME, "terminal"))?;
        super::pty::send_fd(console, master.as_raw_fd())
            .map_err(fail(EXIT_RUNTIME, "send terminal"))?;
        let _ = close(console);
    } else {
        let stdin = ctx.stdio[0].or((!ctx.launch.process.stdin).then_some(ctx.devnull));
        for (target, fd) in [(0, stdin), (1, ctx.stdio[1]), (2, ctx.stdio[2])] {
            if let Some(fd) = fd {
                // SAFETY: both fds are open in this process; dup2 onto a standard descriptor.
                if unsafe { libc::dup2(fd, target) } < 0 {
                    return Err((EXIT_RUNTIME, "dup2 stdio".into()));
                }
            }
        }
        for fd in ctx.stdio.into_iter().flatten() {
            let _ = close(fd);
        }
    }
    let _ = close(ctx.devnull);
    Ok(())
}
