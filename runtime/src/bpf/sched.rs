//! The CPU meter's maps: on-CPU time and run-queue latency per container.

use std::path::Path;

use aya::maps::{Map, MapData, PerCpuArray, PerCpuHashMap};
use ebrun_common::sched::{
    CpuTime, RunningSlice, RunqLatency, CPU_TIME_MAP, LAST_SWITCH_MAP, RUNQ_BUCKETS,
};
use serde::Serialize;

use super::pins::{ignore_missing, map_err, open_map, per_cpu_default};
use super::BpfError;

/// A container's CPU time and scheduling latency, from the scheduler tracepoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CpuMeters {
    /// Nanoseconds its tasks spent on a CPU, including the slices running right now.
    pub on_cpu_ns: u64,
    /// Times one of its tasks left a CPU.
    pub switches: u64,
    /// Run-queue waits (wakeup or preemption to running) measured.
    pub runq_waits: u64,
    /// Their total, in nanoseconds.
    pub runq_wait_ns: u64,
    /// log2 histogram of the waits: `(upper bound in µs, count)`, non-empty buckets only.
    /// Bucket `i` holds waits in `[2^i, 2^(i+1))` µs (the first also below 1 µs); the last
    /// bucket's bound is `u64::MAX`.
    pub runq_histogram_us: Vec<(u64, u64)>,
}

fn cpu_time(pin_dir: &Path) -> Result<Option<PerCpuHashMap<MapData, u64, CpuTime>>, BpfError> {
    let Some(data) = open_map(pin_dir, CPU_TIME_MAP)? else {
        return Ok(None);
    };
    PerCpuHashMap::try_from(Map::PerCpuHashMap(data))
        .map(Some)
        .map_err(map_err(CPU_TIME_MAP))
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    if let Some(mut map) = cpu_time(pin_dir)? {
        map.insert(cgroup_id, per_cpu_default::<CpuTime>(CPU_TIME_MAP)?, 0)
            .map_err(map_err(CPU_TIME_MAP))?;
    }
    Ok(())
}

pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    if let Some(mut map) = cpu_time(pin_dir)? {
        ignore_missing(map.remove(&cgroup_id)).map_err(map_err(CPU_TIME_MAP))?;
    }
    Ok(())
}

/// The CPU meters of a cgroup; `None` if the meter is not loaded or the cgroup not registered.
pub(super) fn read(pin_dir: &Path, cgroup_id: u64) -> Result<Option<CpuMeters>, BpfError> {
    let Some(map) = cpu_time(pin_dir)? else {
        return Ok(None);
    };
    let slices = match open_map(pin_dir, LAST_SWITCH_MAP)? {
        Some(data) => Some(
            PerCpuArray::<_, RunningSlice>::try_from(Map::PerCpuArray(data))
                .map_err(map_err(LAST_SWITCH_MAP))?,
        ),
        None => None,
    };
    let running = |slices: &Option<PerCpuArray<MapData, RunningSlice>>| -> Vec<RunningSlice> {
        slices
            .as_ref()
            .and_then(|s| s.get(&0, 0).ok())
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default()
    };
    let mut meters = CpuMeters::default();
    let mut latency = RunqLatency::default();
    // The counters plus the slices in progress, read again if a CPU switched meanwhile.
    for _ in 0..3 {
        let before = running(&slices);
        let per_cpu = match map.get(&cgroup_id, 0) {
            Ok(v) => v,
            Err(aya::maps::MapError::KeyNotFound) => return Ok(None),
            Err(e) => return Err(map_err(CPU_TIME_MAP)(e)),
        };
        meters.on_cpu_ns = per_cpu.iter().map(|t| t.on_cpu_ns).sum();
        meters.switches = per_cpu.iter().map(|t| t.switches).sum();
        latency = RunqLatency::default();
        for t in per_cpu.iter() {
            latency.add(&t.runq);
        }
        meters.on_cpu_ns += before
            .iter()
            .filter(|s| s.cgroup_id == cgroup_id)
            .map(slice_in_progress_ns)
            .sum::<u64>();
        if running(&slices) == before {
            break;
        }
    }
    meters.runq_waits = latency.count;
    meters.runq_wait_ns = latency.total_ns;
    meters.runq_histogram_us = runq_histogram(&latency);
    Ok(Some(meters))
}

/// The non-empty buckets of a run-queue latency histogram as `(upper bound in µs, count)`;
/// the last bucket's bound is `u64::MAX`.
pub fn runq_histogram(latency: &RunqLatency) -> Vec<(u64, u64)> {
    latency
        .buckets
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let bound = if i + 1 == RUNQ_BUCKETS {
                u64::MAX
            } else {
                2u64 << i
            };
            (bound, *n)
        })
        .collect()
}

/// How long the task of a CPU's running slice has run since it was switched in: the growth
/// of its run time (/proc/TID/schedstat's first field, which includes the time not yet
/// accounted), the same measure the program charges at switch-out. 0 if the task is gone.
pub fn slice_in_progress_ns(slice: &RunningSlice) -> u64 {
    if slice.tid == 0 {
        return 0;
    }
    std::fs::read_to_string(format!("/proc/{}/schedstat", slice.tid))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |runtime| runtime.saturating_sub(slice.runtime_ns))
}
