//! The last steps of every container process, in the container's root: the user (from the
//! container's /etc/passwd), rlimits, capabilities, no_new_privs, working directory, and
//! exec of the command found in the container's PATH. Shared by `run` and `exec`.

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

/// Becomes the container's user and execs `spec.args`. `create_cwd`: make a missing working
/// directory (as `run` does; `exec` fails instead, as Docker's does).
pub(super) fn become_and_exec(spec: &ProcessSpec, create_cwd: bool) -> Result<Infallible, Failure> {
    let user = user::resolve(&spec.user, Path::new("/")).map_err(|e| (EXIT_RUNTIME, e))?;
    rlimits::apply_defaults().map_err(fail(EXIT_RUNTIME, "rlimits"))?;
    let security = &spec.security;
    caps::limit_bounding_set(&security.capabilities)
        .map_err(fail(EXIT_RUNTIME, "capability bounding set"))?;
    let filters = security
        .seccomp
        .filters(&security.capabilities)
        .map_err(|e| (EXIT_RUNTIME, format!("seccomp profile: {e}")))?;
    if !security.no_new_privs {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while root.
        seccomp::install(&filters).map_err(fail(EXIT_RUNTIME, "seccomp"))?;
    }
    if create_cwd {
        std::fs::create_dir_all(&spec.cwd).map_err(fail(EXIT_RUNTIME, "working directory"))?;
    }

    let gids: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&gids).map_err(fail(EXIT_RUNTIME, "setgroups"))?;
    nix::unistd::setgid(Gid::from_raw(user.gid)).map_err(fail(EXIT_RUNTIME, "setgid"))?;
    nix::unistd::setuid(Uid::from_raw(user.uid)).map_err(fail(EXIT_RUNTIME, "setuid"))?;
    caps::set_process_capabilities(user.uid, &security.capabilities)
        .map_err(fail(EXIT_RUNTIME, "capabilities"))?;
    if security.no_new_privs {
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
    if security.no_new_privs {
        // The filter goes on last, so set-up syscalls are never filtered.
        seccomp::install(&filters).map_err(fail(EXIT_RUNTIME, "seccomp"))?;
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
