//! Starting a created container and recording its end: the steps shared by a foreground
//! `ebrun run` and a detached container's monitor.
//!
//! start: cgroups (+ limits) -> eBPF meters -> clone into namespaces -> into the cgroups ->
//! network wiring -> release to exec. Each step is journaled; if any fails, the done ones are
//! undone. finish: the run's cgroups and network go; counters stay readable until `rm`.

use super::config::{
    boot_id, now_rfc3339, process_start_time, ContainerConfig, ContainerState, Status,
};
use super::store::ContainerStore;
use super::ContainerError;
use crate::cgroups::{ContainerCgroups, Layout};
use crate::process::{self, Spawned, StdioMode};
use crate::teardown::undo_all;
use crate::undo::{HostChange, Journal};
use crate::{bpf, network, Paths};

/// A container whose process has exec'ed.
pub struct Started {
    pub spawned: Spawned,
    pub state: ContainerState,
}

/// Where a container's OCI spec is written at every start, for the executor and for users
/// (`<container dir>/bundle/config.json`).
pub fn bundle_dir(paths: &Paths, id: &str) -> std::path::PathBuf {
    paths.container_dir(id).join("bundle")
}

/// Translates `config` into its OCI spec, writes it to the container's bundle directory and
/// resolves it for the executor.
fn launch_for(
    paths: &Paths,
    config: &ContainerConfig,
) -> Result<crate::process::Launch, ContainerError> {
    let netns = config.network.netns_mode(paths)?;
    let spec = super::oci_translate::spec_for(paths, config, &netns)?;
    let bundle = bundle_dir(paths, &config.id);
    std::fs::create_dir_all(&bundle).map_err(super::io_err("create", &bundle))?;
    crate::state::replace_json_volatile(&bundle.join(crate::oci::CONFIG_FILE), &spec)?;
    let root = crate::oci::RootSource::Overlay(super::oci_translate::overlay_root(paths, config)?);
    crate::oci::launch(&spec, &bundle, root, false)
        .map_err(|e| ContainerError::InvalidState(e.to_string()))
}

/// Docker's default device rules through the eBPF device program on the cgroup2 dir. On a
/// host without the v1 devices controller (cgroup v2) nothing else enforces them, so the
/// container does not start without it; elsewhere the program is a second line.
fn restrict_devices(
    paths: &Paths,
    config: &ContainerConfig,
    cgroups: &ContainerCgroups,
) -> Result<(), ContainerError> {
    let Some(dir) = &cgroups.unified_dir else {
        return Ok(());
    };
    if config.process.security.privileged || cgroups.cgroup_id == 0 {
        return Ok(());
    }
    let pin_dir = paths.bpffs_dir();
    let result = bpf::ensure_loaded(&pin_dir, &paths.root().join("bpf.lock"))
        .and_then(|()| bpf::restrict_devices(&pin_dir, dir));
    match result {
        Ok(()) => Ok(()),
        Err(e) if cgroups.has_v1_devices() => {
            tracing::debug!(error = %e, "eBPF device allowlist unavailable; the v1 devices controller enforces it");
            Ok(())
        }
        Err(e) => Err(ContainerError::Devices(e.to_string())),
    }
}

/// Registers the container's cgroup with the eBPF meters. A meter that cannot load costs
/// only that meter: the container runs anyway, with one warning.
pub(crate) fn attach_meters(paths: &Paths, cgroups: &ContainerCgroups, journal: &mut Journal) {
    if cgroups.cgroup_id == 0 {
        return;
    }
    let pin_dir = paths.bpffs_dir();
    let result = bpf::ensure_loaded(&pin_dir, &paths.root().join("bpf.lock"))
        .and_then(|()| bpf::register_cgroup(&pin_dir, cgroups.cgroup_id));
    match result {
        Ok(()) => {
            journal.record(HostChange::BpfCgroup {
                pin_dir: pin_dir.clone(),
                cgroup_id: cgroups.cgroup_id,
            });
            if let Some(dir) = &cgroups.unified_dir {
                bpf::attach_cgroup_programs(&pin_dir, dir, cgroups.cgroup_id, journal);
            }
        }
        Err(e) => tracing::warn!(error = %e, "eBPF meters unavailable for this container"),
    }
}

/// Starts `config`'s process. On failure everything this run did is undone and the state
/// records the error (Docker's "created" container with exit code 125/126/127).
pub fn start(
    paths: &Paths,
    config: &ContainerConfig,
    stdio: StdioMode,
) -> Result<Started, ContainerError> {
    let containers = ContainerStore::new(paths);
    let mut state = containers.load_state(&config.id)?;
    // Counters of an earlier run of this container are dropped with its old cgroup id; its
    // OOM kills carry over into the container's lifetime count.
    undo_all(&std::mem::take(&mut state.run_changes));
    if let Some(r) = state.exit_reading.take() {
        state.oom_kills_before += r.oom_kills.unwrap_or(0);
        state.last_oom_before = match (state.last_oom_before, r.last_oom_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    match start_steps(paths, config, stdio, state.clone()) {
        Ok(started) => Ok(started),
        Err(e) => {
            state.status = Status::Created;
            state.pid = 0;
            state.exit_code = e.exit_code();
            state.error = e.to_string();
            state.finished_at = Some(now_rfc3339());
            if containers.dir(&config.id).exists() {
                containers.save_state(&config.id, &state)?;
            }
            Err(e)
        }
    }
}

fn start_steps(
    paths: &Paths,
    config: &ContainerConfig,
    stdio: StdioMode,
    mut state: ContainerState,
) -> Result<Started, ContainerError> {
    let containers = ContainerStore::new(paths);
    let mut steps = crate::events::Steps::begin(paths, "start");
    let mut journal = crate::teardown::persisted_journal(super::reconcile::start_journal(
        &containers.dir(&config.id),
    ));
    let cgroups =
        ContainerCgroups::create(Layout::detect(), paths.prefix(), &config.id, &mut journal)?;
    crate::faults::point("start:cgroups");
    cgroups.apply(&config.resources)?;
    cgroups.restrict_devices(config.process.security.privileged)?;
    steps.step("cgroups");
    attach_meters(paths, &cgroups, &mut journal);
    restrict_devices(paths, config, &cgroups)?;
    steps.step("bpf_attach");
    let launch = launch_for(paths, config)?;
    let mut spawned = process::spawn(&launch, stdio, None)?;
    steps.step("spawn");
    let pid = spawned.pid.as_raw();
    crate::faults::point("start:spawned");
    let placed = cgroups
        .add_process(pid)
        .map_err(ContainerError::from)
        .and_then(|()| {
            network::setup(
                paths,
                &config.id,
                &containers.dir(&config.id),
                &config.network,
                pid,
                &mut journal,
            )
            .map_err(ContainerError::from)
        });
    let network_state = match placed {
        Ok(n) => n,
        Err(e) => {
            spawned.abort();
            return Err(e);
        }
    };
    crate::faults::point("start:network");
    steps.step("network");
    state.status = Status::Running;
    state.pid = pid;
    state.exit_code = 0;
    state.error.clear();
    state.started_at = Some(now_rfc3339());
    state.finished_at = None;
    state.boot_id = boot_id();
    state.pid_start_time = process_start_time(pid);
    state.paused = false;
    state.oom_killed = false;
    // Whoever starts a container supervises it: the foreground `ebrun run`, or the monitor.
    state.monitor_pid = std::process::id() as i32;
    state.cgroups = Some(cgroups);
    state.network = network_state;
    state.run_changes = journal.changes().to_vec();
    if let Err(e) = containers.save_state(&config.id, &state) {
        spawned.abort();
        return Err(e);
    }
    crate::faults::point("start:state");
    steps.step("state");
    spawned.start().map_err(ContainerError::Start)?;
    steps.step("rootfs");
    journal.commit();
    crate::events::container_started(paths, config, &state);
    steps.finish(&config.id);
    Ok(Started { spawned, state })
}

/// Records the end of a run: its cgroups and network go now; counters stay until `rm`.
pub fn finish(
    paths: &Paths,
    config: &ContainerConfig,
    mut state: ContainerState,
    outcome: &Result<i32, ContainerError>,
) -> Result<ContainerState, ContainerError> {
    let (kept, undo): (Vec<HostChange>, Vec<HostChange>) = std::mem::take(&mut state.run_changes)
        .into_iter()
        .partition(|c| matches!(c, HostChange::BpfCgroup { .. }));
    state.oom_killed = state.cgroups.as_ref().is_some_and(|cg| cg.oom_killed());
    // The last readings of the run's cgroups, before they go.
    state.exit_reading = state
        .cgroups
        .as_ref()
        .map(|cg| crate::metrics::ExitReading::take(cg, &paths.bpffs_dir()));
    undo_all(&undo);
    state.pid = 0;
    state.run_changes = kept;
    state.finished_at = Some(now_rfc3339());
    match outcome {
        Ok(code) => {
            state.status = Status::Exited;
            state.exit_code = *code;
        }
        Err(e) => {
            state.status = Status::Exited;
            state.exit_code = e.exit_code();
            state.error = e.to_string();
        }
    }
    crate::events::container_died(paths, config, &state);
    let containers = ContainerStore::new(paths);
    // `rm -f` from another ebrun may have removed the container meanwhile.
    // Unrecorded (a full disk), the exit is still real: the recorded run changes are undone
    // again (a no-op) by whoever next observes the container.
    if containers.dir(&config.id).exists() {
        if let Err(e) = containers.save_state(&config.id, &state) {
            tracing::warn!(id = %config.id, error = %e, "could not record the container's exit");
        }
    }
    Ok(state)
}
