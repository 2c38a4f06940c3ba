//! Child side: runs in the new namespaces from clone until exec. Any failure is written to
//! the error pipe as "<exit code> <message>" and the child exits with that code.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{close, Gid, Uid};

use super::exec_path::{self, EXIT_CANNOT_EXECUTE};
use super::{caps, rlimits, user, ProcessSpec};
use crate::rootfs::{self, RootfsSpec};

/// Exit code of ebrun's own failures (Docker's 125).
const EXIT_RUNTIME: i32 = 125;

/// What the child needs; file descriptors are raw because the child owns its copy of them.
pub(super) struct ChildContext<'a> {
    pub spec: &'a ProcessSpec,
    pub rootfs: &'a RootfsSpec,
    /// Read end of the pipe the parent writes one byte to once the child is in its cgroups.
    pub go: RawFd,
    /// Write end of the error pipe (close-on-exec: EOF tells the parent exec worked).
    pub errors: RawFd,
    /// The parent's ends of the pipes and of the console socket.
    pub close_in_child: [Option<RawFd>; 6],
    /// With piped stdio: the child's ends for stdin, stdout, stderr.
    pub stdio: [Option<RawFd>; 3],
    /// `--net container:X`: the namespace to join.
    pub join_netns: Option<RawFd>,
    /// With `-t`: the socket to send the terminal's master to the parent over.
    pub console: Option<RawFd>,
    pub devnull: RawFd,
}

type Failure = (i32, String);

fn fail<E: std::fmt::Display>(code: i32, what: &str) -> impl FnOnce(E) -> Failure + '_ {
    move |e| (code, format!("{what}: {e}"))
}

/// The clone callback. Never returns on success (exec replaces the process).
pub(super) fn run(ctx: &ChildContext<'_>) -> isize {
    for fd in ctx.close_in_child.into_iter().flatten() {
        let _ = close(fd);
    }
    let mut byte = [0u8; 1];
    // SAFETY: `go` is a pipe fd this process owns; reading into a stack buffer.
    let got = unsafe { libc::read(ctx.go, byte.as_mut_ptr().cast(), 1) };
    if got != 1 {
        // The parent gave up (or died) before releasing us.
        // SAFETY: _exit is always safe; it skips destructors we do not want to run twice.
        unsafe { libc::_exit(EXIT_RUNTIME) };
    }
    let Err((code, message)) = setup_and_exec(ctx);
    let report = format!("{code} {message}");
    // SAFETY: writing a valid buffer to our pipe fd, then exiting without unwinding.
    unsafe {
        libc::write(ctx.errors, report.as_ptr().cast(), report.len());
        libc::_exit(code)
    }
}

fn setup_and_exec(ctx: &ChildContext<'_>) -> Result<Infallible, Failure> {
    let spec = ctx.spec;
    if let Some(fd) = ctx.join_netns {
        // SAFETY: `fd` is an open namespace file descriptor owned by this process.
        let ns = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
            .map_err(fail(EXIT_RUNTIME, "join network namespace"))?;
        let _ = close(fd);
    }
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(fail(EXIT_RUNTIME, "cgroup namespace"))?;
    nix::unistd::setsid().map_err(fail(EXIT_RUNTIME, "setsid"))?;
    rootfs::setup(ctx.rootfs).map_err(fail(EXIT_RUNTIME, "rootfs"))?;
    stdio(ctx)?;
    nix::unistd::sethostname(&spec.hostname).map_err(fail(EXIT_RUNTIME, "sethostname"))?;
    let user = user::resolve(&spec.user, Path::new("/")).map_err(|e| (EXIT_RUNTIME, e))?;
    rlimits::apply_defaults().map_err(fail(EXIT_RUNTIME, "rlimits"))?;
    caps::limit_bounding_set().map_err(fail(EXIT_RUNTIME, "capability bounding set"))?;
    std::fs::create_dir_all(&spec.cwd).map_err(fail(EXIT_RUNTIME, "working directory"))?;

    let gids: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&gids).map_err(fail(EXIT_RUNTIME, "setgroups"))?;
    nix::unistd::setgid(Gid::from_raw(user.gid)).map_err(fail(EXIT_RUNTIME, "setgid"))?;
    nix::unistd::setuid(Uid::from_raw(user.uid)).map_err(fail(EXIT_RUNTIME, "setuid"))?;
    caps::set_process_capabilities(user.uid).map_err(fail(EXIT_RUNTIME, "capabilities"))?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) takes no pointers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err((EXIT_RUNTIME, "no_new_privs: prctl failed".into()));
    }
    nix::unistd::chdir(&spec.cwd).map_err(|e| {
        (
            EXIT_CANNOT_EXECUTE,
            format!("chdir to cwd (\"{}\"): {e}", spec.cwd.display()),
        )
    })?;

    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let program = spec
        .args
        .first()
        .ok_or((EXIT_RUNTIME, "no command specified".to_string()))?;
    let exe = exec_path::find(program, path_var)?;
    let cstr = |s: &str| CString::new(s).map_err(fail(EXIT_RUNTIME, "argument"));
    let exe_c = cstr(&exe.to_string_lossy())?;
    let argv = spec
        .args
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = env.iter().map(|e| cstr(e)).collect::<Result<Vec<_>, _>>()?;

    restore_signals();
    let errno = nix::unistd::execve(&exe_c, &argv, &envp).unwrap_err();
    Err((
        exec_path::exit_code_for(errno),
        format!("exec: \"{program}\": {}", errno.desc().to_lowercase()),
    ))
}

/// stdin/stdout/stderr: a terminal on the container's devpts with `-t` (its master goes
/// to the parent); otherwise the pipes of a monitor or the caller's own, stdin from
/// /dev/null unless `-i`.
fn stdio(ctx: &ChildContext<'_>) -> Result<(), Failure> {
    if let Some(console) = ctx.console {
        let master = super::pty::open_in_container().map_err(fail(EXIT_RUNTIME, "terminal"))?;
        super::pty::send_fd(console, master.as_raw_fd())
            .map_err(fail(EXIT_RUNTIME, "send terminal"))?;
        let _ = close(console);
    } else {
        let stdin = ctx.stdio[0].or((!ctx.spec.interactive).then_some(ctx.devnull));
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

/// The container's process starts with no blocked signals and default dispositions (the
/// Rust runtime ignores SIGPIPE, and exec keeps ignored signals ignored).
fn restore_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: setting the default disposition installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
}
