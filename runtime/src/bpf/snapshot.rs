//! The typed snapshot of one container's meters: what `inspect` shows and what the `serve`
//! exporter exposes. Reading takes no lock and changes nothing (apart from forwarding the
//! programs' pending log records), so any number of readers may run, and a reader that
//! restarts continues every counter where it was: the counters live in pinned maps.

use std::path::Path;

use serde::Serialize;

use super::cgroup_files::{self, CgroupCpu, Pressure};
use super::oom::OomMeters;
use super::reclaim::ReclaimMeters;
use super::sched::CpuMeters;
use super::traffic::TrafficSeries;
use super::{exec_counter, logs, oom, reclaim, sched, traffic, BpfError};
use crate::cgroups::ContainerCgroups;

/// Everything metered for one container. A field is `None` when its meter is unavailable
/// (not loaded on this kernel, or the container not registered with it), or, for the cgroup
/// file meters, when the container's cgroups are gone (it exited): BPF counters stay readable
/// until `rm`, cgroup files only while it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerMeters {
    /// The cgroup2 id keying the container's BPF map entries.
    pub cgroup_id: u64,
    /// `execve` calls in the container.
    pub execs: Option<u64>,
    /// On-CPU time and run-queue latency (sched tracepoints).
    pub cpu: Option<CpuMeters>,
    /// CPU usage and CFS throttling (cgroup files).
    pub cgroup_cpu: Option<CgroupCpu>,
    /// PSI stall totals (cgroup2 files).
    pub pressure: Option<Pressure>,
    /// memcg and direct reclaim (vmscan tracepoints).
    pub reclaim: Option<ReclaimMeters>,
    /// OOM kills and their events.
    pub oom: Option<OomMeters>,
    /// Traffic per direction, protocol and service port (cgroup_skb).
    pub traffic: Option<Vec<TrafficSeries>>,
}

/// Reads every meter of the container whose cgroups are `cgroups`, from the instance pinned at
/// `pin_dir` (`Paths::bpffs_dir`). A meter that cannot be read is `None` (logged at debug).
pub fn snapshot(pin_dir: &Path, cgroups: &ContainerCgroups) -> ContainerMeters {
    let id = cgroups.cgroup_id;
    let mut meters = ContainerMeters {
        cgroup_id: id,
        cgroup_cpu: cgroup_files::cgroup_cpu(cgroups),
        pressure: cgroup_files::pressure(cgroups),
        ..ContainerMeters::default()
    };
    if id == 0 {
        return meters;
    }
    meters.execs = ok(exec_counter::exec_count(pin_dir, id));
    meters.cpu = ok(sched::read(pin_dir, id));
    meters.reclaim = ok(reclaim::read(pin_dir, id));
    meters.oom = ok(oom::read(pin_dir, id));
    meters.traffic = ok(traffic::read(pin_dir, id));
    logs::forward_logs(pin_dir);
    meters
}

fn ok<T>(r: Result<Option<T>, BpfError>) -> Option<T> {
    r.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "meter unreadable");
        None
    })
}
