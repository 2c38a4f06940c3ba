//! `rm`: undo every host change of the container, newest first, then forget it.

use super::store::ContainerStore;
use super::{ContainerConfig, ContainerError};
use crate::teardown::undo_all;
use crate::undo::HostChange;
use crate::Paths;

/// Removes a container that is not running: its run's leftovers (cgroups, BPF entries),
/// then its directory and state.
/// `rm [-f] [-v]` of one container (the CLI and the Engine API): a running one only with
/// `force` (stopped first, its restart policy kept from bringing it back); `volumes` also
/// removes its anonymous volumes.
pub fn remove_container(
    paths: &Paths,
    config: &ContainerConfig,
    force: bool,
    volumes: bool,
) -> Result<(), ContainerError> {
    let running = match super::running(paths, config) {
        // A corrupt state: whether it runs is unknown; `-f` removes it all the same.
        Err(e) if e.is_corrupt() && force => false,
        other => other?,
    };
    if running {
        if !force {
            return Err(ContainerError::RunningNotRemoved(config.name.clone()));
        }
        if let Err(e) = super::mark_stopped(paths, &config.id) {
            // Unrecordable (a full disk): its monitor goes first, so that no restart policy
            // brings the container back while it is removed.
            tracing::info!(error = %e, "stopping a container whose stop cannot be recorded");
            super::kill_monitor(paths, &config.id);
        }
        super::kill_processes(paths, config);
        super::wait_exit(paths, config, Some(std::time::Duration::from_secs(10)))?;
    }
    remove(paths, config)?;
    if volumes {
        crate::volumes::remove_anonymous(paths, config).map_err(ContainerError::from)?;
    }
    Ok(())
}

pub fn remove(paths: &Paths, config: &ContainerConfig) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    wait_for_monitor(&containers, &config.id);
    let _lock = containers.lock()?;
    remove_locked(paths, config)
}

/// [`remove`] with the containers lock already held.
pub(super) fn remove_locked(paths: &Paths, config: &ContainerConfig) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    // From here on the container is being removed: a removal killed half-way is finished by
    // the next ebrun command (`reconcile`).
    let marker = containers.dir(&config.id).join(super::reconcile::REMOVING);
    let _ = std::fs::write(&marker, b"");
    crate::faults::point("rm:marked");
    let mut steps = crate::events::Steps::begin(paths, "rm");
    let state = match containers.load_state(&config.id) {
        Ok(state) => state,
        // Its run changes are unknown: remove what the container's id leads to.
        Err(e) => {
            tracing::info!(error = %e, "removing a container with an unreadable state");
            return super::broken::remove_locked(paths, &config.id);
        }
    };
    crate::events::remove_started(paths, config, &state);
    // While a serve runs, the counters' map entries stay until a scrape has shown their final
    // values (metrics::removed); otherwise they go now.
    use crate::metrics::removed;
    let (deferred, undo): (Vec<HostChange>, Vec<HostChange>) = if removed::serving(paths) {
        state
            .run_changes
            .iter()
            .cloned()
            .partition(|c| matches!(c, HostChange::BpfCgroup { .. }))
    } else {
        removed::sweep(paths);
        (Vec::new(), state.run_changes.clone())
    };
    let mut failed = undo_all(&undo);
    if !deferred.is_empty() && !removed::hand_over(paths, config, &state, &deferred) {
        failed.extend(undo_all(&deferred));
    }
    steps.step("cgroups_bpf_network");
    crate::faults::point("rm:undone");
    failed.extend(undo_all(&config.changes));
    steps.step("rootfs");
    if let Some((change, error)) = failed.first() {
        return Err(ContainerError::Remove {
            id: config.id.clone(),
            message: format!("{change:?}: {error}"),
        });
    }
    crate::events::container(paths, "destroy", config, &[]);
    steps.finish(&config.id);
    Ok(())
}

/// `rm -f` of a container whose config or state cannot be read (see [`super::broken`]).
pub fn remove_unreadable(paths: &Paths, id: &str) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    let _lock = containers.lock()?;
    super::broken::remove_locked(paths, id)
}

/// A monitor finishing a run still writes the container's state and log: let it end first
/// (it exits right after recording a stop), so nothing is written into a removed directory.
/// Called by the monitor itself for `--rm`, it finds its own pid and returns.
fn wait_for_monitor(containers: &ContainerStore, id: &str) {
    let Ok(state) = containers.load_state(id) else {
        return;
    };
    let monitor = state.monitor_pid;
    if monitor <= 0 || monitor == std::process::id() as i32 {
        return;
    }
    if super::config::process_start_time(monitor) != 0 {
        crate::process::wait_for_exit(monitor, std::time::Duration::from_secs(10));
    }
}

/// `--rm`: what `rm -v` does once the container has exited: the container, then its
/// anonymous volumes (named ones stay).
pub fn auto_remove(paths: &Paths, config: &ContainerConfig) {
    if let Err(e) = remove(paths, config) {
        tracing::warn!(error = %e, "auto-remove failed");
        return;
    }
    if let Err(e) = crate::volumes::remove_anonymous(paths, config) {
        tracing::warn!(error = %e, "removing the container's anonymous volumes failed");
    }
}
