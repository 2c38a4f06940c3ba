//! Ending a container's processes (for `rm -f` and teardown).

use std::time::{Duration, Instant};

use super::observe::process_alive;
use super::store::ContainerStore;
use super::ContainerConfig;
use crate::process::wait_for_exit;
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
        let now = Instant::now();
        if !alive || now > deadline {
            return;
        }
        // The init's exit takes its whole PID namespace along: wait for it, not in steps.
        if process_alive(state.pid, state.pid_start_time) {
            wait_for_exit(state.pid, deadline - now);
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
