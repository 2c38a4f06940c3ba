//! Writing [`Resources`] into a container's cgroups through cgroups-rs's controllers, with
//! the v1 -> v2 conversions runc makes (cpu.shares -> cpu.weight, memory+swap -> swap.max,
//! reservation -> memory.low, blkio weight -> io.weight).
//!
//! Limits go where the controllers are: the v1 directories on legacy and hybrid hosts (the
//! hybrid host's cgroup2 directory has no controllers and carries no limits), the cgroup2
//! directory on unified hosts. Fields left unset are not written, so `ebrun update` changes
//! only what it was given.

use std::path::Path;

use cgroups_rs::fs::blkio::BlkIoController;
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::hierarchies::{V1, V2};
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::{Cgroup, Controller, Hierarchy, MaxValue};

use super::layout::Layout;
use super::resources::{blkio_weight_to_io_weight, shares_to_weight, Resources};
use super::{CgroupError, ContainerCgroups};

impl ContainerCgroups {
    /// Writes `resources` into the container's cgroups (before its process starts, and on
    /// `ebrun update`). Only the fields that are set are written.
    pub fn apply(&self, resources: &Resources) -> Result<(), CgroupError> {
        if resources.is_empty() {
            return Ok(());
        }
        let Some(cg) = self.limits_cgroup() else {
            return Ok(());
        };
        let v2 = self.layout == Layout::Unified;
        if let Some(mem) = cg.controller_of::<MemController>() {
            apply_memory(mem, resources, v2)?;
        }
        if let Some(cpu) = cg.controller_of::<CpuController>() {
            apply_cpu(cpu, resources, v2)?;
        }
        if let Some(cpuset) = cg.controller_of::<CpuSetController>() {
            if let Some(cpus) = &resources.cpuset_cpus {
                cpuset.set_cpus(cpus).map_err(limit_err("--cpuset-cpus"))?;
            }
            if let Some(mems) = &resources.cpuset_mems {
                cpuset.set_mems(mems).map_err(limit_err("--cpuset-mems"))?;
            }
        }
        if let Some(pids) = cg.controller_of::<PidController>() {
            if let Some(limit) = resources.pids_limit {
                let max = if limit > 0 {
                    MaxValue::Value(limit)
                } else {
                    MaxValue::Max
                };
                pids.set_pid_max(max).map_err(limit_err("--pids-limit"))?;
            }
        }
        if let Some(blkio) = cg.controller_of::<BlkIoController>() {
            apply_blkio(blkio, resources, v2)?;
        }
        Ok(())
    }

    /// The cgroups-rs handle of the hierarchy that holds the controllers, if any.
    pub(super) fn limits_cgroup(&self) -> Option<Cgroup> {
        let hier: Box<dyn Hierarchy> = match self.layout {
            Layout::Legacy | Layout::Hybrid => Box::new(V1::new()),
            Layout::Unified => Box::new(V2::new()),
        };
        Some(Cgroup::load(hier, &self.relative))
    }
}

fn apply_memory(mem: &MemController, r: &Resources, v2: bool) -> Result<(), CgroupError> {
    let swap = r.effective_memory_swap();
    if v2 {
        if let Some(limit) = r.memory {
            mem.set_limit(limit).map_err(limit_err("-m/--memory"))?;
        }
        // cgroup v2 limits swap alone: swap.max = (memory+swap) - memory.
        if let (Some(total), Some(limit)) = (swap, r.memory) {
            if has_file(mem.path(), "memory.swap.max") {
                let value = if total < 0 {
                    "max".to_string()
                } else {
                    (total - limit).max(0).to_string()
                };
                write_file(mem.path(), "memory.swap.max", &value, "--memory-swap")?;
            }
        }
        if let Some(low) = r.memory_reservation {
            write_file(
                mem.path(),
                "memory.low",
                &low.to_string(),
                "--memory-reservation",
            )?;
        }
        return Ok(());
    }
    let has_memsw = has_file(mem.path(), "memory.memsw.limit_in_bytes");
    let swap = swap.filter(|_| has_memsw);
    match (r.memory, swap) {
        (Some(limit), Some(total)) => {
            // memory <= memory+swap must hold after every single write: raise the
            // memsw limit first when the new memory limit would exceed the current one.
            let current_memsw = mem.memswap().limit_in_bytes;
            let total = if total < 0 { -1 } else { total };
            if total == -1 || limit > current_memsw {
                mem.set_memswap_limit(total)
                    .map_err(limit_err("--memory-swap"))?;
                mem.set_limit(limit).map_err(limit_err("-m/--memory"))?;
            } else {
                mem.set_limit(limit).map_err(limit_err("-m/--memory"))?;
                mem.set_memswap_limit(total)
                    .map_err(limit_err("--memory-swap"))?;
            }
        }
        (Some(limit), None) => mem.set_limit(limit).map_err(limit_err("-m/--memory"))?,
        (None, Some(total)) => mem
            .set_memswap_limit(total)
            .map_err(limit_err("--memory-swap"))?,
        (None, None) => {}
    }
    if let Some(soft) = r.memory_reservation {
        mem.set_soft_limit(soft)
            .map_err(limit_err("--memory-reservation"))?;
    }
    if let Some(swappiness) = r.memory_swappiness {
        mem.set_swappiness(swappiness)
            .map_err(limit_err("--memory-swappiness"))?;
    }
    if let Some(disable) = r.oom_kill_disable {
        let value = if disable { "1" } else { "0" };
        write_file(
            mem.path(),
            "memory.oom_control",
            value,
            "--oom-kill-disable",
        )?;
    }
    Ok(())
}

fn apply_cpu(cpu: &CpuController, r: &Resources, v2: bool) -> Result<(), CgroupError> {
    if let Some(shares) = r.cpu_shares {
        let value = if v2 { shares_to_weight(shares) } else { shares };
        cpu.set_shares(value)
            .map_err(limit_err("-c/--cpu-shares"))?;
    }
    let (quota, period) = r.effective_cpu_bandwidth();
    let flag = if r.nano_cpus.is_some() {
        "--cpus"
    } else {
        "--cpu-quota/--cpu-period"
    };
    if quota.is_some() || period.is_some() {
        if v2 {
            cpu.set_cfs_quota_and_period(quota, period)
                .map_err(limit_err(flag))?;
        } else {
            if let Some(p) = period {
                cpu.set_cfs_period(p).map_err(limit_err(flag))?;
            }
            if let Some(q) = quota {
                cpu.set_cfs_quota(if q > 0 { q } else { -1 })
                    .map_err(limit_err(flag))?;
            }
        }
    }
    if let Some(p) = r.cpu_rt_period {
        cpu.set_rt_period_us(p)
            .map_err(limit_err("--cpu-rt-period"))?;
    }
    if let Some(rt) = r.cpu_rt_runtime {
        cpu.set_rt_runtime(rt)
            .map_err(limit_err("--cpu-rt-runtime"))?;
    }
    Ok(())
}

fn apply_blkio(blkio: &BlkIoController, r: &Resources, v2: bool) -> Result<(), CgroupError> {
    if let Some(weight) = r.blkio_weight.filter(|w| *w > 0) {
        let dir = blkio.path();
        let (file, value) = if v2 {
            if has_file(dir, "io.bfq.weight") {
                ("io.bfq.weight", u64::from(weight))
            } else {
                ("io.weight", blkio_weight_to_io_weight(weight))
            }
        } else if has_file(dir, "blkio.bfq.weight") {
            ("blkio.bfq.weight", u64::from(weight))
        } else {
            ("blkio.weight", u64::from(weight))
        };
        if has_file(dir, file) {
            write_file(dir, file, &value.to_string(), "--blkio-weight")?;
        } else {
            tracing::warn!("no block I/O weight in this kernel; --blkio-weight discarded");
        }
    }
    for d in &r.device_read_bps {
        blkio
            .throttle_read_bps_for_device(d.major, d.minor, d.rate)
            .map_err(limit_err("--device-read-bps"))?;
    }
    for d in &r.device_write_bps {
        blkio
            .throttle_write_bps_for_device(d.major, d.minor, d.rate)
            .map_err(limit_err("--device-write-bps"))?;
    }
    for d in &r.device_read_iops {
        blkio
            .throttle_read_iops_for_device(d.major, d.minor, d.rate)
            .map_err(limit_err("--device-read-iops"))?;
    }
    for d in &r.device_write_iops {
        blkio
            .throttle_write_iops_for_device(d.major, d.minor, d.rate)
            .map_err(limit_err("--device-write-iops"))?;
    }
    Ok(())
}

fn has_file(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

fn write_file(dir: &Path, file: &str, value: &str, flag: &'static str) -> Result<(), CgroupError> {
    std::fs::write(dir.join(file), value).map_err(|e| CgroupError::Limit {
        flag,
        detail: format!("write {value} to {}: {e}", dir.join(file).display()),
    })
}

/// Maps a cgroups-rs write error to the flag it was applying.
fn limit_err(flag: &'static str) -> impl Fn(cgroups_rs::fs::error::Error) -> CgroupError {
    move |e| {
        let what = e.kind().to_string();
        let detail = match std::error::Error::source(&e) {
            Some(cause) => format!("{what}: {cause}"),
            None => what,
        };
        CgroupError::Limit { flag, detail }
    }
}
