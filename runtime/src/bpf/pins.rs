//! Where an instance's BPF objects are pinned, and opening pinned maps.
//!
//! ```text
//! /sys/fs/bpf/<prefix>/maps/<MAP>                   every map of a loaded meter
//! /sys/fs/bpf/<prefix>/links/<program>              tracepoint links (attached host-wide)
//! /sys/fs/bpf/<prefix>/progs/<program>              cgroup programs, attached per container
//! /sys/fs/bpf/<prefix>/links/cg<id>-<program>       a container's cgroup links
//! /sys/fs/bpf/<prefix>/ready                        directory made last by the loader
//! ```

use std::path::{Path, PathBuf};

use aya::maps::MapData;

use super::BpfError;

/// Where a map is pinned.
pub(super) fn map_pin(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join("maps").join(name)
}

/// Where a host-wide link is pinned.
pub(super) fn link_pin(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join("links").join(name)
}

/// Where a program attached per container is pinned.
pub(super) fn prog_pin(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join("progs").join(name)
}

/// Where a container's link of `program` is pinned.
pub(super) fn cgroup_link_pin(pin_dir: &Path, cgroup_id: u64, program: &str) -> PathBuf {
    pin_dir
        .join("links")
        .join(format!("cg{cgroup_id}-{program}"))
}

/// The marker the loader makes once everything is pinned, named after this build of the
/// programs: pins made by another ebrun build (other map layouts) count as not loaded, so
/// the first command of a new build replaces them instead of reading them with the wrong
/// types.
pub(super) fn ready_marker(pin_dir: &Path) -> PathBuf {
    pin_dir.join(concat!("ready-", env!("EBRUN_BPF_OBJECT_HASH")))
}

/// The pinned map `name`, or `None` if its meter is not loaded.
pub(super) fn open_map(pin_dir: &Path, name: &'static str) -> Result<Option<MapData>, BpfError> {
    let path = map_pin(pin_dir, name);
    if !path.exists() {
        return Ok(None);
    }
    MapData::from_pin(&path)
        .map(Some)
        .map_err(|source| BpfError::Map { name, source })
}

/// The error for map `name`.
pub(super) fn map_err(name: &'static str) -> impl Fn(aya::maps::MapError) -> BpfError {
    move |source| BpfError::Map { name, source }
}

/// Possible CPUs, for per-CPU values.
pub(super) fn nr_cpus() -> Result<usize, BpfError> {
    aya::util::nr_cpus().map_err(|(op, source)| BpfError::Io {
        op,
        path: "/sys/devices/system/cpu/possible".into(),
        source,
    })
}

/// Per-CPU zeros of `T`, for registering a cgroup in a per-CPU map.
pub(super) fn per_cpu_default<T: aya::Pod + Default>(
    name: &'static str,
) -> Result<aya::maps::PerCpuValues<T>, BpfError> {
    aya::maps::PerCpuValues::try_from(vec![T::default(); nr_cpus()?]).map_err(|source| {
        BpfError::Io {
            op: "per-cpu values for",
            path: name.into(),
            source,
        }
    })
}

/// Treats "no such key" as success (forgetting what is already gone).
pub(super) fn ignore_missing(
    r: Result<(), aya::maps::MapError>,
) -> Result<(), aya::maps::MapError> {
    match r {
        Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(aya::maps::MapError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        other => other,
    }
}
