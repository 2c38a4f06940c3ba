//! The container's process: new namespaces (mount, PID, UTS, IPC, network, cgroup) via
//! clone, the in-child set-up up to exec (rootfs, hostname, user, capabilities, rlimits,
//! no_new_privs), and the foreground supervision loop (signals, pty, exit status).

mod become_process;
mod caps;
mod child;
mod exec;
mod exec_path;
mod exit_wait;
mod pty;
mod rlimits;
mod seccomp;
mod security;
mod spawn;
mod supervise;
mod user;

pub use caps::DEFAULT_CAPABILITIES;
pub use exec::{exec_in, ExecTarget};
pub use exec_path::{EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND};
pub use exit_wait::wait_for_exit;
pub use pty::RawMode;
pub use seccomp::SeccompProfile;
pub use security::{apply_security_opt, resolve_capabilities, SecurityError, SecuritySpec};
pub use spawn::{spawn, Spawned, StartFailure, StdioMode};
pub use supervise::{supervise, supervise_relayed, ExitStatus, Output, FORWARDED};
pub use user::UserSpec;

use std::path::PathBuf;

/// What the container's first process runs, and as whom.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessSpec {
    /// argv; `args[0]` is looked up in the container's PATH.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory inside the container (created if missing, as Docker does).
    pub cwd: PathBuf,
    /// `USER[:GROUP]` (names or numbers); empty means root.
    pub user: String,
    pub hostname: String,
    /// `-t`: a pseudo-terminal as stdin/stdout/stderr.
    pub tty: bool,
    /// `-i`: keep stdin open (otherwise /dev/null).
    pub interactive: bool,
    /// Capabilities, no_new_privs, seccomp.
    #[serde(default)]
    pub security: SecuritySpec,
}

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
