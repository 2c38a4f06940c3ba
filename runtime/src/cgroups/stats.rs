//! Reading a container's usage from its cgroups (for `ebrun stats` and inspect's OOMKilled):
//! the same counters Docker's stats API reports, on v1, hybrid and v2 hosts.

use std::path::Path;

use cgroups_rs::fs::cpuacct::CpuAcctController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::pid::PidController;

use super::layout::Layout;
use super::ContainerCgroups;

/// One sample of a container's cgroup counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CgroupStats {
    /// CPU time used by all the container's tasks, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory charged to the cgroup, page cache included, in bytes.
    pub memory_usage: u64,
    /// Inactive file cache (v1 `total_inactive_file`, v2 `inactive_file`): what Docker
    /// subtracts from the usage to show MEM USAGE.
    pub memory_inactive_file: u64,
    /// The memory limit in bytes, `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Tasks in the cgroup.
    pub pids: u64,
    /// Bytes read from / written to block devices.
    pub blkio_read: u64,
    pub blkio_write: u64,
}

/// Larger than any memory a host has: the kernel's "no limit" (v1 shows
/// 9223372036854771712, v2 "max").
const UNLIMITED: u64 = 1 << 62;

impl ContainerCgroups {
    /// Reads the container's counters now. Controllers that are missing read as zero.
    pub fn stats(&self) -> CgroupStats {
        let mut stats = CgroupStats::default();
        let Some(cg) = self.limits_cgroup() else {
            return stats;
        };
        let v2 = self.layout == Layout::Unified;
        if let Some(mem) = cg.controller_of::<MemController>() {
            let m = mem.memory_stat();
            stats.memory_usage = m.usage_in_bytes;
            stats.memory_inactive_file = if v2 {
                m.stat.inactive_file
            } else {
                m.stat.total_inactive_file
            };
            let limit = m.limit_in_bytes;
            stats.memory_limit = (limit > 0 && (limit as u64) < UNLIMITED).then_some(limit as u64);
        }
        stats.cpu_usage_ns = self.cpu_usage_ns();
        if let Some(pids) = cg.controller_of::<PidController>() {
            stats.pids = pids.get_pid_current().unwrap_or(0);
        }
        let (read, write) = self.blkio_bytes();
        stats.blkio_read = read;
        stats.blkio_write = write;
        stats
    }

    /// CPU time used by the container's tasks, in nanoseconds: cpu.stat usage_usec of the
    /// cgroup2 directory where there is one (every cgroup2 directory has it, also without
    /// controllers), else v1 cpuacct.usage.
    pub fn cpu_usage_ns(&self) -> u64 {
        if let Some(usec) = self
            .unified_dir
            .as_deref()
            .and_then(|d| keyed_value(&d.join("cpu.stat"), "usage_usec"))
        {
            return usec.saturating_mul(1000);
        }
        self.limits_cgroup()
            .and_then(|cg| {
                cg.controller_of::<CpuAcctController>()
                    .map(|c| c.cpuacct().usage)
            })
            .unwrap_or(0)
    }

    /// Bytes read and written: v2 io.stat, v1 blkio.throttle.io_service_bytes_recursive.
    fn blkio_bytes(&self) -> (u64, u64) {
        let mut read = 0;
        let mut write = 0;
        if self.layout == Layout::Unified {
            let Some(dir) = &self.unified_dir else {
                return (0, 0);
            };
            let text = std::fs::read_to_string(dir.join("io.stat")).unwrap_or_default();
            for field in text.split_whitespace() {
                if let Some(v) = field.strip_prefix("rbytes=") {
                    read += v.parse::<u64>().unwrap_or(0);
                } else if let Some(v) = field.strip_prefix("wbytes=") {
                    write += v.parse::<u64>().unwrap_or(0);
                }
            }
            return (read, write);
        }
        let Some(dir) = self.v1_dir("blkio") else {
            return (0, 0);
        };
        let text = std::fs::read_to_string(dir.join("blkio.throttle.io_service_bytes_recursive"))
            .unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [_dev, op, value] = f.as_slice() {
                let value = value.parse::<u64>().unwrap_or(0);
                match *op {
                    "Read" => read += value,
                    "Write" => write += value,
                    _ => {}
                }
            }
        }
        (read, write)
    }

    /// True when the memory controller recorded an OOM kill in this cgroup (v1
    /// memory.oom_control `oom_kill`, v2 memory.events `oom_kill`).
    pub fn oom_killed(&self) -> bool {
        match self.layout {
            Layout::Unified => self
                .unified_dir
                .as_deref()
                .and_then(|d| keyed_value(&d.join("memory.events"), "oom_kill"))
                .is_some_and(|n| n > 0),
            Layout::Legacy | Layout::Hybrid => self
                .limits_cgroup()
                .and_then(|cg| {
                    cg.controller_of::<MemController>()
                        .map(|m| m.memory_stat().oom_control.oom_kill)
                })
                .is_some_and(|n| n > 0),
        }
    }

    /// True while the cgroup's tasks wait for memory with the OOM killer disabled (v1
    /// memory.oom_control `under_oom`).
    pub fn under_oom(&self) -> bool {
        self.v1_dir("memory")
            .and_then(|d| keyed_value(&d.join("memory.oom_control"), "under_oom"))
            .is_some_and(|n| n > 0)
    }

    /// The v1 directory of `controller` (e.g. "memory"), if the container has one.
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        let cg = self.limits_cgroup()?;
        let wanted = cg
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == controller)
            .map(|s| s.to_controller().path().to_path_buf())?;
        self.v1_dirs
            .iter()
            .find(|d| **d == wanted)
            .map(|d| d.as_path())
    }
}

/// The value of `key` in a flat-keyed cgroup file (`key value` per line).
fn keyed_value(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}
