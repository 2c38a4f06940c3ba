//! One scrape's view of the instance: every container's config and state from the state
//! files, its cgroup counters, and its eBPF meters from the pinned maps. Read-only: nothing
//! here writes a state file or touches a container (ARCHITECTURE.md point 4).
//!
//! What does not change between scrapes is kept: parsed configs and states (read again when
//! the file changes), each run's cgroup file paths, and the start times of the processes
//! already checked, and each running container's cgroup files, open. The cgroup files are
//! read by two threads.
//!
//! A container that exited reports the readings its monitor took as it exited (memory,
//! CPU, pressure: [`crate::metrics::ExitReading`]) until it starts again or is removed; a
//! removed container whose final values no scrape has shown yet is read from its note
//! ([`super::removed`]). For the scrape ([`Sampler::scraped`], [`Sampler::exposed`]) the
//! sampler remembers which containers it has shown, to write the counters of one created
//! since it started as born (see [`super::family`]) the first time.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bpf::ContainerMeters;
use crate::container::{ContainerConfig, ContainerState, Health, Status};
use crate::state::read_json;
use crate::Paths;

use super::cgroup_reader::{CgroupFiles, MemoryPids};
use super::family::ContainerLabels;
use super::meters::MeterTables;
use super::removed::{self, Removed};

/// Threads reading the containers' cgroup files.
const READERS: usize = 2;

/// One container at scrape time.
pub struct ContainerSample {
    pub config: Arc<ContainerConfig>,
    /// Its `id`, `name` and `image` labels.
    pub labels: Arc<ContainerLabels>,
    pub state: Arc<ContainerState>,
    /// `ebrun_container_info`'s labels beyond id, name and image (pod, namespace, ... of a
    /// container `ebrun oci` runs).
    pub info: Arc<Vec<(&'static str, String)>>,
    /// The status as it really is: a container recorded as running whose process and monitor
    /// are gone counts as exited (the state file is left for ebrun commands to correct).
    pub status: Status,
    /// eBPF and cgroup-file meters; `None` for a container that never started.
    pub meters: Option<ContainerMeters>,
    /// Memory and tasks while the container's cgroups exist.
    pub cgroup: Option<MemoryPids>,
    /// Its health check's state as `inspect` shows it (None: no health check, or never
    /// started with one).
    pub health: Option<Health>,
    /// When its last run ended (Unix seconds), while it is not running.
    pub finished_at: Option<f64>,
    /// OOM kills over its life (all runs); `None` without the OOM meter.
    pub oom_kills: Option<u64>,
    /// When its last OOM kill happened, Unix seconds.
    pub last_oom_at: Option<f64>,
    /// Removed, shown from its note.
    pub removed: bool,
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

/// A file's identity: changes when it is replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mtime_ns: i64,
    size: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        ino: m.ino(),
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        size: m.len(),
    })
}

/// What is kept of one container between scrapes.
struct Cached {
    config_stamp: Stamp,
    config: Arc<ContainerConfig>,
    labels: Arc<ContainerLabels>,
    state_stamp: Option<Stamp>,
    state: Arc<ContainerState>,
    info: Arc<Vec<(&'static str, String)>>,
    /// The cgroup files of the run keyed by its cgroup2 id.
    files: Option<(u64, Arc<CgroupFiles>)>,
    /// `health.json` as last read, for a container with a health check.
    health: Option<(Stamp, Arc<Health>)>,
}

/// Reads samples, keeping what does not change between scrapes.
#[derive(Default)]
pub struct Sampler {
    cache: HashMap<String, Cached>,
    /// Processes (pid, start time) already found to be the recorded ones.
    verified: HashMap<i32, u64>,
    /// When this sampler was made, Unix seconds: containers created (or started) later are
    /// ones whose counters no scraper can have seen before.
    since: f64,
    /// Containers (by id) a scrape has shown.
    seen: HashSet<String>,
    /// Containers (by id) a scrape has shown exited, with their final values.
    shown_final: HashSet<String>,
    /// The notes of removed containers in the last sample.
    notes: HashMap<String, (PathBuf, Removed)>,
}

fn unix(t: Option<&str>) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t?)
        .ok()
        .map(|t| t.timestamp_micros() as f64 / 1e6)
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The meters ebrun loads, each named by its first pinned map (present = loaded).
const METER_MAPS: [(&str, &str); 5] = [
    ("execs", ebrun_common::EXEC_COUNT_MAP),
    ("cpu", ebrun_common::sched::CPU_CGROUPS_MAP),
    ("reclaim", ebrun_common::reclaim::RECLAIM_MAP),
    ("oom", ebrun_common::oom::OOM_KILLS_MAP),
    ("traffic", ebrun_common::traffic::TRAFFIC_MAP),
];

fn bpf_health(pin_dir: &Path) -> BpfHealth {
    let count = |sub: &str, host_wide: bool| {
        std::fs::read_dir(pin_dir.join(sub))
            .map(|d| {
                d.filter_map(Result::ok)
                    // Per-container links are named cg<id>-<program>.
                    .filter(|e| !host_wide || !e.file_name().to_string_lossy().starts_with("cg"))
                    .count()
            })
            .unwrap_or(0)
    };
    BpfHealth {
        meters: METER_MAPS
            .iter()
            .map(|(meter, map)| (*meter, pin_dir.join("maps").join(map).exists()))
            .collect(),
        programs: count("links", true) + count("progs", false),
    }
}

/// Start time (clock ticks since boot) of process `pid`, 0 if it does not exist.
fn start_time(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(19))
                .and_then(|t| t.parse().ok())
        })
        .unwrap_or(0)
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn exists(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

impl Sampler {
    pub fn new() -> Self {
        Sampler {
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            ..Sampler::default()
        }
    }

    /// Before a scrape writes `sample`: the counters of a container shown for the first time
    /// and created (or started) since this sampler was made are written as born.
    pub fn scraped(&mut self, sample: &mut Sample) {
        for c in &mut sample.containers {
            if !self.seen.insert(c.labels.id.clone()) {
                continue;
            }
            let born = max_opt(Some(c.labels.created), unix(c.state.started_at.as_deref()));
            if let Some(t) = born.filter(|t| *t >= self.since) {
                c.labels = Arc::new(c.labels.as_born(t));
            }
        }
    }

    /// After a scrape wrote `sample`: remembers what it showed, and releases the notes of
    /// removed containers whose final values it showed.
    pub fn exposed(&mut self, sample: &Sample) {
        let mut present = HashSet::with_capacity(sample.containers.len());
        for c in &sample.containers {
            present.insert(c.labels.id.as_str());
            if c.labels.born.is_none() && !c.is_up() {
                self.shown_final.insert(c.labels.id.clone());
                if let Some((path, note)) = self.notes.remove(&c.labels.id) {
                    removed::release(&path, &note);
                }
            }
        }
        self.seen.retain(|id| present.contains(id.as_str()));
        self.shown_final.retain(|id| present.contains(id.as_str()));
    }

    /// Whether `pid` is still the process that started at `start` (checked through /proc
    /// once per process, then by its existence).
    fn alive(&mut self, pid: i32, start: u64) -> bool {
        if !exists(pid) || start == 0 {
            return false;
        }
        if self.verified.get(&pid) == Some(&start) {
            return true;
        }
        let same = start_time(pid) == start;
        if same {
            self.verified.insert(pid, start);
        }
        same
    }

    /// The status `observe` would report, without writing anything.
    fn observed_status(&mut self, state: &ContainerState, boot: &str) -> Status {
        match state.status {
            Status::Running | Status::Paused | Status::Restarting => {
                if state.boot_id == boot
                    && (self.alive(state.pid, state.pid_start_time) || exists(state.monitor_pid))
                {
                    state.status
                } else {
                    Status::Exited
                }
            }
            other => other,
        }
    }

    /// Refreshes the cache entry of container `id` and its health; false if it has no
    /// readable config.
    fn refresh(&mut self, id: &str, dir: &Path) -> bool {
        if !self.refresh_config_state(id, dir) {
            return false;
        }
        let Some(c) = self.cache.get_mut(id) else {
            return false;
        };
        if c.config.healthcheck.is_none() {
            return true;
        }
        let path = dir.join("health.json");
        match stamp(&path) {
            None => c.health = None,
            Some(s) if c.health.as_ref().is_some_and(|(old, _)| *old == s) => {}
            Some(s) => {
                // Being replaced: keep the last one.
                if let Ok(h) = read_json::<Health>(&path) {
                    c.health = Some((s, Arc::new(h)));
                }
            }
        }
        true
    }

    fn refresh_config_state(&mut self, id: &str, dir: &Path) -> bool {
        let Some(config_stamp) = stamp(&dir.join("config.json")) else {
            return false;
        };
        let state_path = dir.join("state.json");
        let state_stamp = stamp(&state_path);
        if let Some(c) = self.cache.get_mut(id) {
            if c.config_stamp == config_stamp {
                if c.state_stamp != state_stamp {
                    match state_stamp.map(|_| read_json::<ContainerState>(&state_path)) {
                        Some(Ok(s)) => c.state = Arc::new(s),
                        Some(Err(_)) => return true, // being replaced: keep the last one
                        None => c.state = Arc::new(ContainerState::default()),
                    }
                    c.state_stamp = state_stamp;
                }
                return true;
            }
        }
        let Ok(config) = read_json::<ContainerConfig>(&dir.join("config.json")) else {
            return false;
        };
        let state = match state_stamp.map(|_| read_json::<ContainerState>(&state_path)) {
            Some(Ok(s)) => s,
            Some(Err(_)) => return false,
            None => ContainerState::default(),
        };
        let labels = Arc::new(ContainerLabels::of(
            &config.id,
            &config.name,
            &config.image,
            &config.created,
        ));
        self.cache.insert(
            id.to_string(),
            Cached {
                config_stamp,
                config: Arc::new(config),
                labels,
                state_stamp,
                state: Arc::new(state),
                info: Arc::new(Vec::new()),
                files: None,
                health: None,
            },
        );
        true
    }

    /// Refreshes the cache entry of a container of `ebrun oci` from its mirrored state
    /// (`key`: `oci:<file stem>`); false if it cannot be read.
    fn refresh_oci(&mut self, key: &str, path: &Path, boot: &str) -> bool {
        let Some(stamp) = stamp(path) else {
            return false;
        };
        if self.cache.get(key).is_some_and(|c| c.config_stamp == stamp) {
            return true;
        }
        let Ok(oci) = read_json::<crate::oci::OciState>(path) else {
            return self.cache.contains_key(key); // being replaced: keep the last one
        };
        let (config, state) = super::oci_containers::as_container(&oci, boot);
        let labels = Arc::new(ContainerLabels::of(
            &config.id,
            &config.name,
            &config.image,
            &config.created,
        ));
        let files = self.cache.remove(key).and_then(|c| c.files);
        self.cache.insert(
            key.to_string(),
            Cached {
                config_stamp: stamp,
                config: Arc::new(config),
                labels,
                state_stamp: Some(stamp),
                state: Arc::new(state),
                info: Arc::new(super::oci_containers::info_labels(&oci)),
                files,
                health: None,
            },
        );
        true
    }

    /// Reads the instance now.
    pub fn sample(&mut self, paths: &Paths) -> Sample {
        let pin_dir = paths.bpffs_dir();
        let started = std::time::Instant::now();
        let tables = MeterTables::read(&pin_dir);
        let maps_read = started.elapsed();
        let boot = boot_id();
        // The state files, serially (cheap when nothing changed).
        let mut present = Vec::new();
        if let Ok(entries) = std::fs::read_dir(paths.containers_dir()) {
            for entry in entries.filter_map(Result::ok) {
                let id = entry.file_name().to_string_lossy().into_owned();
                if id.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                if self.refresh(&id, &entry.path()) {
                    present.push(id);
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(crate::oci::mirror_dir(paths)) {
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(stem) = name.strip_suffix(".json") else {
                    continue;
                };
                let key = format!("oci:{stem}");
                if self.refresh_oci(&key, &entry.path(), &boot) {
                    present.push(key);
                }
            }
        }
        self.cache.retain(|id, _| present.contains(id));
        // Removed containers whose final values no scrape has shown.
        let listed: HashSet<&str> = self.cache.values().map(|c| c.config.id.as_str()).collect();
        let mut notes = HashMap::new();
        for (path, note) in removed::list(paths) {
            let id = note.config.id.clone();
            if listed.contains(id.as_str()) {
                continue; // still being removed
            }
            if self.shown_final.contains(&id) || removed::expired(&note) {
                removed::release(&path, &note);
                continue;
            }
            notes.insert(id, (path, note));
        }
        self.notes = notes;
        let mut jobs = Vec::with_capacity(present.len() + self.notes.len());
        for id in &present {
            let state = self.cache[id].state.clone();
            let status = self.observed_status(&state, &boot);
            let up = matches!(status, Status::Running | Status::Paused);
            let c = self.cache.get_mut(id).expect("refreshed");
            let files = match (&state.cgroups, &c.files) {
                // Stopped: its cgroups are gone; close their files.
                _ if !up => {
                    c.files = None;
                    None
                }
                (Some(cg), Some((cid, f))) if *cid == cg.cgroup_id => Some(f.clone()),
                (Some(cg), _) => {
                    let f = Arc::new(CgroupFiles::of(cg));
                    c.files = Some((cg.cgroup_id, f.clone()));
                    Some(f)
                }
                _ => None,
            };
            let health = c.health.as_ref().map(|(_, h)| {
                crate::container::health_as_observed((**h).clone(), status, state.paused)
            });
            jobs.push((
                c.config.clone(),
                c.labels.clone(),
                c.info.clone(),
                state,
                status,
                files,
                health,
            ));
        }
        for (_, note) in self.notes.values() {
            let c = &note.config;
            jobs.push((
                Arc::new(c.clone()),
                Arc::new(ContainerLabels::of(&c.id, &c.name, &c.image, &c.created)),
                Arc::new(Vec::new()),
                Arc::new(note.state.clone()),
                Status::Exited,
                None,
                None,
            ));
        }
        let removed_ids: HashSet<String> = self.notes.keys().cloned().collect();
        let removed_ids = &removed_ids;
        self.verified.retain(|pid, _| exists(*pid));
        // The cgroup files, in parallel.
        let chunk = jobs.len().div_ceil(READERS).max(1);
        let tables = &tables;
        let mut containers: Vec<ContainerSample> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut buf = Vec::with_capacity(4096);
                        part.iter()
                            .map(|(config, labels, info, state, status, files, health)| {
                                let up = matches!(status, Status::Running | Status::Paused);
                                let exit = state.exit_reading.as_ref().filter(|_| !up);
                                let reading = match (files.as_ref().filter(|_| up), exit) {
                                    (Some(f), _) => f.read(&mut buf),
                                    (None, Some(r)) => r.cgroup.clone(),
                                    (None, None) => Default::default(),
                                };
                                let meters = state.cgroups.as_ref().map(|cg| {
                                    tables.meters(cg, reading.cpu.clone(), reading.pressure.clone())
                                });
                                let cgroup_id = state.cgroups.as_ref().map_or(0, |cg| cg.cgroup_id);
                                let run_kills = meters
                                    .as_ref()
                                    .and_then(|m| m.oom.as_ref())
                                    .map(|o| o.kills)
                                    .or(exit.and_then(|r| r.oom_kills));
                                let oom_kills = (tables.has_oom()
                                    || run_kills.is_some()
                                    || state.oom_kills_before > 0)
                                    .then(|| state.oom_kills_before + run_kills.unwrap_or(0));
                                let last_oom_at = max_opt(
                                    max_opt(
                                        state.last_oom_before,
                                        exit.and_then(|r| r.last_oom_at),
                                    ),
                                    tables.last_oom(cgroup_id),
                                );
                                let finished_at = (!up && *status == Status::Exited)
                                    .then(|| unix(state.finished_at.as_deref()))
                                    .flatten();
                                ContainerSample {
                                    finished_at,
                                    oom_kills,
                                    last_oom_at,
                                    removed: removed_ids.contains(&config.id),
                                    config: config.clone(),
                                    labels: labels.clone(),
                                    info: info.clone(),
                                    state: state.clone(),
                                    status: *status,
                                    meters,
                                    cgroup: reading.memory,
                                    health: health.clone(),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        tracing::debug!(
            maps_ms = maps_read.as_secs_f64() * 1e3,
            containers_ms = (started.elapsed() - maps_read).as_secs_f64() * 1e3,
            "sample read"
        );
        containers.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Sample {
            containers,
            bpf: bpf_health(&pin_dir),
        }
    }
}
