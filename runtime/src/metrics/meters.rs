//! Reading every container's eBPF meters in one pass over each pinned map.
//!
//! [`crate::bpf::snapshot`] reads one container: it opens the maps and walks the traffic map
//! for that container alone, which is right for `inspect` but would walk the map once per
//! container in a scrape. Here each map is opened and walked once per scrape, and the result
//! is the same [`ContainerMeters`] per container (the serve tests compare the two), except
//! that the OOM kills' details are left out: the exporter reports their count, and the
//! details go to the events journal.

use std::collections::HashMap;
use std::path::Path;

use aya::maps::{HashMap as BpfHashMap, Map, MapData, PerCpuHashMap};

use super::batch;
use ebrun_common::reclaim::{ReclaimStats, RECLAIM_MAP};
use ebrun_common::traffic::{TrafficCounters, TrafficKey, TRAFFIC_MAP};
use ebrun_common::{oom::OOM_KILLS_MAP, EXEC_COUNT_MAP};

use crate::bpf::{
    CgroupCpu, ContainerMeters, CpuMeters, OomMeters, Pressure, ReclaimMeters, TrafficSeries,
};
use crate::cgroups::ContainerCgroups;

/// The maps of one instance, read once.
#[derive(Default)]
pub struct MeterTables {
    execs: Option<HashMap<u64, u64>>,
    cpu: Option<HashMap<u64, CpuMeters>>,
    reclaim: Option<HashMap<u64, ReclaimMeters>>,
    oom_kills: Option<HashMap<u64, u64>>,
    traffic: Option<HashMap<u64, Vec<(TrafficKey, TrafficSeries)>>>,
    /// When each container's last OOM kill still in the event ring happened (read only when
    /// some container has kills).
    last_oom: HashMap<u64, f64>,
}

fn open(pin_dir: &Path, name: &str) -> Option<MapData> {
    let path = pin_dir.join("maps").join(name);
    if !path.exists() {
        return None;
    }
    MapData::from_pin(&path)
        .inspect_err(|e| tracing::debug!(map = name, error = %e, "pinned map unreadable"))
        .ok()
}

/// Possible CPUs (the length of a per-CPU value).
fn cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1)
}

/// Every entry of a per-CPU hash map: in batches, else key by key.
fn per_cpu_entries<K: aya::Pod, V: aya::Pod>(
    pin_dir: &Path,
    name: &str,
) -> Option<Vec<(K, Vec<V>)>> {
    let data = open(pin_dir, name)?;
    if let Some(all) = batch::per_cpu_entries(&data, cpus()) {
        return Some(all);
    }
    let map: PerCpuHashMap<MapData, K, V> =
        PerCpuHashMap::try_from(Map::PerCpuHashMap(data)).ok()?;
    Some(
        map.iter()
            .filter_map(Result::ok)
            .map(|(k, v)| (k, v.iter().copied().collect()))
            .collect(),
    )
}

/// Sums of a per-CPU hash map `u64 -> V`, folded per key.
fn per_cpu_sums<V: aya::Pod, S: Default>(
    pin_dir: &Path,
    name: &str,
    fold: impl Fn(&mut S, &V),
) -> Option<HashMap<u64, S>> {
    let mut out = HashMap::new();
    for (key, values) in per_cpu_entries::<u64, V>(pin_dir, name)? {
        let mut sum = S::default();
        for v in &values {
            fold(&mut sum, v);
        }
        out.insert(key, sum);
    }
    Some(out)
}

fn hash<V: aya::Pod>(pin_dir: &Path, name: &str) -> Option<HashMap<u64, V>> {
    let data = open(pin_dir, name)?;
    if let Some(all) = batch::entries::<u64, V>(&data) {
        return Some(all.into_iter().collect());
    }
    let map: BpfHashMap<MapData, u64, V> = BpfHashMap::try_from(Map::HashMap(data)).ok()?;
    Some(map.iter().filter_map(Result::ok).collect())
}

fn traffic(pin_dir: &Path) -> Option<HashMap<u64, Vec<(TrafficKey, TrafficSeries)>>> {
    let mut out: HashMap<u64, Vec<(TrafficKey, TrafficSeries)>> = HashMap::new();
    for (k, per_cpu) in per_cpu_entries::<TrafficKey, TrafficCounters>(pin_dir, TRAFFIC_MAP)? {
        out.entry(k.cgroup_id)
            .or_default()
            .push((k, crate::bpf::traffic_series_from(&k, &per_cpu)));
    }
    for series in out.values_mut() {
        series.sort_by_key(|(k, _)| (k.direction, k.proto, k.overflow, k.port));
    }
    Some(out)
}

impl MeterTables {
    /// Reads every loaded meter's maps under `pin_dir`. A map that cannot be read leaves its
    /// meter `None` for every container. (The programs' log records are forwarded by
    /// `serve`'s background loop, not on the scrape path.)
    pub fn read(pin_dir: &Path) -> Self {
        if !crate::bpf::loaded(pin_dir) {
            return MeterTables::default();
        }
        let oom_kills: Option<HashMap<u64, u64>> = hash(pin_dir, OOM_KILLS_MAP);
        let last_oom = if oom_kills
            .as_ref()
            .is_some_and(|k| k.values().any(|n| *n > 0))
        {
            crate::bpf::last_kill_times(pin_dir)
        } else {
            HashMap::new()
        };
        MeterTables {
            last_oom,
            execs: per_cpu_sums::<u64, u64>(pin_dir, EXEC_COUNT_MAP, |s, v| *s += *v),
            cpu: crate::bpf::all_cpu_meters(pin_dir)
                .inspect_err(|e| tracing::debug!(error = %e, "CPU meter unreadable"))
                .ok()
                .flatten(),
            reclaim: per_cpu_sums::<ReclaimStats, ReclaimMeters>(pin_dir, RECLAIM_MAP, |m, s| {
                m.memcg_reclaims += s.memcg_count;
                m.memcg_reclaim_ns += s.memcg_ns;
                m.memcg_reclaimed_pages += s.memcg_pages;
                m.direct_reclaims += s.direct_count;
                m.direct_reclaim_ns += s.direct_ns;
                m.direct_reclaimed_pages += s.direct_pages;
            }),
            oom_kills,
            traffic: traffic(pin_dir),
        }
    }

    /// Whether the OOM meter was read.
    pub fn has_oom(&self) -> bool {
        self.oom_kills.is_some()
    }

    /// When the last OOM kill of cgroup `id` still in the ring happened, Unix seconds.
    pub fn last_oom(&self, id: u64) -> Option<f64> {
        self.last_oom.get(&id).copied()
    }

    /// The meters of the container whose cgroups are `cgroups`, as
    /// [`crate::bpf::snapshot`] reports them, with the cgroup-file meters the caller read.
    pub fn meters(
        &self,
        cgroups: &ContainerCgroups,
        cgroup_cpu: Option<CgroupCpu>,
        pressure: Option<Pressure>,
    ) -> ContainerMeters {
        let id = cgroups.cgroup_id;
        let mut m = ContainerMeters {
            cgroup_id: id,
            cgroup_cpu,
            pressure,
            ..ContainerMeters::default()
        };
        if id == 0 {
            return m;
        }
        m.execs = self.execs.as_ref().and_then(|t| t.get(&id).copied());
        m.cpu = self.cpu.as_ref().and_then(|t| t.get(&id)).cloned();
        m.reclaim = self.reclaim.as_ref().and_then(|t| t.get(&id)).cloned();
        m.oom = self
            .oom_kills
            .as_ref()
            .and_then(|t| t.get(&id))
            .map(|&kills| OomMeters {
                kills,
                events: Vec::new(),
            });
        m.traffic = self
            .traffic
            .as_ref()
            .and_then(|t| t.get(&id))
            .map(|series| series.iter().map(|(_, s)| s.clone()).collect());
        m
    }
}
