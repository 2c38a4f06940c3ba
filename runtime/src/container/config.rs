//! A container's persisted config (what it is: written once at create) and state (what it
//! is doing: rewritten on every transition), as JSON files in its directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::{ContainerCgroups, Resources};
use crate::network::{NetworkSpec, NetworkState};
use crate::process::ProcessSpec;
use crate::undo::HostChange;

/// `containers/<id>/config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// The image as the user typed it.
    pub image: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// RFC 3339 with nanoseconds, as Docker's `Created`.
    pub created: String,
    /// The resolved process: image config merged with the command line.
    pub process: ProcessSpec,
    /// The entrypoint and cmd as Docker's inspect shows them separately.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub read_only: bool,
    pub auto_remove: bool,
    /// Resource limits (`-m`, `--cpus`, ...).
    #[serde(default)]
    pub resources: Resources,
    /// Networking (`--net`, `-p`, `--dns`, ...).
    #[serde(default)]
    pub network: NetworkSpec,
    /// Image layer directories, bottom first.
    pub layers: Vec<PathBuf>,
    /// Host changes that live as long as the container; `rm` undoes them.
    pub changes: Vec<HostChange>,
}

/// Lifecycle status, with Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

/// `containers/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    /// Why the process could not start, if it could not (Docker's `State.Error`).
    #[serde(default)]
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The cgroups of the current (or last) run.
    pub cgroups: Option<ContainerCgroups>,
    /// Host changes of the current run (cgroups, BPF map entries), undone at exit (cgroups)
    /// or at `rm` (counters stay readable until the container is removed).
    #[serde(default)]
    pub run_changes: Vec<HostChange>,
    /// What the network set-up made for the current run (addresses, ports).
    #[serde(default)]
    pub network: NetworkState,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: None,
            finished_at: None,
            cgroups: None,
            run_changes: Vec::new(),
            network: NetworkState::default(),
        }
    }
}

/// Now, formatted as Docker formats its timestamps.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
