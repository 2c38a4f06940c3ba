//! Loads the embedded object once per instance, attaches the host-wide tracepoint programs and
//! pins programs, links and maps (layout in [`super::pins`]).
//!
//! Each meter loads on its own: a kernel without one of its hooks (an older kernel, a missing
//! tracepoint, no BTF) loses only that meter, with one warning at load time; its maps are then
//! not pinned, so registration and snapshots skip it.

use std::path::Path;

use aya::programs::{links::FdLink, BtfTracePoint, CgroupDevice, CgroupSkb, RawTracePoint};
use aya::{Btf as AyaBtf, Ebpf, EbpfLoader};
use ebrun_common::{devices, oom, reclaim, sched, traffic};
use ebrun_common::{EXEC_COUNT_MAP, EXEC_COUNT_PROG, EXEC_COUNT_TRACEPOINT};
use nix::mount::{mount, MsFlags};
use nix::sys::statfs::{statfs, FsType};

use super::btf::Btf;
use super::pins::{link_pin, map_pin, prog_pin, ready_marker};
use super::{kernel_info, BpfError, OBJECT};
use crate::state::StateLock;

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: FsType = FsType(0xcafe_4a11);
const BPFFS: &str = "/sys/fs/bpf";
/// aya-log's ring buffer of the programs' log records.
pub(super) const LOG_MAP: &str = "AYA_LOGS";

/// How a program is hooked up.
#[derive(Debug, Clone, Copy)]
enum Hook {
    /// Attached host-wide once, at load.
    RawTracepoint(&'static str),
    /// A BTF tracepoint (tp_btf: typed arguments, direct reads of kernel structs), attached
    /// host-wide once, at load. Needs the kernel's BTF.
    BtfTracepoint(&'static str),
    /// Loaded and pinned; attached per container at start.
    CgroupSkb,
    /// A device filter: loaded and pinned; attached per container at start.
    CgroupDevice,
}

/// A meter: programs that work together and the maps they fill.
pub(super) struct Meter {
    pub name: &'static str,
    programs: &'static [(&'static str, Hook)],
    maps: &'static [&'static str],
}

pub(super) const EXECS: Meter = Meter {
    name: "execs",
    programs: &[(EXEC_COUNT_PROG, Hook::RawTracepoint(EXEC_COUNT_TRACEPOINT))],
    maps: &[EXEC_COUNT_MAP],
};

pub(super) const CPU: Meter = Meter {
    name: "cpu",
    programs: &[(
        sched::SCHED_SWITCH_PROG,
        Hook::BtfTracepoint(sched::SCHED_SWITCH_TRACEPOINT),
    )],
    maps: &[
        sched::CPU_CGROUPS_MAP,
        sched::CPU_TIME_MAP,
        sched::CPU_SLOT_OWNERS_MAP,
        sched::CPU_CGROUPS_GEN_MAP,
        sched::LAST_SWITCH_MAP,
    ],
};

pub(super) const RECLAIM: Meter = Meter {
    name: "reclaim",
    programs: &[
        (
            reclaim::MEMCG_RECLAIM_BEGIN_PROG,
            Hook::RawTracepoint("mm_vmscan_memcg_reclaim_begin"),
        ),
        (
            reclaim::MEMCG_RECLAIM_END_PROG,
            Hook::RawTracepoint("mm_vmscan_memcg_reclaim_end"),
        ),
        (
            reclaim::DIRECT_RECLAIM_BEGIN_PROG,
            Hook::RawTracepoint("mm_vmscan_direct_reclaim_begin"),
        ),
        (
            reclaim::DIRECT_RECLAIM_END_PROG,
            Hook::RawTracepoint("mm_vmscan_direct_reclaim_end"),
        ),
    ],
    maps: &[reclaim::RECLAIM_MAP, reclaim::RECLAIM_START_MAP],
};

pub(super) const OOM: Meter = Meter {
    name: "oom",
    programs: &[(
        oom::OOM_VICTIM_PROG,
        Hook::RawTracepoint(oom::OOM_TRACEPOINT),
    )],
    maps: &[oom::OOM_KILLS_MAP, oom::OOM_EVENTS_MAP, oom::OOM_SEQ_MAP],
};

pub(super) const TRAFFIC: Meter = Meter {
    name: "traffic",
    programs: &[
        (traffic::TRAFFIC_INGRESS_PROG, Hook::CgroupSkb),
        (traffic::TRAFFIC_EGRESS_PROG, Hook::CgroupSkb),
    ],
    maps: &[
        traffic::TRAFFIC_MAP,
        traffic::TRAFFIC_CONF_MAP,
        traffic::PORT_CLAIMS_MAP,
        traffic::LISTEN_PORTS_MAP,
    ],
};

/// Not a meter: the device allowlist of containers on hosts without a v1 devices
/// controller. It has no maps; loaded means its program is pinned.
pub(super) const DEVICES: Meter = Meter {
    name: "devices",
    programs: &[(devices::DEVICE_ALLOWLIST_PROG, Hook::CgroupDevice)],
    maps: &[],
};

const METERS: [&Meter; 6] = [&EXECS, &CPU, &RECLAIM, &OOM, &TRAFFIC, &DEVICES];

/// Makes sure the programs are loaded, attached and pinned under `pin_dir`. The first caller
/// (under `lock_path`) loads; later callers find the pins and return at once.
pub fn ensure_loaded(pin_dir: &Path, lock_path: &Path) -> Result<(), BpfError> {
    let done = ready_marker(pin_dir);
    if done.exists() {
        return Ok(());
    }
    let _lock = StateLock::exclusive(lock_path)?;
    if done.exists() {
        return Ok(());
    }
    mount_bpffs()?;
    // A half-made pin dir from a killed loader: start over.
    let _ = std::fs::remove_dir_all(pin_dir);
    for sub in ["maps", "links", "progs"] {
        let dir = pin_dir.join(sub);
        std::fs::create_dir_all(&dir).map_err(|source| BpfError::Io {
            op: "create",
            path: dir,
            source,
        })?;
    }
    let result = load_and_pin(pin_dir).and_then(|()| {
        // Made last: its presence means "fully loaded".
        std::fs::create_dir(&done).map_err(|source| BpfError::Io {
            op: "create",
            path: done.clone(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(pin_dir);
    }
    result
}

fn load_and_pin(pin_dir: &Path) -> Result<(), BpfError> {
    let btf = Btf::vmlinux()
        .inspect_err(|e| tracing::debug!(error = %e, "no kernel BTF"))
        .ok();
    // aya's own parse of the same BTF, to attach tp_btf programs.
    let aya_btf = btf.as_ref().and_then(|_| {
        AyaBtf::from_sys_fs()
            .inspect_err(|e| tracing::debug!(error = %e, "kernel BTF unreadable for aya"))
            .ok()
    });
    let sched_kernel = kernel_info::sched_kernel(btf.as_ref());
    let oom_kernel = kernel_info::oom_kernel(btf.as_ref());
    let sched_globals = sched_kernel.clone().unwrap_or_default();
    let oom_globals = oom_kernel.clone().unwrap_or_default();
    let cpus = aya::util::nr_cpus().unwrap_or(1);
    let cpu_slots = per_cpu_entries(
        std::mem::size_of::<sched::CpuTime>(),
        64 << 20,
        ebrun_common::MAX_CGROUPS,
        cpus,
    );
    let traffic_series = per_cpu_entries(
        std::mem::size_of::<traffic::TrafficCounters>(),
        64 << 20,
        traffic::MAX_TRAFFIC_SERIES,
        cpus,
    );
    let reclaim_entries = per_cpu_entries(
        std::mem::size_of::<reclaim::ReclaimStats>(),
        16 << 20,
        ebrun_common::MAX_CGROUPS,
        cpus,
    );
    let exec_entries = per_cpu_entries(8, 8 << 20, ebrun_common::MAX_CGROUPS, cpus);
    let mut ebpf = EbpfLoader::new()
        .map_max_entries(sched::CPU_TIME_MAP, cpu_slots)
        .map_max_entries(sched::CPU_SLOT_OWNERS_MAP, cpu_slots)
        .map_max_entries(traffic::TRAFFIC_MAP, traffic_series)
        .map_max_entries(reclaim::RECLAIM_MAP, reclaim_entries)
        .map_max_entries(EXEC_COUNT_MAP, exec_entries)
        .override_global(sched::SCHED_KERNEL_GLOBAL, &sched_globals, true)
        .override_global(oom::OOM_KERNEL_GLOBAL, &oom_globals, true)
        .load(OBJECT)?;
    let mut loaded = Vec::new();
    for meter in METERS {
        let unusable = match meter.name {
            n if n == OOM.name => oom_kernel.as_ref().err(),
            n if n == CPU.name => sched_kernel.as_ref().err(),
            _ => None,
        };
        if let Some(why) = unusable {
            tracing::warn!(meter = meter.name, reason = %why, "eBPF meter unavailable on this kernel; everything else works");
            continue;
        }
        match load_meter(&mut ebpf, aya_btf.as_ref(), pin_dir, meter) {
            Ok(()) => loaded.push(meter.name),
            Err(e) => {
                tracing::warn!(meter = meter.name, error = %e, "eBPF meter unavailable on this kernel; everything else works")
            }
        }
    }
    if let Some(map) = ebpf.map(LOG_MAP) {
        let path = map_pin(pin_dir, LOG_MAP);
        map.pin(&path)
            .map_err(|source| BpfError::Pin { path, source })?;
    }
    tracing::info!(pin_dir = %pin_dir.display(), meters = ?loaded, "eBPF programs loaded and pinned");
    Ok(())
}

/// Entries of a per-CPU map whose values take `value_size` bytes on each possible CPU (the
/// kernel preallocates them all): as many as `budget` bytes hold on this host, at most
/// `max`, at least 256. On a few CPUs this is `max`; on a large host it keeps each map's
/// kernel memory bounded (a full map loses only that meter for further containers, with a
/// warning).
fn per_cpu_entries(value_size: usize, budget: usize, max: u32, cpus: usize) -> u32 {
    let entries = budget / (value_size.div_ceil(8) * 8 * cpus.max(1));
    entries.clamp(256, max as usize) as u32
}

/// Loads and hooks up one meter's programs, then pins its programs, links and maps.
fn load_meter(
    ebpf: &mut Ebpf,
    btf: Option<&AyaBtf>,
    pin_dir: &Path,
    meter: &Meter,
) -> Result<(), BpfError> {
    let mut links: Vec<(&'static str, FdLink)> = Vec::new();
    for &(name, hook) in meter.programs {
        let program = ebpf.program_mut(name).ok_or(BpfError::Missing(name))?;
        let prog_err = |source| BpfError::Program { name, source };
        match hook {
            Hook::RawTracepoint(tp) => {
                let program: &mut RawTracePoint = program.try_into().map_err(prog_err)?;
                program.load().map_err(prog_err)?;
                let link_id = program.attach(tp).map_err(prog_err)?;
                links.push((name, program.take_link(link_id).map_err(prog_err)?.into()));
            }
            Hook::BtfTracepoint(tp) => {
                let btf = btf.ok_or(BpfError::Btf(format!(
                    "{}: unreadable, needed by {name}",
                    super::btf::VMLINUX_BTF
                )))?;
                let program: &mut BtfTracePoint = program.try_into().map_err(prog_err)?;
                program.load(tp, btf).map_err(prog_err)?;
                let link_id = program.attach().map_err(prog_err)?;
                links.push((name, program.take_link(link_id).map_err(prog_err)?.into()));
            }
            Hook::CgroupSkb => {
                let program: &mut CgroupSkb = program.try_into().map_err(prog_err)?;
                program.load().map_err(prog_err)?;
            }
            Hook::CgroupDevice => {
                let program: &mut CgroupDevice = program.try_into().map_err(prog_err)?;
                program.load().map_err(prog_err)?;
            }
        }
    }
    for &(name, hook) in meter.programs {
        if let Hook::CgroupSkb | Hook::CgroupDevice = hook {
            let program = ebpf.program_mut(name).ok_or(BpfError::Missing(name))?;
            let path = prog_pin(pin_dir, name);
            program
                .pin(&path)
                .map_err(|source| BpfError::Pin { path, source })?;
        }
    }
    for (name, link) in links {
        let path = link_pin(pin_dir, name);
        link.pin(&path)
            .map_err(|source| BpfError::Pin { path, source })?;
    }
    // Maps last: a meter counts as loaded once its first map is pinned.
    for &name in meter.maps {
        let map = ebpf.map(name).ok_or(BpfError::Missing(name))?;
        let path = map_pin(pin_dir, name);
        map.pin(&path)
            .map_err(|source| BpfError::Pin { path, source })?;
    }
    Ok(())
}

/// Whether `meter` loaded in the instance pinned at `pin_dir` (its first map is pinned; for
/// one without maps, its first program).
pub(super) fn meter_loaded(pin_dir: &Path, meter: &Meter) -> bool {
    match meter.maps.first() {
        Some(m) => map_pin(pin_dir, m).exists(),
        None => meter
            .programs
            .first()
            .is_some_and(|(p, _)| prog_pin(pin_dir, p).exists()),
    }
}

/// Removes every pin of the instance: links detach and maps go once no one holds them.
pub fn unload(pin_dir: &Path) -> Result<(), BpfError> {
    match std::fs::remove_dir_all(pin_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BpfError::Io {
            op: "remove",
            path: pin_dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn mount_bpffs() -> Result<(), BpfError> {
    if matches!(statfs(BPFFS), Ok(s) if s.filesystem_type() == BPF_FS_MAGIC) {
        return Ok(());
    }
    mount(
        Some("bpf"),
        BPFFS,
        Some("bpf"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(BpfError::MountBpffs)
}

#[cfg(test)]
mod tests {
    use super::per_cpu_entries;

    #[test]
    fn per_cpu_maps_fit_their_budget_on_large_hosts() {
        // The CPU meter's 288-byte values: every slot on 2 CPUs, 3640 on 64 (64 MiB).
        assert_eq!(per_cpu_entries(288, 64 << 20, 16384, 2), 16384);
        assert_eq!(per_cpu_entries(288, 64 << 20, 16384, 64), 3640);
        // Values are rounded up to 8 bytes, and a huge host still gets 256 entries.
        assert_eq!(per_cpu_entries(4, 1 << 20, 16384, 8), 16384);
        assert_eq!(per_cpu_entries(288, 64 << 20, 16384, 100_000), 256);
    }
}
