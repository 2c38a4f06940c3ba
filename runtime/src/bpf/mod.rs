//! eBPF: loading the embedded programs once per host and root, pinning them under
//! `/sys/fs/bpf/<prefix>` (ARCHITECTURE.md point 3), each container's map entries and cgroup
//! links, and reading the meters back as a typed [`ContainerMeters`] snapshot.
//!
//! Nothing here needs a long-lived process: programs, links and maps live in bpffs pins, so
//! counting goes on while no ebrun runs, and any ebrun process reads the counters.
//!
//! Meters (kernel side in `ebpf/ebrun-ebpf`, one file per probe):
//! - execs: `sched_process_exec`;
//! - cpu: on-CPU time from `sched_switch`, run-queue latency from `sched_wakeup(_new)` to
//!   `sched_switch`; CPU usage and throttling from the cgroup files alongside;
//! - memory: PSI from the cgroup2 dir, memcg and direct reclaim from the vmscan tracepoints;
//! - oom: `mark_victim`, counted and kept as events ([`oom_events_since`]);
//! - traffic: cgroup_skb ingress/egress per service port, attached per container.
//!
//! Lifecycle: [`ensure_loaded`] once per instance; at container start [`register_cgroup`] and
//! [`attach_cgroup_programs`]; at exit the links go (journal), at `rm` [`forget_cgroup`]
//! drops every map entry of the container; [`unload`] removes the whole instance.

mod btf;
mod cgroup_files;
mod devices;
mod exec_counter;
mod kernel_info;
mod loader;
mod logs;
mod oom;
mod pins;
mod reclaim;
mod sched;
mod snapshot;
mod traffic;

pub use cgroup_files::{cgroup_cpu, parse_psi, pressure, CgroupCpu, Pressure, Psi};
pub use exec_counter::exec_count;
pub use loader::{ensure_loaded, unload};
pub use logs::forward_logs;
pub use oom::{last_kill_times, oom_events_since, oom_kills_of, OomKill, OomMeters};
pub use reclaim::ReclaimMeters;
pub use sched::{read_all as all_cpu_meters, CpuMeters};
pub use snapshot::{snapshot, ContainerMeters};
pub use traffic::{series_from as traffic_series_from, TrafficSeries, MAX_PORTS_ENV};

use std::path::Path;

use crate::undo::{HostChange, Journal};

/// The BPF object built from `ebpf/ebrun-ebpf` by build.rs.
pub(crate) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ebrun.bpf.o"));

/// Errors of the bpf module.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("mount bpffs at /sys/fs/bpf: {0}")]
    MountBpffs(#[source] nix::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("load the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("link of {name}: {message}")]
    Link { name: &'static str, message: String },
    #[error("pin {path}: {source}")]
    Pin {
        path: std::path::PathBuf,
        #[source]
        source: aya::pin::PinError,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("map {name}: all {entries} entries are taken")]
    Full { name: &'static str, entries: u32 },
    #[error("kernel BTF {0}")]
    Btf(String),
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    #[error("state lock: {0}")]
    State(#[from] crate::state::StateError),
}

/// A per-meter step on one container's cgroup2 id (register or forget).
type CgroupStep = fn(&Path, u64) -> Result<(), BpfError>;

/// Whether this build's programs are loaded and pinned under `pin_dir`.
pub fn loaded(pin_dir: &Path) -> bool {
    pins::ready_marker(pin_dir).exists()
}

/// Registers a container's cgroup2 id with every loaded meter so the programs start counting
/// for it. A meter that cannot take the container (e.g. a full map) is skipped with a
/// warning; the error is returned only if no meter took it.
pub fn register_cgroup(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let steps: [(&str, CgroupStep); 5] = [
        (loader::EXECS.name, exec_counter::register),
        (loader::CPU.name, sched::register),
        (loader::RECLAIM.name, reclaim::register),
        (loader::OOM.name, oom::register),
        (loader::TRAFFIC.name, traffic::register),
    ];
    let mut first_error = None;
    let mut registered = 0;
    for (meter, register) in steps {
        match register(pin_dir, cgroup_id) {
            Ok(()) => registered += 1,
            Err(e) => {
                tracing::warn!(meter, cgroup_id, error = %e, "eBPF meter cannot count this container");
                first_error.get_or_insert(e);
            }
        }
    }
    // The programs' log records are drained by `serve` and `inspect`, not on the run path
    // (finding the log map walks every loaded program).
    match first_error {
        Some(e) if registered == 0 => Err(e),
        _ => Ok(()),
    }
}

/// Attaches the per-container programs (traffic) to the container's cgroup2 dir, recording
/// each pinned link in `journal` ([`HostChange::BpfLink`]: removed when the run ends, with
/// the cgroup). A failure loses only the traffic meter, with a warning.
pub fn attach_cgroup_programs(
    pin_dir: &Path,
    cgroup_dir: &Path,
    cgroup_id: u64,
    journal: &mut Journal,
) {
    if !loader::meter_loaded(pin_dir, &loader::TRAFFIC) {
        return;
    }
    match traffic::attach(pin_dir, cgroup_dir, cgroup_id) {
        Ok(pins) => {
            for path in pins {
                journal.record(HostChange::BpfLink { path });
            }
        }
        Err(e) => tracing::warn!(error = %e, "traffic meter unavailable for this container"),
    }
}

/// Attaches the device allowlist (Docker's default device rules) to the container's cgroup2
/// dir, for as long as the cgroup exists. Fails if the program is not loaded: the caller
/// decides whether the container may run without it.
pub fn restrict_devices(pin_dir: &Path, cgroup_dir: &Path) -> Result<(), BpfError> {
    if !loader::meter_loaded(pin_dir, &loader::DEVICES) {
        return Err(BpfError::Missing(
            ebrun_common::devices::DEVICE_ALLOWLIST_PROG,
        ));
    }
    devices::attach(pin_dir, cgroup_dir)
}

/// Detaches a pinned per-container link (undo of [`HostChange::BpfLink`]).
pub fn detach_link(pin: &Path) -> Result<(), BpfError> {
    traffic::detach(pin)
}

/// Removes a container's entries from every map, and any link of it still pinned. Missing
/// entries or pins are not an error.
pub fn forget_cgroup(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let mut result = Ok(());
    let steps: [CgroupStep; 5] = [
        traffic::forget,
        oom::forget,
        reclaim::forget,
        sched::forget,
        exec_counter::forget,
    ];
    for forget in steps {
        if let Err(e) = forget(pin_dir, cgroup_id) {
            tracing::warn!(cgroup_id, error = %e, "could not drop a meter's entries");
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result
}
