//! Operations on existing containers: start, stop, kill, wait, restart, pause, unpause,
//! rename. Each works from another ebrun process than the one that started the container:
//! it signals the container's init and watches the state its monitor records.

use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::config::{ContainerConfig, ContainerState, Status};
use super::monitor::spawn_monitor;
use super::observe::{observe, process_alive};
use super::store::ContainerStore;
use super::{names, ContainerError};
use crate::process::wait_for_exit;
use crate::Paths;

pub(super) fn is_running(state: &ContainerState) -> bool {
    super::stats::is_live(state.status)
}

/// Docker's error for an operation that needs a running container.
fn not_running(config: &ContainerConfig) -> ContainerError {
    ContainerError::NotRunning(config.id.clone())
}

/// Records that the user stopped the container, so its restart policy leaves it stopped.
fn mark_stopped_by_user(paths: &Paths, id: &str, stopped: bool) -> Result<(), ContainerError> {
    let store = ContainerStore::new(paths);
    let _lock = store.lock()?;
    let mut state = store.load_state(id)?;
    state.stopped_by_user = stopped;
    store.save_state(id, &state)
}

/// Marks the container as stopped by the user (its restart policy will not bring it back).
pub fn mark_stopped(paths: &Paths, id: &str) -> Result<(), ContainerError> {
    mark_stopped_by_user(paths, id, true)
}

/// `start`: runs a created or exited container again under a new monitor.
pub fn start_existing(paths: &Paths, config: &ContainerConfig) -> Result<(), ContainerError> {
    let state = observe(paths, config)?;
    if is_running(&state) {
        return Ok(());
    }
    mark_stopped_by_user(paths, &config.id, false)?;
    spawn_monitor(paths, &config.id).inspect_err(|_| {
        // Docker removes a `--rm` container whose start failed.
        if config.auto_remove {
            super::remove::auto_remove(paths, config);
        }
    })
}

/// Waits until the container is no longer running; returns its exit code. Waits on the
/// init's and then the monitor's exit (pidfds), so the exit is seen as soon as it is recorded.
pub fn wait_exit(
    paths: &Paths,
    config: &ContainerConfig,
    timeout: Option<Duration>,
) -> Result<Option<i32>, ContainerError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let state = observe(paths, config)?;
        if !is_running(&state) {
            return Ok(Some(state.exit_code));
        }
        let left = match deadline {
            Some(d) if Instant::now() >= d => return Ok(None),
            Some(d) => d - Instant::now(),
            None => Duration::from_secs(3600),
        };
        if process_alive(state.pid, state.pid_start_time) {
            wait_for_exit(state.pid, left.min(Duration::from_secs(1)));
        } else if state.monitor_pid > 0 {
            // The init is gone; its monitor records the exit and then ends (or restarts it).
            wait_for_exit(state.monitor_pid, left.min(Duration::from_millis(5)));
        } else {
            std::thread::sleep(left.min(Duration::from_millis(1)));
        }
    }
}

/// `resize`: the size of the container's terminal (its init's stdin, a pty of the
/// container's own devpts, reached through /proc).
pub fn resize_tty(
    paths: &Paths,
    config: &ContainerConfig,
    rows: u16,
    cols: u16,
) -> Result<(), ContainerError> {
    let state = observe(paths, config)?;
    if !is_running(&state) || !process_alive(state.pid, state.pid_start_time) {
        return Err(not_running(config));
    }
    if !config.process.tty {
        return Ok(());
    }
    let path = std::path::PathBuf::from(format!("/proc/{}/fd/0", state.pid));
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path)
        .map_err(|source| ContainerError::Io {
            op: "open the container's terminal",
            path: path.clone(),
            source,
        })?;
    crate::process::set_winsize(std::os::fd::AsFd::as_fd(&terminal), rows, cols).map_err(|source| {
        ContainerError::Process(crate::process::ProcessError::Sys {
            op: "resize",
            source,
        })
    })
}

/// `kill -s SIG`: signals the container's init. SIGKILL and SIGTERM count as a user stop.
pub fn kill_container(
    paths: &Paths,
    config: &ContainerConfig,
    signal: Signal,
) -> Result<(), ContainerError> {
    let state = observe(paths, config)?;
    if !is_running(&state) || !process_alive(state.pid, state.pid_start_time) {
        return Err(not_running(config));
    }
    if matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
        mark_stopped_by_user(paths, &config.id, true)?;
    }
    if state.paused && signal != Signal::SIGKILL {
        // A frozen process cannot act on the signal; SIGKILL works regardless.
        tracing::debug!("signal sent to a paused container");
    }
    crate::events::container(
        paths,
        "kill",
        config,
        &[("signal", (signal as i32).to_string())],
    );
    kill(Pid::from_raw(state.pid), signal).map_err(|source| {
        ContainerError::Process(crate::process::ProcessError::Sys { op: "kill", source })
    })
}

/// `stop -t SECS`: the container's stop signal (`--stop-signal`, SIGTERM by default), then
/// SIGKILL after the grace period (`grace`, else the container's `--stop-timeout`, else 10 s;
/// negative: no SIGKILL); waits for the exit to be recorded.
pub fn stop(
    paths: &Paths,
    config: &ContainerConfig,
    grace: Option<i64>,
) -> Result<(), ContainerError> {
    let grace = match grace {
        Some(t) if t < 0 => None,
        Some(t) => Some(Duration::from_secs(t as u64)),
        None => config.options.stop_grace(),
    };
    let signal = config.options.stop_signal();
    let state = observe(paths, config)?;
    if !is_running(&state) {
        return Ok(());
    }
    mark_stopped_by_user(paths, &config.id, true)?;
    if state.paused {
        if let Some(cg) = &state.cgroups {
            let _ = cg.freeze(false);
        }
    }
    let pid = Pid::from_raw(state.pid);
    if process_alive(state.pid, state.pid_start_time) {
        crate::events::container(
            paths,
            "kill",
            config,
            &[("signal", (signal as i32).to_string())],
        );
        let _ = kill(pid, signal);
        crate::faults::point("stop:signalled");
        match grace {
            Some(grace) => {
                wait_for_exit(state.pid, grace);
            }
            None => while !wait_for_exit(state.pid, Duration::from_secs(3600)) {},
        }
        if process_alive(state.pid, state.pid_start_time) {
            crate::events::container(paths, "kill", config, &[("signal", "9".into())]);
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
    wait_exit(paths, config, Some(Duration::from_secs(30)))?;
    crate::events::container(paths, "stop", config, &[]);
    Ok(())
}

/// `pause` / `unpause`: freezes or thaws every process of the container.
pub fn set_paused(
    paths: &Paths,
    config: &ContainerConfig,
    paused: bool,
) -> Result<(), ContainerError> {
    let store = ContainerStore::new(paths);
    let state = observe(paths, config)?;
    if !is_running(&state) {
        return Err(not_running(config));
    }
    if state.paused == paused {
        return Err(ContainerError::InvalidState(format!(
            "Container {} is {}paused",
            config.id,
            if paused { "already " } else { "not " }
        )));
    }
    let cgroups = state.cgroups.as_ref().ok_or_else(|| not_running(config))?;
    cgroups.freeze(paused)?;
    let _lock = store.lock()?;
    let mut state = store.load_state(&config.id)?;
    state.paused = paused;
    state.status = if paused {
        Status::Paused
    } else {
        Status::Running
    };
    // Unrecorded (a full disk), the change is undone: the state on file stays the truth.
    if let Err(e) = store.save_state(&config.id, &state) {
        let _ = cgroups.freeze(!paused);
        return Err(e);
    }
    crate::events::container(paths, if paused { "pause" } else { "unpause" }, config, &[]);
    Ok(())
}

/// `rename OLD NEW`.
pub fn rename(
    paths: &Paths,
    config: &ContainerConfig,
    new_name: &str,
) -> Result<(), ContainerError> {
    names::validate(new_name)?;
    let new_name = new_name.trim_start_matches('/');
    let store = ContainerStore::new(paths);
    let _lock = store.lock()?;
    if let Some(other) = store.list().into_iter().find(|c| c.name == new_name) {
        return Err(ContainerError::NameInUse {
            name: new_name.to_string(),
            id: other.id,
        });
    }
    let mut config = store.lookup(&config.id)?;
    config.name = new_name.to_string();
    store.save_config(&config)?;
    // The embedded DNS answers the new name (a running container's endpoint record).
    if let Err(e) = crate::network::endpoints::rename(paths, &config.id, new_name) {
        tracing::warn!(id = %config.id, error = %e, "could not rename the network endpoint");
    }
    Ok(())
}

/// Whether the container is running (observed).
pub fn running(paths: &Paths, config: &ContainerConfig) -> Result<bool, ContainerError> {
    Ok(is_running(&observe(paths, config)?))
}
