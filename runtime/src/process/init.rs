//! `--init`: ebrun's own init as the container's PID 1, as Docker's tini at
//! /sbin/docker-init. The spec names `/sbin/docker-init -- CMD...` with ebrun's binary
//! bind-mounted there; since that binary is dynamically linked (and the image may be
//! `scratch`), the executor does not exec it: the container's first process, already in
//! the container with ebrun's code in memory, forks. The child goes on to exec the command;
//! the parent stays as PID 1, reaps every zombie (orphans are re-parented to it) and forwards
//! the signals it gets to the child, then exits with the child's status (128+N for a
//! signal), as tini does.

use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// Signals tini leaves alone: the synchronous ones, and those a job-control terminal sends
/// to the init's own group.
const NOT_FORWARDED: [Signal; 11] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGKILL,
    Signal::SIGSTOP,
];

/// Forks. Returns in the child (which execs the command); the parent never returns: it is
/// the init until the child ends. `seccomp`: installed in the parent too (the child installs
/// it itself before exec).
pub(super) fn fork_init(
    args: &[String],
    seccomp: &dyn Fn() -> Result<(), String>,
) -> Result<(), String> {
    let mut waited = SigSet::all();
    for s in NOT_FORWARDED {
        waited.remove(s);
    }
    // Blocked before the fork: a signal that comes before the loop waits stays pending.
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited), Some(&mut old))
        .map_err(|e| format!("init: sigprocmask: {e}"))?;
    // Named before the fork, so nothing in the container sees ebrun's own command line as
    // PID 1's (the child's exec replaces both in its copy).
    // SAFETY: PR_SET_NAME copies at most 16 bytes from a valid C string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"docker-init".as_ptr(), 0, 0, 0) };
    show_command_line(args);
    // SAFETY: the container's first process is single-threaded; the child only continues
    // the exec path.
    match unsafe { fork() }.map_err(|e| format!("init: fork: {e}"))? {
        ForkResult::Child => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            Ok(())
        }
        ForkResult::Parent { child } => {
            // The error pipe and whatever else: the child keeps its copies, the init needs
            // none (the runtime sees the exec succeed once the child's copy closes).
            // SAFETY: close_range takes no pointers.
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            let _ = seccomp();
            let code = supervise(child, &waited);
            // SAFETY: _exit ends the process without running Rust destructors of a forked copy.
            unsafe { libc::_exit(code) }
        }
    }
}

/// `/proc/1/cmdline` as tini's reads (`/sbin/docker-init -- CMD...`) rather than the ebrun
/// command line this process was forked from (which names ebrun's path on the host): the
/// text is written over the original argument area (cut to its length; the rest zeroed).
fn show_command_line(args: &[String]) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the `(comm)`: state is field 3, arg_start 48 and arg_end 49.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    if start == 0 || end <= start {
        return;
    }
    let mut text: Vec<u8> = Vec::new();
    for a in [crate::container::run_options::INIT_PATH, "--"]
        .into_iter()
        .chain(args.iter().map(String::as_str))
    {
        text.extend_from_slice(a.as_bytes());
        text.push(0);
    }
    let len = end - start;
    text.resize(len, 0);
    text[len - 1] = 0;
    // SAFETY: [arg_start, arg_end) is this process's own argument area (on its stack,
    // writable); exactly that many bytes are written.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, len) };
}

/// Waits for signals: SIGCHLD reaps every zombie, the others go to `child`. Returns the
/// exit code once `child` ended.
fn supervise(child: Pid, waited: &SigSet) -> i32 {
    loop {
        let signal = match waited.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        let mut status = None;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => status = Some(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                    status = Some(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(code) = status {
            // Zombies left by the child's own children go when PID 1 does.
            return code;
        }
    }
}
