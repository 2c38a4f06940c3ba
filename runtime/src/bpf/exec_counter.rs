//! The exec counter: `execve` calls per container cgroup (the first probe, proving the
//! toolchain -> object -> loader -> map read path).

use std::path::Path;

use aya::maps::{Map, MapData, PerCpuHashMap, PerCpuValues};
use ebrun_common::EXEC_COUNT_MAP;

use super::loader::map_pin;
use super::BpfError;

fn open(pin_dir: &Path) -> Result<Option<PerCpuHashMap<MapData, u64, u64>>, BpfError> {
    let path = map_pin(pin_dir, EXEC_COUNT_MAP);
    if !path.exists() {
        return Ok(None);
    }
    let map_err = |source| BpfError::Map {
        name: EXEC_COUNT_MAP,
        source,
    };
    let data = MapData::from_pin(&path).map_err(map_err)?;
    PerCpuHashMap::try_from(Map::PerCpuHashMap(data))
        .map(Some)
        .map_err(map_err)
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Err(BpfError::Missing(EXEC_COUNT_MAP));
    };
    let cpus = aya::util::nr_cpus().map_err(|(op, source)| BpfError::Io {
        op,
        path: "/sys/devices/system/cpu/possible".into(),
        source,
    })?;
    let zeros = PerCpuValues::try_from(vec![0u64; cpus]).map_err(|source| BpfError::Io {
        op: "per-cpu values",
        path: map_pin(pin_dir, EXEC_COUNT_MAP),
        source,
    })?;
    map.insert(cgroup_id, zeros, 0)
        .map_err(|source| BpfError::Map {
            name: EXEC_COUNT_MAP,
            source,
        })
}

pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = open(pin_dir)? else {
        return Ok(());
    };
    match map.remove(&cgroup_id) {
        Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(source) => Err(BpfError::Map {
            name: EXEC_COUNT_MAP,
            source,
        }),
    }
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
