//! Finding containers by name, full id or unique id prefix, and reading/writing their files
//! under `<root>/containers`.

use std::path::PathBuf;

use super::config::{ContainerConfig, ContainerState};
use super::ContainerError;
use crate::state::{read_json, replace_json_atomic, replace_json_volatile, StateError, StateLock};
use crate::Paths;

/// Reads a container's state file; a missing one is a container never started. State is
/// written without fsync (it describes this boot only): one left unreadable by a power loss,
/// written before this boot, describes nothing that still exists, and reads as a container
/// that is not running.
pub(super) fn read_state(path: &std::path::Path) -> Result<ContainerState, StateError> {
    if !path.exists() {
        return Ok(ContainerState::default());
    }
    match read_json(path) {
        Err(e @ StateError::Corrupt { .. }) if written_before_boot(path) => {
            crate::state::warn_once(format!(
                "{e}; written before this boot, read as a container not running"
            ));
            Ok(ContainerState::default())
        }
        other => other,
    }
}

/// Whether `path` was last written before the machine booted.
fn written_before_boot(path: &std::path::Path) -> bool {
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|s| s.trim().parse::<u64>().ok())
    });
    let written = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    matches!((boot, written), (Some(boot), Some(written)) if written.as_secs() < boot)
}

/// The containers of one ebrun instance.
pub struct ContainerStore {
    paths: Paths,
}

impl ContainerStore {
    pub fn new(paths: &Paths) -> Self {
        ContainerStore {
            paths: paths.clone(),
        }
    }

    /// Serializes name reservation and removal across ebrun processes.
    pub fn lock(&self) -> Result<StateLock, ContainerError> {
        Ok(StateLock::exclusive(
            &self.paths.containers_dir().join(".lock"),
        )?)
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.paths.container_dir(id)
    }

    /// Every container's config, skipping directories without a readable one (a create
    /// killed half-way; reconciled elsewhere).
    pub fn list(&self) -> Vec<ContainerConfig> {
        let Ok(entries) = std::fs::read_dir(self.paths.containers_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| read_json(&e.path().join("config.json")).ok())
            .collect()
    }

    /// Docker's lookup order: exact name, full id, unique id prefix.
    pub fn lookup(&self, key: &str) -> Result<ContainerConfig, ContainerError> {
        let key = key.strip_prefix('/').unwrap_or(key);
        let all = self.list();
        if let Some(c) = all.iter().find(|c| c.name == key || c.id == key) {
            return Ok(c.clone());
        }
        let matches: Vec<&ContainerConfig> = all.iter().filter(|c| c.id.starts_with(key)).collect();
        match matches.as_slice() {
            [one] if !key.is_empty() => Ok((*one).clone()),
            [] | [_] => match super::broken::find(&self.paths, key) {
                Some(b) => Err(ContainerError::Unreadable {
                    id: b.id,
                    reason: b.reason,
                }),
                None => Err(ContainerError::NotFound(key.to_string())),
            },
            _ => Err(ContainerError::Ambiguous(key.to_string())),
        }
    }

    pub fn save_config(&self, config: &ContainerConfig) -> Result<(), ContainerError> {
        Ok(replace_json_atomic(
            &self.dir(&config.id).join("config.json"),
            config,
        )?)
    }

    pub fn load_state(&self, id: &str) -> Result<ContainerState, ContainerError> {
        read_state(&self.dir(id).join("state.json")).map_err(|e| match e {
            StateError::Corrupt { .. } => ContainerError::Unreadable {
                id: id.to_string(),
                reason: e.to_string(),
            },
            e => e.into(),
        })
    }

    /// Saves the container's runtime state (status, pids, exit): atomic, not synced to disk
    /// (after a power loss, `observe` corrects whatever was recorded from the truth).
    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<(), ContainerError> {
        Ok(replace_json_volatile(
            &self.dir(id).join("state.json"),
            state,
        )?)
    }
}
