//! The OCI runtime spec as the core's contract: every front end (the Docker-style CLI, the
//! runc-compatible `ebrun oci`) hands the executor a `config.json`; this module reads one
//! (with errors that name the JSON path), checks it against what this kernel and ebrun can
//! do, and resolves it into the executor's [`crate::process::Launch`].

mod bundle;
mod create;
mod exec;
mod launch;
mod lifecycle;
mod state;

pub use bundle::{load_spec, write_spec, CONFIG_FILE};
pub use create::{cgroup_location, create, CreateOptions};
pub use exec::{exec, ExecOptions};
pub use launch::{dotted_sysctl, hooks, launch, process, process_of, RootSource};
pub use lifecycle::{delete, kill, processes, set_paused, start, update};
pub use oci_spec::runtime::{Process as ProcessObject, Spec};
pub use state::{mirror_dir, valid_id, OciState, OciStatus, OciStore};

/// Errors of the oci module.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A field of the spec is wrong; `path` is its JSON path (`linux.namespaces[2].type`).
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error("invalid container id {0:?}: only [a-zA-Z0-9_+.-] are allowed")]
    InvalidId(String),
    #[error("container {id} is {status}, not {wanted}")]
    State {
        id: String,
        status: &'static str,
        wanted: &'static str,
    },
    /// A host step of create/exec failed (cgroups, spawn, the process's own set-up).
    #[error("{0}")]
    Setup(String),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An I/O error of `op` on `path`, for `map_err`.
pub(crate) fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.to_path_buf();
    move |source| OciError::Io { op, path, source }
}

impl OciError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> OciError {
        OciError::Invalid {
            file: CONFIG_FILE.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}
