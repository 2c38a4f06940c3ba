//! `update`: new resource limits for a container, written into its cgroups while it runs and
//! saved in its config for its next start (`ebrun update`, the Engine API's update).

use super::config::{ContainerConfig, Status};
use super::store::ContainerStore;
use super::ContainerError;
use crate::cgroups::Resources;
use crate::Paths;

fn procs(dir: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Applies `merged` (the limits the container will have, already checked by
/// [`crate::cgroups::check_limits`]); `given` are the ones this update sets (an
/// `oom_score_adj` among them goes to every process).
pub fn update_resources(
    paths: &Paths,
    config: &ContainerConfig,
    given: &Resources,
    merged: &Resources,
) -> Result<(), ContainerError> {
    let store = ContainerStore::new(paths);
    let _lock = store.lock()?;
    let state = store.load_state(&config.id)?;
    // Running or paused: a live process whose cgroups are there to change.
    let live = !matches!(state.status, Status::Created | Status::Exited)
        && state.pid > 0
        && state
            .cgroups
            .as_ref()
            .is_some_and(|c| c.dirs().all(|d| d.exists()));
    if let (true, Some(cgroups)) = (live, &state.cgroups) {
        cgroups.apply(merged)?;
        if given.oom_score_adj.is_some() {
            for dir in cgroups.dirs() {
                for pid in procs(dir) {
                    // A process may exit meanwhile: only the survivors matter.
                    let _ = given.apply_to_process(pid);
                }
            }
        }
    }
    let mut config = store.lookup(&config.id)?;
    config.resources = merged.clone();
    store.save_config(&config)
}
