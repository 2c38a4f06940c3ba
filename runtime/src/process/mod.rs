//! The executor of a container's processes: new namespaces (mount, PID, UTS, IPC, network,
//! cgroup) via clone or joined by path, the in-child set-up up to exec (rootfs, hostname,
//! sysctls, user, capabilities, rlimits, no_new_privs, seccomp), and the foreground
//! supervision loop (signals, pty, exit status). Its input, [`Launch`], is an OCI runtime
//! spec resolved for this kernel (see the `oci` module).

mod become_process;
mod caps;
mod child;
mod exec;
mod exec_path;
mod exit_wait;
mod hooks;
mod init;
mod pty;
mod rlimits;
pub mod sealed;
mod seccomp;
mod security;
mod signals;
mod spawn;
mod supervise;
mod user;

pub use caps::DEFAULT_CAPABILITIES;
pub use exec::{exec_in, spawn_exec, ExecTarget};
pub use exec_path::{EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND};
pub use exit_wait::wait_for_exit;
pub use hooks::{run_hooks, Hook};
pub use pty::{send_fd, set_winsize, RawMode};
pub use seccomp::SeccompProfile;
pub use security::{apply_security_opt, resolve_capabilities, SecurityError, SecuritySpec};
pub use signals::parse_signal;
pub use spawn::{spawn, Spawned, StartFailure, StdioMode};
pub use supervise::{
    is_interrupt, supervise, supervise_interruptible, supervise_relayed, ExitStatus, Output,
    FORWARDED,
};
pub use user::UserSpec;

mod launch;

pub use launch::{
    Capabilities, ContainerHooks, IdMappings, Launch, Namespaces, ProcessSpec, Rlimit,
};
pub use rlimits::docker_default as docker_default_rlimits;
pub use seccomp::{compile_oci as compile_seccomp, docker_default_oci as docker_default_seccomp};
pub use user::{resolve as resolve_user, resolve_with as resolve_user_with};

/// Errors of the process module (parent side).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid argument: {0}")]
    Nul(#[from] std::ffi::NulError),
}
