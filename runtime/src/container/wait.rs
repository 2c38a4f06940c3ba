//! Docker's wait conditions (`docker wait`, the Engine API's `wait?condition=`): the first
//! exit from now on, the exit of a container not yet started, or its removal.

use std::time::Duration;

use super::config::{ContainerConfig, ContainerState};
use super::lifecycle::{is_running, wait_exit};
use super::observe::observe;
use super::store::ContainerStore;
use super::ContainerError;
use crate::Paths;

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Until it is not running (at once for a created or exited container).
    NotRunning,
    /// Until it exits the next time (a created container: after its start).
    NextExit,
    /// Until it is removed (`run --rm`).
    Removed,
}

impl WaitCondition {
    /// Docker's names; an empty one is `not-running`.
    pub fn parse(name: &str) -> Option<WaitCondition> {
        match name {
            "" | "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

const POLL: Duration = Duration::from_millis(1);

/// The run recorded in `state`: it changes when the container starts or exits again.
fn run_marks(state: &ContainerState) -> (Option<String>, Option<String>, String) {
    (
        state.started_at.clone(),
        state.finished_at.clone(),
        state.error.clone(),
    )
}

/// The exit code of the container's last `die` in the events journal (a removed container
/// has no state left to read).
fn last_exit_from_journal(paths: &Paths, id: &str) -> Option<i32> {
    let events = crate::events::EventJournal::new(paths).read_all().ok()?;
    events
        .iter()
        .rev()
        .find(|e| e.action == "die" && e.actor.id == id)
        .and_then(|e| e.actor.attributes.get("exitCode"))
        .and_then(|c| c.parse().ok())
}

/// Waits for `condition`; returns the exit code Docker reports. A container removed while
/// waited on ends a `not-running`/`next-exit` wait with its last exit code.
pub fn wait_for(
    paths: &Paths,
    config: &ContainerConfig,
    condition: WaitCondition,
) -> Result<i32, ContainerError> {
    let store = ContainerStore::new(paths);
    let gone = || !store.dir(&config.id).exists();
    let initial = observe(paths, config)?;
    if condition == WaitCondition::NotRunning && !is_running(&initial) {
        return Ok(initial.exit_code);
    }
    // Until a run that is not the one seen at first has begun (or ended).
    if !is_running(&initial) {
        loop {
            if gone() {
                return Ok(last_exit_from_journal(paths, &config.id).unwrap_or(0));
            }
            match observe(paths, config) {
                Ok(s) if is_running(&s) || run_marks(&s) != run_marks(&initial) => break,
                Ok(_) => std::thread::sleep(POLL),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }
    let code = match wait_exit(paths, config, None) {
        Ok(code) => code.unwrap_or(0),
        Err(ContainerError::NotFound(_)) => last_exit_from_journal(paths, &config.id).unwrap_or(0),
        Err(_) if gone() => last_exit_from_journal(paths, &config.id).unwrap_or(0),
        Err(e) => return Err(e),
    };
    if condition == WaitCondition::Removed {
        while !gone() {
            std::thread::sleep(POLL);
        }
        return Ok(last_exit_from_journal(paths, &config.id).unwrap_or(code));
    }
    Ok(code)
}
