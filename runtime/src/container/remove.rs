//! `rm`: undo every host change of the container, newest first, then forget it.

use super::store::ContainerStore;
use super::{ContainerConfig, ContainerError};
use crate::undo::undo_all;
use crate::Paths;

/// Removes a container that is not running: its run's leftovers (cgroups, BPF entries),
/// then its directory and state.
pub fn remove(paths: &Paths, config: &ContainerConfig) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    let _lock = containers.lock()?;
    let state = containers.load_state(&config.id).unwrap_or_default();
    let mut failed = undo_all(&state.run_changes);
    failed.extend(undo_all(&config.changes));
    if let Some((change, error)) = failed.first() {
        return Err(ContainerError::Remove {
            id: config.id.clone(),
            message: format!("{change:?}: {error}"),
        });
    }
    Ok(())
}
