//! Ending a container's processes (for `rm -f` and teardown).

use std::time::{Duration, Instant};

use super::store::ContainerStore;
use super::ContainerConfig;
use crate::Paths;

/// SIGKILLs every process in the container's cgroups and waits (up to 10 s) until its init
/// is gone.
pub fn kill_processes(paths: &Paths, config: &ContainerConfig) {
    let store = ContainerStore::new(paths);
    let Ok(state) = store.load_state(&config.id) else {
        return;
    };
    let Some(cgroups) = state.cgroups else {
        return;
    };
    // Frozen tasks cannot die until thawed.
    if state.paused {
        let _ = cgroups.freeze(false);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut alive = false;
        for dir in cgroups.dirs() {
            crate::cgroups::kill_all(dir);
            alive |= std::fs::read_to_string(dir.join("cgroup.procs"))
                .is_ok_and(|p| !p.trim().is_empty());
        }
        if !alive || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
