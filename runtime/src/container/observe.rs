//! The truth about a container's state. A state file says what the last writer saw; a
//! container recorded as running whose process and monitor (the ebrun process supervising
//! it) are gone — killed, or from an earlier boot — is reported, and recorded, as exited
//! with Docker's unknown exit code 255.

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::config::{boot_id, process_start_time, ContainerConfig, ContainerState, Status};
use super::start::finish;
use super::store::ContainerStore;
use super::ContainerError;
use crate::Paths;

/// Docker's exit code when the real one was never recorded.
pub const EXIT_UNKNOWN: i32 = 255;

/// Whether the process recorded as `pid` (with `start_time`) is still that process.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    pid > 0 && start_time != 0 && process_start_time(pid) == start_time
}

fn monitor_alive(state: &ContainerState) -> bool {
    state.monitor_pid > 0
        && kill(Pid::from_raw(state.monitor_pid), None).is_ok()
        && process_start_time(state.monitor_pid) != 0
}

/// The container's state as it really is now, correcting (and persisting) a stale record.
pub fn observe(paths: &Paths, config: &ContainerConfig) -> Result<ContainerState, ContainerError> {
    let store = ContainerStore::new(paths);
    let state = store.load_state(&config.id)?;
    if !matches!(
        state.status,
        Status::Running | Status::Paused | Status::Restarting
    ) {
        return Ok(state);
    }
    let alive = |s: &ContainerState| {
        s.boot_id == boot_id() && (process_alive(s.pid, s.pid_start_time) || monitor_alive(s))
    };
    if alive(&state) {
        return Ok(state);
    }
    // Nobody is left to record the exit: do it now, under the containers lock.
    let _lock = store.lock()?;
    let state = store.load_state(&config.id)?;
    if alive(&state) {
        return Ok(state);
    }
    tracing::info!(id = %config.id, "container's process and monitor are gone; recording exit");
    let mut state = finish(paths, config, state, &Ok(EXIT_UNKNOWN))?;
    state.monitor_pid = 0;
    // Unrecorded (a full disk), the exit is still the truth; the next command records it.
    if let Err(e) = store.save_state(&config.id, &state) {
        tracing::warn!(id = %config.id, error = %e, "could not record the container's exit");
    }
    Ok(state)
}
