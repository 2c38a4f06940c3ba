//! The runtime spec's operations on a created container (runtime.md): start (opens the
//! FIFO its init waits on), kill, delete, pause, resume, update.

use std::os::unix::fs::OpenOptionsExt;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::create::CREATE_JOURNAL;
use super::state::{OciState, OciStatus, OciStore, EXEC_FIFO};
use super::{io_err as io, load_spec, OciError, CONFIG_FILE};
use crate::process;

/// Lets a created container's init exec the user's program.
pub fn start(store: &OciStore, id: &str) -> Result<(), OciError> {
    let mut state = store.load(id)?;
    match state.status() {
        OciStatus::Created => {}
        other => {
            return Err(OciError::State {
                id: id.to_string(),
                status: other.as_str(),
                wanted: "created",
            })
        }
    }
    let fifo_path = store.dir(id).join(EXEC_FIFO);
    // Non-blocking: the held init is already blocked opening it for writing, so it goes on
    // as soon as a reader is there; we wait for its byte, and give up if it dies.
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo_path)
        .map_err(io("open", &fifo_path))?;
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(&fifo, &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) if state.alive() => {
                let mut fds = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(&fifo),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            }
            Ok(_) | Err(_) => {
                return Err(OciError::Setup(format!(
                    "container {id}'s init exited before start"
                )))
            }
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    state.started = true;
    store.save(&state)?;
    // A failing poststart hook is only logged (runtime.md).
    let poststart = stage_hooks(&state, |h| h.poststart().clone(), "hooks.poststart");
    let text = state.to_json().to_string();
    if let Err(e) = process::run_hooks("poststart", &poststart, &text) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// One stage's hooks from the container's bundle (none if it cannot be read now).
fn stage_hooks(
    state: &OciState,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<oci_spec::runtime::Hook>>,
    at: &str,
) -> Vec<process::Hook> {
    load_spec(&state.bundle.join(CONFIG_FILE))
        .ok()
        .and_then(|s| s.hooks().clone())
        .and_then(|h| super::hooks(&pick(&h), at).ok())
        .unwrap_or_default()
}

/// Sends `signal` to the init (or, with `all`, to every process of its cgroup).
pub fn kill(store: &OciStore, id: &str, signal: Signal, all: bool) -> Result<(), OciError> {
    let state = store.load(id)?;
    if state.status() == OciStatus::Stopped {
        return Err(OciError::State {
            id: id.to_string(),
            status: "stopped",
            wanted: "running or created",
        });
    }
    if all {
        for pid in processes(&state) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
        Ok(())
    } else {
        nix::sys::signal::kill(Pid::from_raw(state.pid), signal)
            .map_err(|e| OciError::Setup(format!("kill {}: {e}", state.pid)))
    }
}

/// The pids in the container's cgroup.
pub fn processes(state: &OciState) -> Vec<i32> {
    let Some(cg) = &state.cgroups else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = cg
        .dirs()
        .next()
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Removes a stopped container (with `force`, kills a running one first): its cgroups,
/// meter registrations and state go.
pub fn delete(store: &OciStore, id: &str, force: bool) -> Result<(), OciError> {
    let state = match store.load(id) {
        Err(OciError::NotFound(_)) => {
            // A create killed half-way left its journal: undo what it did.
            let journal = store.dir(id).join(CREATE_JOURNAL);
            return match crate::undo::read_persisted(&journal) {
                Some(changes) => {
                    crate::teardown::undo_all(&changes);
                    let _ = std::fs::remove_dir_all(store.dir(id));
                    Ok(())
                }
                None => Err(OciError::NotFound(id.to_string())),
            };
        }
        other => other?,
    };
    let status = state.status();
    if status != OciStatus::Stopped && status != OciStatus::Created && !force {
        return Err(OciError::State {
            id: id.to_string(),
            status: status.as_str(),
            wanted: "stopped (or --force)",
        });
    }
    if state.alive() {
        if let Some(cg) = &state.cgroups {
            if state.paused {
                let _ = cg.freeze(false);
            }
            for dir in cg.dirs() {
                crate::cgroups::kill_all(dir);
            }
        }
        let _ = nix::sys::signal::kill(Pid::from_raw(state.pid), Signal::SIGKILL);
        crate::process::wait_for_exit(state.pid, std::time::Duration::from_secs(10));
    }
    let _lock = store.lock()?;
    let poststop = stage_hooks(&state, |h| h.poststop().clone(), "hooks.poststop");
    let mut stopped = state.to_json();
    stopped["status"] = "stopped".into();
    crate::teardown::undo_all(&state.changes);
    // A failing poststop hook is only logged (runtime.md).
    if let Err(e) = process::run_hooks("poststop", &poststop, &stopped.to_string()) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// Freezes (`pause`) or thaws (`resume`) the container's cgroup.
pub fn set_paused(store: &OciStore, id: &str, paused: bool) -> Result<(), OciError> {
    let mut state = store.load(id)?;
    let status = state.status();
    let wanted = if paused {
        OciStatus::Running
    } else {
        OciStatus::Paused
    };
    if status != wanted {
        return Err(OciError::State {
            id: id.to_string(),
            status: status.as_str(),
            wanted: wanted.as_str(),
        });
    }
    if let Some(cg) = &state.cgroups {
        cg.freeze(paused)
            .map_err(|e| OciError::Setup(e.to_string()))?;
    }
    state.paused = paused;
    store.save(&state)
}

/// `update --resources`: new limits for a running container's cgroups.
pub fn update(
    store: &OciStore,
    id: &str,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<(), OciError> {
    let state = store.load(id)?;
    if state.status() == OciStatus::Stopped {
        return Err(OciError::State {
            id: id.to_string(),
            status: "stopped",
            wanted: "running, paused or created",
        });
    }
    let cgroups = state
        .cgroups
        .as_ref()
        .ok_or_else(|| OciError::Setup(format!("container {id} has no cgroups")))?;
    cgroups
        .apply(&crate::cgroups::from_oci_resources(resources))
        .map_err(|e| OciError::Setup(e.to_string()))
}
