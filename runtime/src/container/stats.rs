//! A running container's counters at one instant, as `docker stats` computes from them
//! (`ebrun stats` and the Engine API's `stats` alike): its cgroup's, the host's CPU time and
//! its network namespace's bytes.

use super::config::{ContainerConfig, Status};
use super::store::ContainerStore;
use crate::cgroups::CgroupStats;
use crate::Paths;

/// One container's counters at one instant.
#[derive(Debug, Clone, Default)]
pub struct StatsSample {
    pub running: bool,
    pub cgroup: CgroupStats,
    /// Host CPU time (all CPUs) in nanoseconds, from /proc/stat.
    pub system_ns: u64,
    pub online_cpus: u64,
    pub net_rx: u64,
    pub net_tx: u64,
}

/// The counters of `config` now (zeros when it is not running).
pub fn sample_stats(paths: &Paths, config: &ContainerConfig) -> StatsSample {
    let store = ContainerStore::new(paths);
    let Ok(state) = store.load_state(&config.id) else {
        return StatsSample::default();
    };
    let running = is_live(state.status) && state.pid > 0;
    let Some(cgroups) = state.cgroups.as_ref().filter(|_| running) else {
        return StatsSample::default();
    };
    let mut cgroup = cgroups.stats();
    // The two CPU counters back to back, so that both deltas cover the same interval.
    let (system_ns, online_cpus) = system_cpu();
    cgroup.cpu_usage_ns = cgroups.cpu_usage_ns();
    let (net_rx, net_tx) = net_bytes(state.pid);
    StatsSample {
        running,
        cgroup,
        system_ns,
        online_cpus,
        net_rx,
        net_tx,
    }
}

/// Running or paused (a process that uses resources).
pub fn is_live(status: Status) -> bool {
    !matches!(status, Status::Created | Status::Exited)
}

impl StatsSample {
    /// Docker's CPU %: container CPU delta over host CPU delta, times the online CPUs.
    pub fn cpu_percent(&self, prev: &StatsSample) -> f64 {
        let now = self;
        let cpu_delta = now
            .cgroup
            .cpu_usage_ns
            .saturating_sub(prev.cgroup.cpu_usage_ns) as f64;
        let system_delta = now.system_ns.saturating_sub(prev.system_ns) as f64;
        if !now.running || !prev.running || system_delta <= 0.0 || cpu_delta <= 0.0 {
            return 0.0;
        }
        cpu_delta / system_delta * now.online_cpus as f64 * 100.0
    }
}

/// Host CPU time in nanoseconds (user+nice+system+idle+iowait+irq+softirq of /proc/stat's
/// `cpu` line, as Docker sums it) and the number of online CPUs.
pub fn system_cpu() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                total = fields
                    .take(7)
                    .filter_map(|f| f.parse::<u64>().ok())
                    .sum::<u64>();
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total * (1_000_000_000 / ticks), cpus.max(1))
}

/// Bytes received and sent on the interfaces of `pid`'s network namespace, loopback
/// excluded; zero when the container shares the host's network namespace.
fn net_bytes(pid: i32) -> (u64, u64) {
    let ns = |p: String| std::fs::read_link(p).ok();
    let theirs = ns(format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == ns("/proc/self/ns/net".into()) {
        return (0, 0);
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((iface, counters)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_formula() {
        let prev = StatsSample {
            running: true,
            system_ns: 1_000_000_000,
            online_cpus: 2,
            ..Default::default()
        };
        let mut now = prev.clone();
        now.system_ns += 2_000_000_000; // 1 s of wall time on 2 CPUs
        now.cgroup.cpu_usage_ns = 500_000_000; // half a CPU
        assert!((now.cpu_percent(&prev) - 50.0).abs() < 1e-9);
    }
}
