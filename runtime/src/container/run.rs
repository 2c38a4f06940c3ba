//! `ebrun run` in the foreground: ebrun itself is the container's monitor. It creates and
//! starts the container, supervises it (signals, terminal), records the exit and cleans up.

use super::config::ContainerConfig;
use super::create::create;
use super::remove::auto_remove;
use super::spec::RunSpec;
use super::start::{finish, start};
use super::ContainerError;
use crate::process::StdioMode;
use crate::Paths;

/// Runs a container in the foreground and returns its exit code (Docker's: the command's
/// own, 128+signal, or 125/126/127 when it could not start).
pub fn run_foreground(paths: &Paths, spec: &RunSpec) -> Result<i32, ContainerError> {
    run_foreground_with(paths, spec, &mut |_| {})
}

/// [`run_foreground`], telling `created` the id once the container exists (`--cidfile`).
pub fn run_foreground_with(
    paths: &Paths,
    spec: &RunSpec,
    created: &mut dyn FnMut(&str),
) -> Result<i32, ContainerError> {
    let config = create(paths, spec)?.config;
    created(&config.id);
    let outcome = match start(paths, &config, StdioMode::Relayed) {
        Ok(mut started) => {
            let health =
                super::health_monitor::HealthMonitor::start(paths, &config, &started.state);
            let outcome = super::logs_relay::supervise_logged(paths, &config.id, &mut started);
            if let Some(h) = health {
                h.stop();
            }
            finish(paths, &config, started.state, &outcome)?;
            outcome
        }
        Err(e) => Err(e),
    };
    if config.auto_remove {
        auto_remove(paths, &config);
    }
    outcome
}

/// `run -d`: creates the container and hands it to a monitor of its own; returns its id once
/// its process has started. A failed start leaves a "created" container (or none with
/// `--rm`), as Docker does.
pub fn run_detached(paths: &Paths, spec: &RunSpec) -> Result<String, ContainerError> {
    run_detached_with(paths, spec, &mut |_| {})
}

/// [`run_detached`], telling `created` the id once the container exists (`--cidfile`).
pub fn run_detached_with(
    paths: &Paths,
    spec: &RunSpec,
    created: &mut dyn FnMut(&str),
) -> Result<String, ContainerError> {
    let config = create(paths, spec)?.config;
    created(&config.id);
    match super::monitor::spawn_monitor(paths, &config.id) {
        Ok(()) => Ok(config.id),
        Err(e) => {
            if config.auto_remove {
                auto_remove(paths, &config);
            }
            Err(e)
        }
    }
}

/// Runs the created container `config` to its end, its output handed to `sink` (fd 1 or 2
/// and the bytes) instead of this process's stdout: a build's `RUN` step. An interrupt
/// (SIGINT, SIGTERM, SIGHUP, SIGQUIT) kills it and sets `interrupted`. The container stays,
/// stopped, for its changes to be committed.
pub fn run_created(
    paths: &Paths,
    config: &ContainerConfig,
    interrupted: &std::sync::atomic::AtomicBool,
    sink: &mut dyn FnMut(i32, &[u8]),
) -> Result<i32, ContainerError> {
    let mut started = start(paths, config, StdioMode::Relayed)?;
    let spawned = &mut started.spawned;
    let output = crate::process::Output {
        pty_master: spawned.pty_master.take(),
        stdout: spawned.stdout.take(),
        stderr: spawned.stderr.take(),
    };
    let outcome =
        crate::process::supervise_interruptible(spawned.pid, output, sink, Some(interrupted))
            .map(|s| s.code())
            .map_err(ContainerError::from);
    finish(paths, config, started.state, &outcome)?;
    outcome
}
