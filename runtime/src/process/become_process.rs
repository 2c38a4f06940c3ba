//! The last steps of every container process, in the container's root: rlimits, the
//! capability sets around the uid switch, umask, no_new_privs, seccomp, working directory,
//! and exec of the command found in the process's PATH. Shared by a container's first
//! process and `exec`.

use std::convert::Infallible;
use std::ffi::CString;
use std::path::Path;

use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{Gid, Uid};

use super::exec_path::{self, EXIT_CANNOT_EXECUTE};
use super::{caps, rlimits, seccomp, user, ProcessSpec};

/// Exit code of ebrun's own failures (Docker's 125).
pub(super) const EXIT_RUNTIME: i32 = 125;

/// A failure before exec: Docker's exit code and the message.
pub(super) type Failure = (i32, String);

pub(super) fn fail<E: std::fmt::Display>(code: i32, what: &str) -> impl FnOnce(E) -> Failure + '_ {
    move |e| (code, format!("{what}: {e}"))
}

/// `ebrun oci create`: the process reports itself ready on `ready` (the error pipe) and waits
/// for `ebrun oci start` to open the FIFO whose O_PATH descriptor is `fifo`, just before exec.
#[derive(Debug, Clone)]
pub(super) struct StartGate<'a> {
    pub fifo: std::os::fd::RawFd,
    pub ready: std::os::fd::RawFd,
    /// startContainer hooks, run once `start` came, with the state they get.
    pub start_hooks: (&'a [super::Hook], String),
}

/// What a gated child writes on the error pipe when it waits for `start`.
pub(super) const READY: &str = "ready";

impl StartGate<'_> {
    fn wait(self) -> Result<(), Failure> {
        // SAFETY: writing a valid buffer to the error pipe this process owns.
        unsafe { libc::write(self.ready, READY.as_ptr().cast(), READY.len()) };
        // Opening for writing blocks until `start` opens the FIFO for reading.
        let fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", self.fifo))
            .map_err(fail(EXIT_RUNTIME, "open exec fifo"))?;
        std::io::Write::write_all(&mut &fifo, b"0").map_err(fail(EXIT_RUNTIME, "exec fifo"))?;
        let _ = nix::unistd::close(self.fifo);
        let (hooks, state) = self.start_hooks;
        super::run_hooks("startContainer", hooks, &state).map_err(|e| (EXIT_RUNTIME, e))
    }
}

/// Becomes the spec's user and execs `spec.args`. `create_cwd`: make a missing working
/// directory (as a container's first process does; `exec` fails instead, as Docker's does).
pub(super) fn become_and_exec(
    spec: &ProcessSpec,
    create_cwd: bool,
    gate: Option<StartGate<'_>>,
) -> Result<Infallible, Failure> {
    rlimits::apply(&spec.rlimits).map_err(|e| (EXIT_RUNTIME, e))?;
    caps::limit_bounding_set(&spec.capabilities.bounding)
        .map_err(fail(EXIT_RUNTIME, "capability bounding set"))?;
    if !spec.no_new_privileges {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while root.
        seccomp::install(&spec.seccomp).map_err(fail(EXIT_RUNTIME, "seccomp"))?;
    }
    if create_cwd {
        std::fs::create_dir_all(&spec.cwd).map_err(fail(EXIT_RUNTIME, "working directory"))?;
    }

    let gids: Vec<Gid> = spec
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&gids).map_err(fail(EXIT_RUNTIME, "setgroups"))?;
    caps::keep_across_setuid(true).map_err(fail(EXIT_RUNTIME, "keep capabilities"))?;
    nix::unistd::setgid(Gid::from_raw(spec.gid)).map_err(fail(EXIT_RUNTIME, "setgid"))?;
    nix::unistd::setuid(Uid::from_raw(spec.uid)).map_err(fail(EXIT_RUNTIME, "setuid"))?;
    caps::keep_across_setuid(false).map_err(fail(EXIT_RUNTIME, "keep capabilities"))?;
    caps::set_process_capabilities(&spec.capabilities)
        .map_err(fail(EXIT_RUNTIME, "capabilities"))?;
    if let Some(mask) = spec.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    if spec.no_new_privileges {
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) takes no pointers.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err((EXIT_RUNTIME, "no_new_privs: prctl failed".into()));
        }
    }
    nix::unistd::chdir(&spec.cwd).map_err(|e| {
        (
            EXIT_CANNOT_EXECUTE,
            format!("chdir to cwd (\"{}\"): {e}", spec.cwd.display()),
        )
    })?;

    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // As runc: the user's home from the container's /etc/passwd, else /.
        env.push(format!("HOME={}", user::home_of(spec.uid, Path::new("/"))));
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

    if let Some(gate) = gate {
        gate.wait()?;
    }
    restore_signals();
    // Descriptors the caller leaked to us (containerd's shim hands its runtime a listening
    // socket) must not reach the container: close them all at exec, but the ones passed on
    // with --preserve-fds.
    // SAFETY: close_range takes no pointers; CLOEXEC only marks the descriptors.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32.saturating_add(spec.preserve_fds),
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if spec.init {
        // `--init`: this process stays as PID 1; its child goes on to exec the command.
        super::init::fork_init(&spec.args, &|| {
            if spec.no_new_privileges {
                seccomp::install(&spec.seccomp).map_err(|e| e.to_string())
            } else {
                Ok(())
            }
        })
        .map_err(|e| (EXIT_RUNTIME, e))?;
    }
    if spec.no_new_privileges {
        // The filter goes on last, so set-up syscalls are never filtered.
        seccomp::install(&spec.seccomp).map_err(fail(EXIT_RUNTIME, "seccomp"))?;
    }
    let errno = nix::unistd::execve(&exe_c, &argv, &envp).unwrap_err();
    Err((
        exec_path::exit_code_for(errno),
        format!("exec: \"{program}\": {}", errno.desc().to_lowercase()),
    ))
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
