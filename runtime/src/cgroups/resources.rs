//! Resource limits (`-m`, `--cpus`, ...) as a container's config records them: Docker's
//! `HostConfig` resource fields, in the kernel's units, each optional (unset = the kernel's
//! default). [`super::apply`] writes them into a container's cgroups.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CgroupError;

/// The CFS period Docker uses for `--cpus` (100 ms).
pub const DEFAULT_CPU_PERIOD_US: u64 = 100_000;

/// The limits a user asked for; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `-m/--memory`: hard memory limit in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`: memory plus swap in bytes; -1 is unlimited swap.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: soft limit in bytes (v1 soft_limit_in_bytes, v2 memory.low).
    pub memory_reservation: Option<i64>,
    /// `--memory-swappiness` 0-100 (v1 only).
    pub memory_swappiness: Option<u64>,
    /// `--kernel-memory`: recorded as given; no kernel ebrun supports enforces it.
    pub kernel_memory: Option<i64>,
    /// `--oom-kill-disable` (v1 only).
    pub oom_kill_disable: Option<bool>,
    /// `--oom-score-adj` -1000..1000, written to the container's init process.
    pub oom_score_adj: Option<i32>,
    /// `--cpus` in billionths of a CPU (Docker's NanoCpus).
    pub nano_cpus: Option<i64>,
    /// `-c/--cpu-shares`: relative weight (v1 cpu.shares; v2 cpu.weight, converted).
    pub cpu_shares: Option<u64>,
    /// `--cpu-period` in microseconds.
    pub cpu_period: Option<u64>,
    /// `--cpu-quota` in microseconds per period; -1 is unlimited.
    pub cpu_quota: Option<i64>,
    /// `--cpu-rt-period` in microseconds.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime` in microseconds.
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpuset-cpus`, e.g. `0-1,3`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`, e.g. `0`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; 0 or -1 is unlimited.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` 10-1000.
    pub blkio_weight: Option<u16>,
    /// `--device-read-bps`.
    pub device_read_bps: Vec<ThrottleDevice>,
    /// `--device-write-bps`.
    pub device_write_bps: Vec<ThrottleDevice>,
    /// `--device-read-iops`.
    pub device_read_iops: Vec<ThrottleDevice>,
    /// `--device-write-iops`.
    pub device_write_iops: Vec<ThrottleDevice>,
}

/// One block device throttle (`--device-read-bps /dev/vda:1mb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleDevice {
    /// The path the user gave.
    pub path: PathBuf,
    pub major: u64,
    pub minor: u64,
    /// Bytes or operations per second.
    pub rate: u64,
}

impl Resources {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// Overlays the fields set in `update` (`ebrun update`): a flag given replaces the old
    /// value, flags not given keep theirs. Setting `--cpus` clears an explicit
    /// period/quota and vice versa, as they describe the same limit.
    pub fn merge(&mut self, update: &Resources) {
        macro_rules! take {
            ($($field:ident),*) => {
                $(if update.$field.is_some() {
                    self.$field = update.$field.clone();
                })*
            };
        }
        if update.nano_cpus.is_some() {
            self.cpu_period = None;
            self.cpu_quota = None;
        }
        if update.cpu_period.is_some() || update.cpu_quota.is_some() {
            self.nano_cpus = None;
        }
        take!(
            memory,
            memory_swap,
            memory_reservation,
            memory_swappiness,
            kernel_memory,
            oom_kill_disable,
            oom_score_adj,
            nano_cpus,
            cpu_shares,
            cpu_period,
            cpu_quota,
            cpu_rt_period,
            cpu_rt_runtime,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight
        );
        for (mine, theirs) in [
            (&mut self.device_read_bps, &update.device_read_bps),
            (&mut self.device_write_bps, &update.device_write_bps),
            (&mut self.device_read_iops, &update.device_read_iops),
            (&mut self.device_write_iops, &update.device_write_iops),
        ] {
            for dev in theirs {
                mine.retain(|d| (d.major, d.minor) != (dev.major, dev.minor));
                mine.push(dev.clone());
            }
        }
    }

    /// The memory+swap limit to write: `--memory-swap` if given, else Docker's default of
    /// twice the memory limit (as much swap as memory).
    pub fn effective_memory_swap(&self) -> Option<i64> {
        match (self.memory, self.memory_swap) {
            (_, Some(swap)) => Some(swap),
            (Some(mem), None) if mem > 0 => Some(mem.saturating_mul(2)),
            _ => None,
        }
    }

    /// The CFS quota and period to write: from `--cpus` (period 100 ms) or from
    /// `--cpu-quota`/`--cpu-period`.
    pub fn effective_cpu_bandwidth(&self) -> (Option<i64>, Option<u64>) {
        match self.nano_cpus {
            Some(nano) if nano > 0 => {
                let period = DEFAULT_CPU_PERIOD_US;
                let quota = (nano as i128 * period as i128 / 1_000_000_000) as i64;
                (Some(quota), Some(period))
            }
            _ => (self.cpu_quota, self.cpu_period),
        }
    }
}

impl Resources {
    /// Sets the per-process limits (`--oom-score-adj`) on the container's init before it
    /// execs; everything it starts inherits them.
    pub fn apply_to_process(&self, pid: i32) -> Result<(), CgroupError> {
        if let Some(adj) = self.oom_score_adj {
            let path = PathBuf::from(format!("/proc/{pid}/oom_score_adj"));
            std::fs::write(&path, adj.to_string()).map_err(|e| CgroupError::Limit {
                flag: "--oom-score-adj",
                detail: format!("write {adj} to {}: {e}", path.display()),
            })?;
        }
        Ok(())
    }
}

/// cgroup v1 cpu.shares to cgroup v2 cpu.weight, the conversion runc and crun use
/// (2..262144 -> 1..10000; the default 1024 becomes 39).
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// `--blkio-weight` (10..1000) to cgroup v2 io.weight (1..10000), as runc converts it.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn docker_defaults() {
        let r = Resources {
            memory: Some(64 << 20),
            ..Default::default()
        };
        assert_eq!(r.effective_memory_swap(), Some(128 << 20));
        let r = Resources {
            nano_cpus: Some(500_000_000),
            ..Default::default()
        };
        assert_eq!(r.effective_cpu_bandwidth(), (Some(50_000), Some(100_000)));
    }

    #[test]
    fn merge_replaces_given_fields_only() {
        let mut r = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(1_000_000_000),
            pids_limit: Some(10),
            ..Default::default()
        };
        r.merge(&Resources {
            memory: Some(128 << 20),
            cpu_quota: Some(20_000),
            ..Default::default()
        });
        assert_eq!(r.memory, Some(128 << 20));
        assert_eq!(r.nano_cpus, None);
        assert_eq!(r.cpu_quota, Some(20_000));
        assert_eq!(r.pids_limit, Some(10));
    }
}
