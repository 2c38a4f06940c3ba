//! Container networking: bridges, veth pairs, addresses and routes (rtnetlink), the firewall
//! (nftables, in a table of ebrun's own), IPAM, published ports, user networks and DNS files.
//!
//! (Being written. The runtime calls exactly the functions below.)

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::undo::Journal;
use crate::Paths;

/// Errors of the network module.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    Invalid(String),
}

/// What the user asked for (`--net`, `-p`, `--dns`, ...), stored in the container's config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkSpec {}

/// What was set up for a running container (addresses, ports), stored in its state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {}

/// How the container's process gets its network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetnsMode {
    /// A new, empty network namespace (bridge and none modes).
    #[default]
    New,
    /// The host's network namespace (`--net host`).
    Host,
    /// Join the namespace at this path (`--net container:X`).
    Join(std::path::PathBuf),
}

impl NetworkSpec {
    /// Checks the spec before anything is created (port conflicts, unknown networks, ...).
    pub fn validate(&self, _paths: &Paths) -> Result<(), NetworkError> {
        Ok(())
    }

    /// How the process's network namespace is made.
    pub fn netns_mode(&self, _paths: &Paths) -> Result<NetnsMode, NetworkError> {
        Ok(NetnsMode::New)
    }
}

/// Wires the network namespace of `pid` (held before exec) as `spec` asks, writing the
/// container's /etc/hosts and /etc/resolv.conf into `container_dir`, and records every host
/// change in `journal`.
pub fn setup(
    _paths: &Paths,
    _container_id: &str,
    _container_dir: &Path,
    _spec: &NetworkSpec,
    _pid: i32,
    _journal: &mut Journal,
) -> Result<NetworkState, NetworkError> {
    Ok(NetworkState {})
}
