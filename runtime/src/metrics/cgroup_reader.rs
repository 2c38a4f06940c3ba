//! A container's cgroup counters read for a scrape: the few files the metrics need, opened
//! once per container run and read again from offset 0 on every scrape (kernfs regenerates
//! the text then), into a reused buffer: one system call per file and scrape.
//!
//! The values are those of [`crate::bpf::cgroup_cpu`], [`crate::bpf::pressure`] and
//! [`ContainerCgroups::stats`] (same files, same parsing); those read more (and probe for
//! the files) on every call, which is right for `inspect` and `stats` but too slow for a
//! scrape of hundreds of containers.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bpf::{parse_psi, CgroupCpu, Pressure};
use crate::cgroups::{ContainerCgroups, Layout};

/// Larger than any memory a host has: the kernel's "no limit" on v1.
const UNLIMITED: u64 = 1 << 62;

/// A container's counter files, open.
#[derive(Debug, Default)]
pub struct CgroupFiles {
    /// cgroup2 `cpu.stat` and the three PSI files.
    cpu_stat: Option<File>,
    cpu_pressure: Option<File>,
    memory_pressure: Option<File>,
    io_pressure: Option<File>,
    has_unified: bool,
    /// v1 `cpu.stat` (CFS throttling) and `cpuacct.usage`, on v1/hybrid hosts.
    cpu_stat_v1: Option<File>,
    cpuacct_usage: Option<File>,
    /// Memory usage, memory.stat, limit; and whether they are cgroup2's.
    memory_usage: Option<File>,
    memory_stat: Option<File>,
    memory_limit: Option<File>,
    /// The highest usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`) and the times
    /// the limit was hit (v1 `memory.failcnt`, v2 `memory.events`' `max`).
    memory_max_usage: Option<File>,
    memory_failcnt: Option<File>,
    memory_v2: bool,
    pids_current: Option<File>,
}

fn open_in(dir: Option<&Path>, name: &str) -> Option<File> {
    File::open(dir?.join(name)).ok()
}

/// Memory and tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemoryPids {
    pub memory_usage: u64,
    pub memory_inactive_file: u64,
    pub memory_limit: Option<u64>,
    /// The highest usage of the run; `None` where the kernel does not keep it.
    #[serde(default)]
    pub memory_max_usage: Option<u64>,
    /// Times the usage hit the limit.
    #[serde(default)]
    pub memory_limit_hits: Option<u64>,
    pub pids: u64,
}

/// Everything read from the cgroup files for one container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CgroupReading {
    pub cpu: Option<CgroupCpu>,
    pub pressure: Option<Pressure>,
    pub memory: Option<MemoryPids>,
}

/// A run's last readings, taken by whoever supervised it (the monitor, or a foreground
/// `run`) as its init exited and before its cgroups went, and kept in the state until the
/// next start or `rm`: what the exporter reports for a container that exited, so its
/// memory, CPU and pressure series end at their final values instead of vanishing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExitReading {
    /// When it was read, Unix time in seconds.
    pub at: f64,
    pub cgroup: CgroupReading,
    /// OOM kills of the run (eBPF) and when the last one happened (Unix seconds).
    #[serde(default)]
    pub oom_kills: Option<u64>,
    #[serde(default)]
    pub last_oom_at: Option<f64>,
}

impl ExitReading {
    /// Reads the run's cgroup files and its OOM meter now (its init has exited; the cgroups
    /// still exist).
    pub fn take(cg: &ContainerCgroups, pin_dir: &Path) -> Self {
        let mut buf = Vec::with_capacity(8192);
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let oom = (cg.cgroup_id != 0)
            .then(|| crate::bpf::oom_kills_of(pin_dir, cg.cgroup_id))
            .flatten();
        ExitReading {
            at,
            cgroup: CgroupFiles::of(cg).read(&mut buf),
            oom_kills: oom.as_ref().map(|(n, _)| *n),
            last_oom_at: oom.and_then(|(_, t)| t),
        }
    }
}

impl CgroupFiles {
    /// Opens the files of a run (this loads the v1 hierarchy: do it once per run).
    pub fn of(cg: &ContainerCgroups) -> Self {
        let unified = cg.unified_dir.as_deref();
        let mut f = CgroupFiles {
            cpu_stat: open_in(unified, "cpu.stat"),
            cpu_pressure: open_in(unified, "cpu.pressure"),
            memory_pressure: open_in(unified, "memory.pressure"),
            io_pressure: open_in(unified, "io.pressure"),
            has_unified: unified.is_some(),
            ..CgroupFiles::default()
        };
        match cg.layout {
            Layout::Unified => {
                f.memory_usage = open_in(unified, "memory.current");
                f.memory_stat = open_in(unified, "memory.stat");
                f.memory_limit = open_in(unified, "memory.max");
                f.memory_max_usage = open_in(unified, "memory.peak");
                f.memory_failcnt = open_in(unified, "memory.events");
                f.memory_v2 = true;
                f.pids_current = open_in(unified, "pids.current");
            }
            Layout::Hybrid | Layout::Legacy => {
                f.cpu_stat_v1 = open_in(cg.v1_dir("cpu"), "cpu.stat");
                f.cpuacct_usage = open_in(cg.v1_dir("cpuacct"), "cpuacct.usage");
                let memory = cg.v1_dir("memory");
                f.memory_usage = open_in(memory, "memory.usage_in_bytes");
                f.memory_stat = open_in(memory, "memory.stat");
                f.memory_limit = open_in(memory, "memory.limit_in_bytes");
                f.memory_max_usage = open_in(memory, "memory.max_usage_in_bytes");
                f.memory_failcnt = open_in(memory, "memory.failcnt");
                f.pids_current = open_in(cg.v1_dir("pids"), "pids.current");
            }
        }
        f
    }

    /// Reads the counters; `None` parts for files that are gone (the container exited).
    pub fn read(&self, buf: &mut Vec<u8>) -> CgroupReading {
        CgroupReading {
            cpu: self.cpu(buf),
            pressure: self.pressure(buf),
            memory: self.memory(buf),
        }
    }

    fn cpu(&self, buf: &mut Vec<u8>) -> Option<CgroupCpu> {
        let mut cpu = CgroupCpu::default();
        let mut found = false;
        if let Some(text) = read(&self.cpu_stat, buf) {
            found = true;
            for (k, v) in key_values(text) {
                match k {
                    "usage_usec" => cpu.usage_usec = Some(v),
                    "user_usec" => cpu.user_usec = Some(v),
                    "system_usec" => cpu.system_usec = Some(v),
                    "nr_periods" => cpu.nr_periods = Some(v),
                    "nr_throttled" => cpu.nr_throttled = Some(v),
                    "throttled_usec" => cpu.throttled_usec = Some(v),
                    _ => {}
                }
            }
        }
        if cpu.nr_periods.is_none() {
            if let Some(text) = read(&self.cpu_stat_v1, buf) {
                found = true;
                for (k, v) in key_values(text) {
                    match k {
                        "nr_periods" => cpu.nr_periods = Some(v),
                        "nr_throttled" => cpu.nr_throttled = Some(v),
                        "throttled_time" => cpu.throttled_usec = Some(v / 1000),
                        _ => {}
                    }
                }
            }
        }
        if cpu.usage_usec.is_none() {
            if let Some(ns) =
                read(&self.cpuacct_usage, buf).and_then(|t| t.trim().parse::<u64>().ok())
            {
                found = true;
                cpu.usage_usec = Some(ns / 1000);
            }
        }
        found.then_some(cpu)
    }

    fn pressure(&self, buf: &mut Vec<u8>) -> Option<Pressure> {
        if !self.has_unified {
            return None;
        }
        let p = Pressure {
            cpu: read(&self.cpu_pressure, buf).and_then(parse_psi),
            memory: read(&self.memory_pressure, buf).and_then(parse_psi),
            io: read(&self.io_pressure, buf).and_then(parse_psi),
        };
        (p.cpu.is_some() || p.memory.is_some() || p.io.is_some()).then_some(p)
    }

    fn memory(&self, buf: &mut Vec<u8>) -> Option<MemoryPids> {
        let number = |f: &Option<File>, buf: &mut Vec<u8>| -> Option<u64> {
            read(f, buf).and_then(|t| t.trim().parse().ok())
        };
        let mut m = MemoryPids {
            memory_usage: number(&self.memory_usage, buf)?,
            ..MemoryPids::default()
        };
        let inactive = if self.memory_v2 {
            "inactive_file"
        } else {
            "total_inactive_file"
        };
        if let Some(text) = read(&self.memory_stat, buf) {
            m.memory_inactive_file = key_values(text)
                .find(|(k, _)| *k == inactive)
                .map_or(0, |(_, v)| v);
        }
        // v2 says "max" when unlimited: no number, no limit.
        m.memory_limit = number(&self.memory_limit, buf).filter(|l| *l > 0 && *l < UNLIMITED);
        m.memory_max_usage = number(&self.memory_max_usage, buf);
        m.memory_limit_hits = if self.memory_v2 {
            read(&self.memory_failcnt, buf)
                .and_then(|t| key_values(t).find(|(k, _)| *k == "max").map(|(_, v)| v))
        } else {
            number(&self.memory_failcnt, buf)
        };
        m.pids = number(&self.pids_current, buf).unwrap_or(0);
        Some(m)
    }
}

/// The file's current text, read from offset 0 into `buf`; `None` if there is no file or
/// it cannot be read (its cgroup is gone).
fn read<'a>(file: &Option<File>, buf: &'a mut Vec<u8>) -> Option<&'a str> {
    let file = file.as_ref()?;
    buf.clear();
    if buf.capacity() < 8192 {
        buf.reserve(8192);
    }
    let mut len = 0;
    loop {
        buf.resize(buf.capacity(), 0);
        let n = file.read_at(&mut buf[len..], len as u64).ok()?;
        len += n;
        // A short read has the whole text (kernfs fills the buffer as far as it can).
        if n == 0 || len < buf.len() {
            break;
        }
        buf.reserve(buf.len());
    }
    buf.truncate(len);
    std::str::from_utf8(buf).ok()
}

/// `key value` lines with numeric values.
fn key_values(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once(' ')?;
        Some((k, v.trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_and_key_values_parse() {
        let psi = parse_psi(
            "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\n\
             full avg10=0.25 avg60=0.00 avg300=0.00 total=567\n",
        )
        .unwrap();
        assert_eq!((psi.some_total_us, psi.full_total_us), (1234, Some(567)));
        assert!(parse_psi("").is_none());
        let kv: Vec<_> = key_values("usage_usec 10\nuser_usec 7\nbad x\n").collect();
        assert_eq!(kv, [("usage_usec", 10), ("user_usec", 7)]);
    }
}
