//! The CPU meter's maps: on-CPU time and run-queue latency per container.

use std::path::Path;

use std::collections::HashMap;

use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData, PerCpuArray};
use ebrun_common::sched::{
    CpuTime, RunningSlice, RunqLatency, CPU_CGROUPS_GEN_MAP, CPU_CGROUPS_MAP, CPU_SLOT_OWNERS_MAP,
    CPU_TIME_MAP, LAST_SWITCH_MAP, RUNQ_BUCKETS,
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

/// The CPU meter's pinned maps; `None` if the meter is not loaded.
struct CpuMaps {
    cgroups: BpfHashMap<MapData, u64, u32>,
    time: PerCpuArray<MapData, CpuTime>,
}

impl CpuMaps {
    fn open(pin_dir: &Path) -> Result<Option<Self>, BpfError> {
        let Some(cgroups) = open_map(pin_dir, CPU_CGROUPS_MAP)? else {
            return Ok(None);
        };
        let time = open_map(pin_dir, CPU_TIME_MAP)?.ok_or(BpfError::Missing(CPU_TIME_MAP))?;
        Ok(Some(CpuMaps {
            cgroups: BpfHashMap::try_from(Map::HashMap(cgroups))
                .map_err(map_err(CPU_CGROUPS_MAP))?,
            time: PerCpuArray::try_from(Map::PerCpuArray(time)).map_err(map_err(CPU_TIME_MAP))?,
        }))
    }

    /// The slot of `cgroup_id`, if registered.
    fn slot(&self, cgroup_id: u64) -> Result<Option<u32>, BpfError> {
        match self.cgroups.get(&cgroup_id, 0) {
            Ok(slot) => Ok(Some(slot)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(CPU_CGROUPS_MAP)(e)),
        }
    }

    /// The per-CPU counters in `slot`.
    fn counters(&self, slot: u32) -> Result<Vec<CpuTime>, BpfError> {
        let values = self.time.get(&slot, 0).map_err(map_err(CPU_TIME_MAP))?;
        Ok(values.iter().copied().collect())
    }
}

/// Bumps the registrations' generation: every CPU looks up its running task's slot again
/// at its next switch. Called after each change of [`CPU_CGROUPS_MAP`]; two processes
/// bumping at once may both write the same value, which still differs from what the CPUs
/// noted before either change.
fn bump_generation(pin_dir: &Path) -> Result<(), BpfError> {
    let data =
        open_map(pin_dir, CPU_CGROUPS_GEN_MAP)?.ok_or(BpfError::Missing(CPU_CGROUPS_GEN_MAP))?;
    let mut generation: Array<MapData, u64> =
        Array::try_from(Map::Array(data)).map_err(map_err(CPU_CGROUPS_GEN_MAP))?;
    let now = generation
        .get(&0, 0)
        .map_err(map_err(CPU_CGROUPS_GEN_MAP))?;
    generation
        .set(0, now.wrapping_add(1), 0)
        .map_err(map_err(CPU_CGROUPS_GEN_MAP))
}

fn slot_owners(pin_dir: &Path) -> Result<BpfHashMap<MapData, u32, u64>, BpfError> {
    let data =
        open_map(pin_dir, CPU_SLOT_OWNERS_MAP)?.ok_or(BpfError::Missing(CPU_SLOT_OWNERS_MAP))?;
    BpfHashMap::try_from(Map::HashMap(data)).map_err(map_err(CPU_SLOT_OWNERS_MAP))
}

/// `BPF_NOEXIST` (linux/bpf.h): insert only if the key is absent.
const BPF_NOEXIST: u64 = 1;

/// Gives `cgroup_id` a slot of its own: claims a free one (an insert with BPF_NOEXIST into
/// the owners map, so concurrent registrations never share one), zeroes its counters, then
/// publishes it.
pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut maps) = CpuMaps::open(pin_dir)? else {
        return Ok(());
    };
    if maps.slot(cgroup_id)?.is_some() {
        return Ok(());
    }
    let mut owners = slot_owners(pin_dir)?;
    let slots = maps.time.len();
    // Start where the id points, so that concurrent registrations rarely collide.
    let start = (cgroup_id % u64::from(slots)) as u32;
    for k in 0..slots {
        let slot = (start + k) % slots;
        match owners.insert(slot, cgroup_id, BPF_NOEXIST) {
            Ok(()) => {}
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::EEXIST) =>
            {
                continue
            }
            Err(e) => return Err(map_err(CPU_SLOT_OWNERS_MAP)(e)),
        }
        let published = maps
            .time
            .set(slot, per_cpu_default::<CpuTime>(CPU_TIME_MAP)?, 0)
            .map_err(map_err(CPU_TIME_MAP))
            .and_then(|()| {
                maps.cgroups
                    .insert(cgroup_id, slot, 0)
                    .map_err(map_err(CPU_CGROUPS_MAP))
            })
            .and_then(|()| bump_generation(pin_dir));
        if published.is_err() {
            let _ = maps.cgroups.remove(&cgroup_id);
            let _ = owners.remove(&slot);
        }
        return published;
    }
    Err(BpfError::Full {
        name: CPU_TIME_MAP,
        entries: slots,
    })
}

/// Unregisters `cgroup_id` and frees its slot (zeroed again by the next claim).
pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut maps) = CpuMaps::open(pin_dir)? else {
        return Ok(());
    };
    let Some(slot) = maps.slot(cgroup_id)? else {
        return Ok(());
    };
    ignore_missing(maps.cgroups.remove(&cgroup_id)).map_err(map_err(CPU_CGROUPS_MAP))?;
    bump_generation(pin_dir)?;
    let mut owners = slot_owners(pin_dir)?;
    if owners.get(&slot, 0).ok() == Some(cgroup_id) {
        ignore_missing(owners.remove(&slot)).map_err(map_err(CPU_SLOT_OWNERS_MAP))?;
    }
    Ok(())
}

/// A registered cgroup's id and its per-CPU counters.
type CgroupCounters = (u64, Vec<CpuTime>);

/// Every registered cgroup's CPU meters, the slices running right now included (for a scrape
/// of all containers); `None` if the meter is not loaded.
pub fn read_all(pin_dir: &Path) -> Result<Option<HashMap<u64, CpuMeters>>, BpfError> {
    let Some(maps) = CpuMaps::open(pin_dir)? else {
        return Ok(None);
    };
    with_running_slices(pin_dir, || {
        maps.cgroups
            .iter()
            .map(|entry| {
                let (cgroup_id, slot) = entry.map_err(map_err(CPU_CGROUPS_MAP))?;
                Ok((cgroup_id, maps.counters(slot)?))
            })
            .collect()
    })
    .map(Some)
}

/// The meters of the cgroups `counters` reads, plus the slices running right now, read
/// again (up to three times) if a CPU switched meanwhile: a slice charged between the two
/// reads would otherwise count twice, or not at all.
fn with_running_slices(
    pin_dir: &Path,
    counters: impl Fn() -> Result<Vec<CgroupCounters>, BpfError>,
) -> Result<HashMap<u64, CpuMeters>, BpfError> {
    let mut meters = HashMap::new();
    for _ in 0..3 {
        let before = running_slices(pin_dir);
        meters = counters()?
            .into_iter()
            .map(|(id, per_cpu)| (id, cpu_meters_from(&per_cpu)))
            .collect();
        for slice in &before {
            if let Some(m) = meters.get_mut(&slice.cgroup_id) {
                m.on_cpu_ns += slice_in_progress_ns(slice);
            }
        }
        if running_slices(pin_dir) == before {
            break;
        }
    }
    Ok(meters)
}

/// What each CPU runs right now (its [`RunningSlice`]); empty if unreadable.
fn running_slices(pin_dir: &Path) -> Vec<RunningSlice> {
    let Ok(Some(data)) = open_map(pin_dir, LAST_SWITCH_MAP) else {
        return Vec::new();
    };
    PerCpuArray::<_, RunningSlice>::try_from(Map::PerCpuArray(data))
        .ok()
        .and_then(|s| s.get(&0, 0).ok())
        .map(|v| v.iter().copied().collect())
        .unwrap_or_default()
}

/// The CPU meters of a cgroup; `None` if the meter is not loaded or the cgroup not registered.
pub(super) fn read(pin_dir: &Path, cgroup_id: u64) -> Result<Option<CpuMeters>, BpfError> {
    let Some(maps) = CpuMaps::open(pin_dir)? else {
        return Ok(None);
    };
    let Some(slot) = maps.slot(cgroup_id)? else {
        return Ok(None);
    };
    let mut meters = with_running_slices(pin_dir, || Ok(vec![(cgroup_id, maps.counters(slot)?)]))?;
    Ok(meters.remove(&cgroup_id))
}

/// One cgroup's meters from its per-CPU counters (without the slices in progress).
fn cpu_meters_from(per_cpu: &[CpuTime]) -> CpuMeters {
    let mut latency = RunqLatency::default();
    for t in per_cpu {
        latency.add(&t.runq);
    }
    CpuMeters {
        on_cpu_ns: per_cpu.iter().map(|t| t.on_cpu_ns).sum(),
        switches: per_cpu.iter().map(|t| t.switches).sum(),
        runq_waits: latency.count,
        runq_wait_ns: latency.total_ns,
        runq_histogram_us: runq_histogram(&latency),
    }
}

/// The non-empty buckets of a run-queue latency histogram as `(upper bound in µs, count)`;
/// the last bucket's bound is `u64::MAX`.
fn runq_histogram(latency: &RunqLatency) -> Vec<(u64, u64)> {
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
fn slice_in_progress_ns(slice: &RunningSlice) -> u64 {
    if slice.tid == 0 {
        return 0;
    }
    std::fs::read_to_string(format!("/proc/{}/schedstat", slice.tid))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |runtime| runtime.saturating_sub(slice.runtime_ns))
}
