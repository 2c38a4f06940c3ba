//! The reclaim meter's map: memcg and direct reclaim per container.

use std::path::Path;

use aya::maps::{Map, MapData, PerCpuHashMap};
use ebrun_common::reclaim::{ReclaimStats, RECLAIM_MAP};
use serde::Serialize;

use super::pins::{ignore_missing, map_err, open_map, per_cpu_default};
use super::BpfError;

/// Memory reclaim a container's tasks had to do, from the vmscan tracepoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReclaimMeters {
    /// Reclaims because the container was at its memory limit.
    pub memcg_reclaims: u64,
    pub memcg_reclaim_ns: u64,
    pub memcg_reclaimed_pages: u64,
    /// Global direct reclaims (the host short of memory) done by the container's tasks.
    pub direct_reclaims: u64,
    pub direct_reclaim_ns: u64,
    pub direct_reclaimed_pages: u64,
}

fn open(pin_dir: &Path) -> Result<Option<PerCpuHashMap<MapData, u64, ReclaimStats>>, BpfError> {
    let Some(data) = open_map(pin_dir, RECLAIM_MAP)? else {
        return Ok(None);
    };
    PerCpuHashMap::try_from(Map::PerCpuHashMap(data))
        .map(Some)
        .map_err(map_err(RECLAIM_MAP))
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Ok(());
    };
    map.insert(cgroup_id, per_cpu_default::<ReclaimStats>(RECLAIM_MAP)?, 0)
        .map_err(map_err(RECLAIM_MAP))
}

pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Ok(());
    };
    ignore_missing(map.remove(&cgroup_id)).map_err(map_err(RECLAIM_MAP))
}

pub(super) fn read(pin_dir: &Path, cgroup_id: u64) -> Result<Option<ReclaimMeters>, BpfError> {
    let Some(map) = open(pin_dir)? else {
        return Ok(None);
    };
    let per_cpu = match map.get(&cgroup_id, 0) {
        Ok(v) => v,
        Err(aya::maps::MapError::KeyNotFound) => return Ok(None),
        Err(e) => return Err(map_err(RECLAIM_MAP)(e)),
    };
    Ok(Some(per_cpu.iter().fold(
        ReclaimMeters::default(),
        |mut m, s| {
            m.memcg_reclaims += s.memcg_count;
            m.memcg_reclaim_ns += s.memcg_ns;
            m.memcg_reclaimed_pages += s.memcg_pages;
            m.direct_reclaims += s.direct_count;
            m.direct_reclaim_ns += s.direct_ns;
            m.direct_reclaimed_pages += s.direct_pages;
            m
        },
    )))
}
