//! Volumes, bind mounts and tmpfs mounts (Docker's semantics).
//!
//! - [`spec`]: `-v`, `--mount`, `--tmpfs`, `--volumes-from` parsed and checked; the
//!   resolved [`Mount`] a container keeps in its config
//! - [`store`]: managed volumes under `<root>/volumes/NAME/_data` with their metadata;
//!   create, list, inspect, remove (refused while a container uses it), prune
//! - [`prepare`]: at `create`, the container's mounts: the user's, those of
//!   `--volumes-from` containers, and the image's `VOLUME`s (each a new anonymous volume
//!   unless something else is mounted there); new volumes and bind sources are journaled
//! - [`copy_up`]: a new empty volume starts with the image's files at its mount point
//! - [`inspect`]: Docker's JSON for `volume inspect` and a container's `Mounts`
//! - [`filter`]: Docker's filters of `volume ls` and `volume prune`
//!
//! The OCI translation (`container::oci_translate`) turns them into the spec's mounts, which
//! the executor makes in the container's mount namespace.

pub mod copy_up;
pub mod filter;
pub mod inspect;
pub mod prepare;
pub mod spec;
pub mod store;

use std::path::PathBuf;

pub use filter::{VolumeFilter, VolumePruneFilter};
pub use prepare::{prepare, remove_anonymous};
pub use spec::{
    BindRecursive, Mount, MountRequest, MountRequests, MountType, Propagation, VolumesFrom,
};
pub use store::{VolumeRecord, VolumeStore, ANONYMOUS_LABEL};

/// Errors of the volumes module.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")]
    InvalidSpec {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "create {0}: \"{0}\" includes invalid characters for a local volume name, only \
         \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
    )]
    InvalidName(String),
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// A volume driver other than `local` (Docker's 404 for a plugin it cannot find).
    #[error("error looking up volume plugin {0}: plugin \"{0}\" not found")]
    UnknownDriver(String),
    /// Options of the local driver (`type`, `device`, `o`): none are supported here.
    #[error("invalid option {0:?}: ebrun's local volume driver takes no options")]
    UnsupportedOption(String),
    /// A filter or its value that `volume ls` / `volume prune` do not take.
    #[error("{0}")]
    InvalidFilter(String),
    #[error("remove {name}: volume is in use - [{}]", users.join(", "))]
    InUse { name: String, users: Vec<String> },
    #[error("Duplicate mount point: {}", .0.display())]
    DuplicateMountPoint(PathBuf),
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {}", .0.display())]
    BindSourceMissing(PathBuf),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    State(#[from] crate::state::StateError),
}

impl From<VolumeError> for crate::container::ContainerError {
    fn from(e: VolumeError) -> Self {
        crate::container::ContainerError::InvalidState(e.to_string())
    }
}

fn io_err(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.to_path_buf();
    move |source| VolumeError::Io { op, path, source }
}
