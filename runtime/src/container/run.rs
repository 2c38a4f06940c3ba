//! `ebrun run` in the foreground: create, start in new namespaces and cgroups, supervise
//! until exit (ebrun is the container's monitor), record the exit, clean up.

use super::config::{now_rfc3339, ContainerConfig, ContainerState, Status};
use super::create::create;
use super::remove::remove;
use super::spec::RunSpec;
use super::store::ContainerStore;
use super::ContainerError;
use crate::cgroups::{ContainerCgroups, Layout};
use crate::rootfs::{BindFile, RootfsSpec};
use crate::undo::{undo_all, HostChange, Journal};
use crate::{bpf, process, Paths};

/// Runs a container in the foreground and returns its exit code (Docker's: the command's
/// own, 128+signal, or 125/126/127 when it could not start).
pub fn run_foreground(paths: &Paths, spec: &RunSpec) -> Result<i32, ContainerError> {
    let config = create(paths, spec)?.config;
    let outcome = start_and_wait(paths, &config);
    if config.auto_remove {
        if let Err(e) = remove(paths, &config) {
            tracing::warn!(error = %e, "auto-remove failed");
        }
    }
    outcome
}

/// The root filesystem of a container.
fn rootfs_spec(paths: &Paths, config: &ContainerConfig) -> RootfsSpec {
    let dir = paths.container_dir(&config.id);
    RootfsSpec {
        layers: config.layers.clone(),
        upper: dir.join("upper"),
        work: dir.join("work"),
        merged: dir.join("merged"),
        bind_files: vec![
            BindFile {
                source: dir.join("hostname"),
                destination: "/etc/hostname".into(),
            },
            BindFile {
                source: dir.join("hosts"),
                destination: "/etc/hosts".into(),
            },
        ],
        read_only: config.read_only,
    }
}

/// Registers the container's cgroup with the eBPF meters. A meter that cannot load costs
/// only that meter: the container runs anyway, with one warning.
fn attach_meters(paths: &Paths, cgroups: &ContainerCgroups, journal: &mut Journal) {
    if cgroups.cgroup_id == 0 {
        return;
    }
    let pin_dir = paths.bpffs_dir();
    let result = bpf::ensure_loaded(&pin_dir, &paths.root().join("bpf.lock"))
        .and_then(|()| bpf::register_cgroup(&pin_dir, cgroups.cgroup_id));
    match result {
        Ok(()) => journal.record(HostChange::BpfCgroup {
            pin_dir,
            cgroup_id: cgroups.cgroup_id,
        }),
        Err(e) => tracing::warn!(error = %e, "eBPF meters unavailable for this container"),
    }
}

fn start_and_wait(paths: &Paths, config: &ContainerConfig) -> Result<i32, ContainerError> {
    let containers = ContainerStore::new(paths);
    let mut journal = Journal::new();
    let cgroups =
        ContainerCgroups::create(Layout::detect(), paths.prefix(), &config.id, &mut journal)?;
    attach_meters(paths, &cgroups, &mut journal);
    let rootfs = rootfs_spec(paths, config);
    let mut spawned = process::spawn(&config.process, &rootfs)?;
    let pid = spawned.pid;
    let mut state = ContainerState {
        status: Status::Running,
        pid: pid.as_raw(),
        started_at: Some(now_rfc3339()),
        cgroups: Some(cgroups.clone()),
        run_changes: journal.changes().to_vec(),
        ..ContainerState::default()
    };
    let placed = cgroups
        .add_process(pid.as_raw())
        .map_err(ContainerError::from)
        .and_then(|()| containers.save_state(&config.id, &state));
    if let Err(e) = placed {
        spawned.abort();
        return Err(e);
    }
    let run_changes = journal.commit();
    let outcome = match spawned.start() {
        Ok(()) => process::supervise(pid, spawned.pty_master.take())
            .map(|status| status.code())
            .map_err(ContainerError::from),
        Err(failure) => Err(ContainerError::Start(failure)),
    };

    // The process is gone: its cgroups go now; counters stay readable until `rm`.
    let (cgroup_dirs, kept): (Vec<HostChange>, Vec<HostChange>) = run_changes
        .into_iter()
        .partition(|c| matches!(c, HostChange::Cgroup { .. }));
    undo_all(&cgroup_dirs);
    state.pid = 0;
    state.run_changes = kept;
    state.finished_at = Some(now_rfc3339());
    match &outcome {
        Ok(code) => {
            state.status = Status::Exited;
            state.exit_code = *code;
        }
        Err(e) => {
            state.status = Status::Created;
            state.exit_code = e.exit_code();
            state.error = e.to_string();
        }
    }
    // `rm -f` from another ebrun may have removed the container meanwhile.
    if containers.dir(&config.id).exists() {
        containers.save_state(&config.id, &state)?;
    }
    outcome
}
