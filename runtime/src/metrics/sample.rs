//! One scrape's view of the instance: every container's config and state from the state
//! files, its cgroup counters, and its eBPF meters from the pinned maps. Read-only: nothing
//! here writes a state file or touches a container (ARCHITECTURE.md point 4).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::bpf::ContainerMeters;
use crate::cgroups::CgroupStats;
use crate::container::{ContainerConfig, ContainerState, Status};
use crate::state::read_json;
use crate::Paths;

use super::meters::MeterTables;

/// One container at scrape time.
pub struct ContainerSample {
    pub config: Arc<ContainerConfig>,
    pub state: ContainerState,
    /// The status as it really is: a container recorded as running whose process and monitor
    /// are gone counts as exited (the state file is left for ebrun commands to correct).
    pub status: Status,
    /// eBPF and cgroup-file meters; `None` for a container that never started.
    pub meters: Option<ContainerMeters>,
    /// cgroup counters (memory, pids) while the container's cgroups exist.
    pub cgroup: Option<CgroupStats>,
}

impl ContainerSample {
    /// Whether its processes exist (running or paused).
    pub fn is_up(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
    }
}

/// The eBPF side's health.
#[derive(Debug, Clone, Default)]
pub struct BpfHealth {
    /// (meter, loaded) for every meter ebrun has.
    pub meters: Vec<(&'static str, bool)>,
    /// Programs pinned (host-wide links plus per-container programs).
    pub programs: usize,
}

/// Everything one scrape reports.
pub struct Sample {
    pub containers: Vec<ContainerSample>,
    pub bpf: BpfHealth,
}

/// A config file parsed once and kept while it does not change.
struct CachedConfig {
    mtime_ns: i64,
    size: u64,
    config: Arc<ContainerConfig>,
}

/// Reads samples; keeps parsed configs between scrapes (they change only on rename/update).
#[derive(Default)]
pub struct Sampler {
    configs: HashMap<String, CachedConfig>,
}

/// The meters ebrun loads, each named by its first pinned map (present = loaded).
const METER_MAPS: [(&str, &str); 5] = [
    ("execs", ebrun_common::EXEC_COUNT_MAP),
    ("cpu", ebrun_common::sched::CPU_TIME_MAP),
    ("reclaim", ebrun_common::reclaim::RECLAIM_MAP),
    ("oom", ebrun_common::oom::OOM_KILLS_MAP),
    ("traffic", ebrun_common::traffic::TRAFFIC_MAP),
];

fn bpf_health(pin_dir: &Path) -> BpfHealth {
    let count = |sub: &str| {
        std::fs::read_dir(pin_dir.join(sub))
            .map(|d| d.filter_map(Result::ok).count())
            .unwrap_or(0)
    };
    // Host-wide links (one per tracepoint program) and the cgroup programs pinned once.
    let host_links = std::fs::read_dir(pin_dir.join("links"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with("cg"))
                .count()
        })
        .unwrap_or(0);
    BpfHealth {
        meters: METER_MAPS
            .iter()
            .map(|(meter, map)| (*meter, pin_dir.join("maps").join(map).exists()))
            .collect(),
        programs: host_links + count("progs"),
    }
}

/// Whether `pid` is still the process that started at `start_time` (clock ticks).
fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 || start_time == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|t| t.parse::<u64>().ok())
        == Some(start_time)
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The status `observe` would report, without writing anything.
fn observed_status(state: &ContainerState, boot: &str) -> Status {
    match state.status {
        Status::Running | Status::Paused | Status::Restarting => {
            let monitor_alive = state.monitor_pid > 0
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(state.monitor_pid), None)
                    .is_ok();
            if state.boot_id == boot
                && (process_alive(state.pid, state.pid_start_time) || monitor_alive)
            {
                state.status
            } else {
                Status::Exited
            }
        }
        other => other,
    }
}

impl Sampler {
    pub fn new() -> Self {
        Sampler::default()
    }

    /// The config of container directory `dir`, parsed again only when the file changed.
    fn config(&mut self, id: &str, dir: &Path) -> Option<Arc<ContainerConfig>> {
        let path = dir.join("config.json");
        let meta = std::fs::metadata(&path).ok()?;
        let (mtime_ns, size) = (meta.mtime() * 1_000_000_000 + meta.mtime_nsec(), meta.len());
        if let Some(c) = self.configs.get(id) {
            if c.mtime_ns == mtime_ns && c.size == size {
                return Some(c.config.clone());
            }
        }
        let config: ContainerConfig = read_json(&path).ok()?;
        let config = Arc::new(config);
        self.configs.insert(
            id.to_string(),
            CachedConfig {
                mtime_ns,
                size,
                config: config.clone(),
            },
        );
        Some(config)
    }

    /// Reads the instance now.
    pub fn sample(&mut self, paths: &Paths) -> Sample {
        let pin_dir = paths.bpffs_dir();
        let started = std::time::Instant::now();
        let tables = MeterTables::read(&pin_dir);
        let maps_read = started.elapsed();
        let boot = boot_id();
        let mut containers = Vec::new();
        let mut present = Vec::new();
        if let Ok(entries) = std::fs::read_dir(paths.containers_dir()) {
            for entry in entries.filter_map(Result::ok) {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let id = entry.file_name().to_string_lossy().into_owned();
                let dir = entry.path();
                let Some(config) = self.config(&id, &dir) else {
                    continue;
                };
                present.push(id);
                let state_path = dir.join("state.json");
                let state: ContainerState = if state_path.exists() {
                    match read_json(&state_path) {
                        Ok(s) => s,
                        Err(_) => continue,
                    }
                } else {
                    ContainerState::default()
                };
                let status = observed_status(&state, &boot);
                let up = matches!(status, Status::Running | Status::Paused);
                let meters = state.cgroups.as_ref().map(|cg| tables.meters(cg, up));
                let cgroup = state.cgroups.as_ref().filter(|_| up).map(|cg| cg.stats());
                containers.push(ContainerSample {
                    config,
                    state,
                    status,
                    meters,
                    cgroup,
                });
            }
        }
        tracing::debug!(
            maps_ms = maps_read.as_secs_f64() * 1e3,
            containers_ms = (started.elapsed() - maps_read).as_secs_f64() * 1e3,
            "sample read"
        );
        // Forget the configs of removed containers.
        self.configs.retain(|id, _| present.contains(id));
        containers.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Sample {
            containers,
            bpf: bpf_health(&pin_dir),
        }
    }
}
