//! The exec counter: `execve` calls per container cgroup (the first probe, proving the
//! toolchain -> object -> loader -> map read path).

use std::path::Path;

use aya::maps::{Map, MapData, PerCpuHashMap};
use ebrun_common::EXEC_COUNT_MAP;

use super::pins::{ignore_missing, map_err, open_map, per_cpu_default};
use super::BpfError;

fn open(pin_dir: &Path) -> Result<Option<PerCpuHashMap<MapData, u64, u64>>, BpfError> {
    let Some(data) = open_map(pin_dir, EXEC_COUNT_MAP)? else {
        return Ok(None);
    };
    PerCpuHashMap::try_from(Map::PerCpuHashMap(data))
        .map(Some)
        .map_err(map_err(EXEC_COUNT_MAP))
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Ok(());
    };
    map.insert(cgroup_id, per_cpu_default::<u64>(EXEC_COUNT_MAP)?, 0)
        .map_err(map_err(EXEC_COUNT_MAP))
}

pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Ok(());
    };
    ignore_missing(map.remove(&cgroup_id)).map_err(map_err(EXEC_COUNT_MAP))
}

/// Execs counted for a cgroup, summed over CPUs; `None` if the cgroup is not registered.
pub fn exec_count(pin_dir: &Path, cgroup_id: u64) -> Result<Option<u64>, BpfError> {
    let Some(map) = open(pin_dir)? else {
        return Ok(None);
    };
    match map.get(&cgroup_id, 0) {
        Ok(values) => Ok(Some(values.iter().sum())),
        Err(aya::maps::MapError::KeyNotFound) => Ok(None),
        Err(source) => Err(BpfError::Map {
            name: EXEC_COUNT_MAP,
            source,
        }),
    }
}
