//! Removed containers whose last values no scrape has shown yet.
//!
//! A container that lives 300 ms with `--rm` is gone (state files, BPF map entries) long
//! before the next scrape, and so would be everything it did. While an `ebrun serve` runs
//! (it says so in `serve.pid` under the instance's run directory), `rm` leaves a note here
//! instead of dropping the container's BPF map entries: its config and final state (with the
//! exit readings the monitor took) and the deferred map changes. The exporter shows the
//! container, as exited, until a scrape has shown its final values, then drops the map
//! entries and the note ([`release`]). Without a serve, or for a container whose final
//! values were already scraped, nothing changes: `rm` removes everything at once. A note
//! older than [`MAX_AGE`] is released by whoever finds it (serve's background loop, a
//! scrape, or the next `rm` without a serve), and a serve that stops releases them all.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::container::{ContainerConfig, ContainerState};
use crate::teardown::undo_all;
use crate::undo::HostChange;
use crate::Paths;

/// How long a note waits for a scrape.
pub const MAX_AGE: Duration = Duration::from_secs(120);

/// One removed container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    pub config: ContainerConfig,
    pub state: ContainerState,
    /// Unix seconds.
    pub removed_at: f64,
    /// Map changes `rm` left for the exporter to undo.
    pub deferred: Vec<HostChange>,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.run_dir().join("removed")
}

fn pid_path(paths: &Paths) -> PathBuf {
    paths.run_dir().join("serve.pid")
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Records that this process serves metrics for the instance.
pub fn mark_serving(paths: &Paths) {
    let path = pid_path(paths);
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(&path, std::process::id().to_string());
}

/// Undoes [`mark_serving`] (if the file is still this process's).
pub fn unmark_serving(paths: &Paths) {
    let path = pid_path(paths);
    if std::fs::read_to_string(&path).is_ok_and(|p| p.trim() == std::process::id().to_string()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether an `ebrun serve` of the instance runs.
pub fn serving(paths: &Paths) -> bool {
    std::fs::read_to_string(pid_path(paths))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .is_some_and(|pid| {
            pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        })
}

/// Leaves `config`'s note with the `deferred` changes; false (nothing written) if it cannot.
pub fn hand_over(
    paths: &Paths,
    config: &ContainerConfig,
    state: &ContainerState,
    deferred: &[HostChange],
) -> bool {
    let d = dir(paths);
    if std::fs::create_dir_all(&d).is_err() {
        return false;
    }
    let note = Removed {
        config: config.clone(),
        state: state.clone(),
        removed_at: now(),
        deferred: deferred.to_vec(),
    };
    crate::state::replace_json_volatile(&d.join(format!("{}.json", config.id)), &note).is_ok()
}

/// Every note: `(path, note)`.
pub fn list(paths: &Paths) -> Vec<(PathBuf, Removed)> {
    let Ok(entries) = std::fs::read_dir(dir(paths)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let path = e.path();
            match crate::state::read_json::<Removed>(&path) {
                Ok(r) => Some((path, r)),
                Err(_) => {
                    // Unreadable (half-written by a killed rm): nothing to show.
                    let _ = std::fs::remove_file(&path);
                    None
                }
            }
        })
        .collect()
}

/// Whether `note` waited too long for a scrape.
pub fn expired(note: &Removed) -> bool {
    now() - note.removed_at > MAX_AGE.as_secs_f64()
}

/// Drops the note's map entries and the note.
pub fn release(path: &Path, note: &Removed) {
    for (change, e) in undo_all(&note.deferred) {
        tracing::debug!(?change, error = %e, "undo of a removed container's change");
    }
    let _ = std::fs::remove_file(path);
}

/// Releases the notes that waited too long (serve's background loop: a serve nobody scrapes
/// keeps no map entries for long); with `all`, every note (serve stopping).
pub fn release_waiting(paths: &Paths, all: bool) {
    if !dir(paths).exists() {
        return;
    }
    for (path, note) in list(paths) {
        if all || expired(&note) {
            release(&path, &note);
        }
    }
    if all {
        let _ = std::fs::remove_dir(dir(paths)); // only if empty
    }
}

/// Releases the notes no serve will show (called by `rm` when no serve runs).
pub fn sweep(paths: &Paths) {
    if !dir(paths).exists() {
        return;
    }
    for (path, note) in list(paths) {
        if expired(&note) || !serving(paths) {
            release(&path, &note);
        }
    }
}
