//! Reconciliation after a crash: an ebrun process killed half-way through create, start or
//! rm leaves its journal (or a marker) in the container's directory. The next ebrun command
//! that touches containers finishes the job, so a container either exists completely or not
//! at all, and nothing it made is orphaned.

use std::path::Path;

use super::config::{ContainerConfig, Status};
use super::observe::{process_alive, EXIT_UNKNOWN};
use super::remove::remove_locked;
use super::start::finish;
use super::store::ContainerStore;
use super::ContainerError;
use crate::state::read_json;
use crate::teardown::undo_all;
use crate::undo::read_persisted;
use crate::Paths;

/// The journal of a create in progress.
pub const CREATE_JOURNAL: &str = "create-journal.json";
/// The journal of the volumes a create in progress made.
pub const VOLUMES_JOURNAL: &str = "volumes-journal.json";
/// Marks a container whose removal has begun.
pub const REMOVING: &str = ".removing";

/// The journal of a start in progress, named after the starting process.
pub fn start_journal(dir: &Path) -> std::path::PathBuf {
    dir.join(format!("start-journal.{}.json", std::process::id()))
}

/// The pid of the process that wrote a start journal, from its name.
fn start_journal_pid(name: &str) -> Option<i32> {
    name.strip_prefix("start-journal.")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// Whether the starter still runs: a zombie does not (a monitor is nobody's child once it
/// detached, so its corpse waits for init to reap it, and may still be signalable), nor does
/// a process already exiting (killed: its pipes are closed, so its caller has reported the
/// failure, but it is not a zombie yet; it runs no more code of its own).
fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && super::config::process_start_time(pid) != 0
        && !exiting(pid)
}

/// The kernel's PF_EXITING flag in the task's flags (`/proc/PID/stat`'s 9th field).
fn exiting(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    // After the command: state (3), ppid, pgrp, session, tty_nr, tpgid, flags (9).
    rest.split_whitespace()
        .nth(6)
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_EXITING != 0)
}

/// Takes the containers lock and reconciles every container.
pub fn reconcile(paths: &Paths) -> Result<(), ContainerError> {
    let store = ContainerStore::new(paths);
    let _lock = store.lock()?;
    reconcile_locked(paths);
    Ok(())
}

/// [`reconcile`] with the containers lock held.
pub(super) fn reconcile_locked(paths: &Paths) {
    let Ok(entries) = std::fs::read_dir(paths.containers_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let dir = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match read_json::<ContainerConfig>(&dir.join("config.json")) {
            // No config yet: a create killed half-way. A config that is there but unreadable
            // is not (it is written atomically): that container is left for `rm -f`.
            Err(e)
                if e.is_not_found()
                    && super::broken::is_container_id(&entry.file_name().to_string_lossy()) =>
            {
                abandon_create(paths, &dir)
            }
            Err(_) => {}
            Ok(config) if dir.join(REMOVING).exists() => {
                tracing::info!(id = %config.id, "finishing an interrupted removal");
                if let Err(e) = remove_locked(paths, &config) {
                    tracing::warn!(error = %e, "could not finish the removal");
                }
            }
            Ok(config) => abandon_start(paths, &config, &dir),
        }
    }
}

/// A create killed before its config was written: undo what it made. (A config deleted
/// from under a container that ran is treated the same: whatever its id leads to goes.)
fn abandon_create(paths: &Paths, dir: &Path) {
    tracing::info!(dir = %dir.display(), "undoing an interrupted create");
    for journal in [VOLUMES_JOURNAL, CREATE_JOURNAL] {
        if let Some(changes) = read_persisted(&dir.join(journal)) {
            undo_all(&changes);
        }
    }
    let id = dir.file_name().unwrap_or_default().to_string_lossy();
    if let Err(e) = super::broken::remove_locked(paths, &id) {
        tracing::warn!(error = %e, "could not undo all of an interrupted create");
    }
}

/// A start killed before its process was released: undo the run's changes and record the
/// container as exited.
fn abandon_start(paths: &Paths, config: &ContainerConfig, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(starter) = start_journal_pid(&name) else {
            continue;
        };
        if alive(starter) {
            continue;
        }
        let store = ContainerStore::new(paths);
        let Ok(state) = store.load_state(&config.id) else {
            continue;
        };
        if process_alive(state.pid, state.pid_start_time) {
            // The process was released after all; the journal is just stale.
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        tracing::info!(id = %config.id, "undoing an interrupted start");
        if let Some(changes) = read_persisted(&entry.path()) {
            undo_all(&changes);
        }
        let _ = std::fs::remove_file(entry.path());
        if matches!(
            state.status,
            Status::Running | Status::Restarting | Status::Paused
        ) {
            if let Ok(mut state) = finish(paths, config, state, &Ok(EXIT_UNKNOWN)) {
                state.monitor_pid = 0;
                let _ = store.save_state(&config.id, &state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_not_exiting_and_a_gone_one_is_not_alive() {
        assert!(!exiting(std::process::id() as i32));
        assert!(alive(std::process::id() as i32));
        // A pid above the kernel's maximum never exists.
        assert!(!alive(i32::MAX));
        assert!(exiting(i32::MAX));
    }
}
