//! `ebrun oci`'s state: one directory per container under the runtime's `--root` (default
//! /run/ebrun-oci, gone with the boot), holding `state.json` and, between create and start,
//! the `exec.fifo` the held process waits on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OciError;
use crate::cgroups::ContainerCgroups;
use crate::undo::HostChange;

/// The runtime's record of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OciState {
    pub id: String,
    /// The container's init (0 once deleted).
    pub pid: i32,
    /// Start time of `pid` in clock ticks, to tell it from a reused pid.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: std::collections::HashMap<String, String>,
    pub cgroups: Option<ContainerCgroups>,
    /// Host changes `delete` undoes (cgroups, meter registrations).
    pub changes: Vec<HostChange>,
    /// Set by `start` (the FIFO is gone).
    #[serde(default)]
    pub started: bool,
    /// Frozen by `pause`.
    #[serde(default)]
    pub paused: bool,
}

/// Lifecycle status, with the runtime spec's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciStatus {
    Created,
    Running,
    Paused,
    Stopped,
}

impl OciStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OciStatus::Created => "created",
            OciStatus::Running => "running",
            OciStatus::Paused => "paused",
            OciStatus::Stopped => "stopped",
        }
    }
}

impl OciState {
    /// Whether the init still runs (and is still the same process).
    pub fn alive(&self) -> bool {
        self.pid > 0
            && crate::container::process_start_time(self.pid) == self.pid_start_time
            && self.pid_start_time != 0
    }

    pub fn status(&self) -> OciStatus {
        match (self.alive(), self.started, self.paused) {
            (false, _, _) => OciStatus::Stopped,
            (true, _, true) => OciStatus::Paused,
            (true, false, _) => OciStatus::Created,
            (true, true, false) => OciStatus::Running,
        }
    }

    /// The runtime spec's state JSON (runtime.md), as `state` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let status = self.status();
        serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "pid": if status == OciStatus::Stopped { 0 } else { self.pid },
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.bundle.join("rootfs"),
            "created": self.created,
            "annotations": self.annotations,
            "owner": "",
        })
    }
}

/// The containers of one `--root`.
pub struct OciStore {
    root: PathBuf,
    /// The ebrun instance's `oci` directory, where every state is mirrored for `ebrun serve`
    /// (its meters and labels), as `<key>.json`.
    mirror: Option<PathBuf>,
}

/// Where an ebrun instance keeps the mirrored states of `ebrun oci` containers.
pub fn mirror_dir(paths: &crate::Paths) -> PathBuf {
    paths.root().join("oci")
}

const STATE_FILE: &str = "state.json";
/// The FIFO a created container's init waits on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

impl OciStore {
    pub fn new(root: &Path) -> Self {
        OciStore {
            root: root.to_path_buf(),
            mirror: None,
        }
    }

    /// A store that mirrors every state into `paths`'s instance.
    pub fn mirrored(root: &Path, paths: &crate::Paths) -> Self {
        OciStore {
            root: root.to_path_buf(),
            mirror: Some(mirror_dir(paths)),
        }
    }

    /// The mirror file of container `id` (one name per runtime root and id: containerd's
    /// namespaces each have a root, and may reuse ids).
    pub fn mirror_file(&self, id: &str) -> Option<PathBuf> {
        use sha2::Digest;
        let root = sha2::Sha256::digest(self.root.as_os_str().as_encoded_bytes());
        let key = format!("{}-{id}.json", &hex::encode(root)[..8]);
        self.mirror.as_ref().map(|dir| dir.join(key))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Takes the root's lock: one create/delete at a time changes the set of containers.
    pub fn lock(&self) -> Result<crate::state::StateLock, OciError> {
        std::fs::create_dir_all(&self.root).map_err(|source| OciError::Io {
            op: "create",
            path: self.root.clone(),
            source,
        })?;
        crate::state::StateLock::exclusive(&self.root.join(".lock")).map_err(|e| OciError::Io {
            op: "lock",
            path: self.root.join(".lock"),
            source: std::io::Error::other(e.to_string()),
        })
    }

    pub fn load(&self, id: &str) -> Result<OciState, OciError> {
        let path = self.dir(id).join(STATE_FILE);
        if !path.exists() {
            return Err(OciError::NotFound(id.to_string()));
        }
        crate::state::read_json(&path).map_err(|e| OciError::Io {
            op: "read",
            path,
            source: std::io::Error::other(e.to_string()),
        })
    }

    pub fn save(&self, state: &OciState) -> Result<(), OciError> {
        let write = |path: PathBuf| {
            crate::state::replace_json_volatile(&path, state).map_err(|e| OciError::Io {
                op: "write",
                path,
                source: std::io::Error::other(e.to_string()),
            })
        };
        write(self.dir(&state.id).join(STATE_FILE))?;
        if let Some(file) = self.mirror_file(&state.id) {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).map_err(|source| OciError::Io {
                    op: "create",
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            write(file)?;
        }
        Ok(())
    }

    /// Every container's state, by id.
    pub fn list(&self) -> Vec<OciState> {
        let mut all: Vec<OciState> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| self.load(&e.file_name().to_string_lossy()).ok())
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }
}

/// A container id as runc accepts it (it names a directory).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))
        && id != "."
        && id != ".."
}
