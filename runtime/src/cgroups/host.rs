//! What this host's cgroups can limit (Docker's `sysinfo`): the facts resource validation
//! needs before anything is created.

use std::path::{Path, PathBuf};

use cgroups_rs::fs::hierarchies::V1;
use cgroups_rs::fs::Hierarchy;

use super::layout::{unified_mount, Layout};

/// The limit capabilities of the host.
#[derive(Debug, Clone)]
pub struct HostCaps {
    pub layout: Layout,
    /// Online CPUs (Docker's NumCPU).
    pub num_cpus: usize,
    /// CPUs and memory nodes a container may use (the root cpuset), e.g. `0-1`.
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// memory+swap limits (v1 memsw files / v2 memory.swap.max).
    pub swap_limit: bool,
    /// memory.swappiness (v1 only).
    pub swappiness: bool,
    /// memory.oom_control (v1 only).
    pub oom_kill_disable: bool,
    /// Real-time CPU bandwidth (v1 cpu.rt_runtime_us).
    pub cpu_realtime: bool,
    /// Block I/O weight (a weight file in the blkio/io controller).
    pub blkio_weight: bool,
    /// Total RAM in bytes.
    pub mem_total: u64,
}

impl HostCaps {
    /// Probes the host.
    pub fn detect() -> HostCaps {
        let layout = Layout::detect();
        let num_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mem_total = meminfo_total().unwrap_or(0);
        match layout {
            Layout::Unified => {
                let root = unified_mount(layout).expect("unified has cgroup2");
                let controllers =
                    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
                let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                HostCaps {
                    layout,
                    num_cpus,
                    cpuset_cpus: read_trimmed(&root.join("cpuset.cpus.effective"))
                        .unwrap_or_else(|| online_cpus(num_cpus)),
                    cpuset_mems: read_trimmed(&root.join("cpuset.mems.effective"))
                        .unwrap_or_else(|| "0".into()),
                    swap_limit: has("memory"),
                    swappiness: false,
                    oom_kill_disable: false,
                    cpu_realtime: false,
                    blkio_weight: has("io"),
                    mem_total,
                }
            }
            Layout::Hybrid | Layout::Legacy => {
                let dir = |name: &str| v1_root(name);
                let memory = dir("memory");
                let cpu = dir("cpu");
                let cpuset = dir("cpuset");
                let blkio = dir("blkio");
                let file =
                    |d: &Option<PathBuf>, f: &str| d.as_ref().is_some_and(|d| d.join(f).exists());
                HostCaps {
                    layout,
                    num_cpus,
                    cpuset_cpus: cpuset
                        .as_ref()
                        .and_then(|d| read_trimmed(&d.join("cpuset.cpus")))
                        .unwrap_or_else(|| online_cpus(num_cpus)),
                    cpuset_mems: cpuset
                        .as_ref()
                        .and_then(|d| read_trimmed(&d.join("cpuset.mems")))
                        .unwrap_or_else(|| "0".into()),
                    swap_limit: file(&memory, "memory.memsw.limit_in_bytes"),
                    swappiness: file(&memory, "memory.swappiness"),
                    oom_kill_disable: file(&memory, "memory.oom_control"),
                    cpu_realtime: file(&cpu, "cpu.rt_runtime_us"),
                    // The weight files exist in non-root cgroups only; BFQ's is what kernels
                    // without CFQ have, and it shows in the root as its stats files.
                    blkio_weight: file(&blkio, "blkio.weight")
                        || file(&blkio, "blkio.bfq.io_service_bytes"),
                    mem_total,
                }
            }
        }
    }
}

/// The root directory of a v1 controller's hierarchy.
fn v1_root(controller: &str) -> Option<PathBuf> {
    let hier = V1::new();
    hier.subsystems()
        .into_iter()
        .find(|s| s.controller_name() == controller)
        .map(|s| s.to_controller().path().to_path_buf())
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn online_cpus(n: usize) -> String {
    if n <= 1 {
        "0".into()
    } else {
        format!("0-{}", n - 1)
    }
}

fn meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Total RAM of the host in bytes (what `docker stats` shows as the limit of an unlimited
/// container).
pub fn host_memory() -> u64 {
    meminfo_total().unwrap_or(0)
}
