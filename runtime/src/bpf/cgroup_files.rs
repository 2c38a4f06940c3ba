//! The meters the kernel already keeps in a container's cgroup files, read alongside the BPF
//! maps: CPU usage and CFS throttling (cpu.stat, v1 or v2) and pressure stall information
//! (cpu/memory/io.pressure of the cgroup2 dir; present on hybrid hosts too).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cgroups::ContainerCgroups;

/// CPU usage and throttling from the cgroup files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CgroupCpu {
    /// Total CPU time (cgroup2 cpu.stat usage_usec, or v1 cpuacct.usage).
    pub usage_usec: Option<u64>,
    pub user_usec: Option<u64>,
    pub system_usec: Option<u64>,
    /// CFS bandwidth periods, how many of them throttled the container, and for how long
    /// (v2 cpu.stat, or the v1 cpu controller's cpu.stat).
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    pub throttled_usec: Option<u64>,
}

/// One pressure file: `some` (at least one task stalled) and `full` (all stalled).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Psi {
    /// Total stall time, microseconds.
    pub some_total_us: u64,
    pub full_total_us: Option<u64>,
    /// Share of the last 10 s stalled, percent.
    pub some_avg10: f64,
    pub full_avg10: Option<f64>,
}

/// Pressure stall information of the container's cgroup2 dir.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pressure {
    pub cpu: Option<Psi>,
    pub memory: Option<Psi>,
    pub io: Option<Psi>,
}

/// `key value` lines.
fn key_values(path: &Path) -> Option<HashMap<String, u64>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// The v1 directory of the controller owning `file`.
fn v1_dir_with<'a>(cgroups: &'a ContainerCgroups, file: &str) -> Option<&'a Path> {
    cgroups
        .v1_dirs
        .iter()
        .map(|d| d.as_path())
        .find(|d| d.join(file).exists())
}

/// CPU usage and throttling; `None` when the cgroup dirs are gone (the container exited).
pub fn cgroup_cpu(cgroups: &ContainerCgroups) -> Option<CgroupCpu> {
    let mut cpu = CgroupCpu::default();
    let mut found = false;
    if let Some(stat) = cgroups
        .unified_dir
        .as_deref()
        .and_then(|d| key_values(&d.join("cpu.stat")))
    {
        found = true;
        cpu.usage_usec = stat.get("usage_usec").copied();
        cpu.user_usec = stat.get("user_usec").copied();
        cpu.system_usec = stat.get("system_usec").copied();
        cpu.nr_periods = stat.get("nr_periods").copied();
        cpu.nr_throttled = stat.get("nr_throttled").copied();
        cpu.throttled_usec = stat.get("throttled_usec").copied();
    }
    if cpu.nr_periods.is_none() {
        if let Some(stat) =
            v1_dir_with(cgroups, "cpu.cfs_quota_us").and_then(|d| key_values(&d.join("cpu.stat")))
        {
            found = true;
            cpu.nr_periods = stat.get("nr_periods").copied();
            cpu.nr_throttled = stat.get("nr_throttled").copied();
            cpu.throttled_usec = stat.get("throttled_time").map(|ns| ns / 1000);
        }
    }
    if cpu.usage_usec.is_none() {
        if let Some(ns) = v1_dir_with(cgroups, "cpuacct.usage")
            .and_then(|d| std::fs::read_to_string(d.join("cpuacct.usage")).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            found = true;
            cpu.usage_usec = Some(ns / 1000);
        }
    }
    found.then_some(cpu)
}

/// Parses a PSI file (`some avg10=.. avg60=.. avg300=.. total=..` and maybe a `full` line).
pub fn parse_psi(text: &str) -> Option<Psi> {
    let mut psi = Psi::default();
    let mut some = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let kind = fields.next()?;
        let mut avg10 = None;
        let mut total = None;
        for f in fields {
            match f.split_once('=') {
                Some(("avg10", v)) => avg10 = v.parse::<f64>().ok(),
                Some(("total", v)) => total = v.parse::<u64>().ok(),
                _ => {}
            }
        }
        match kind {
            "some" => {
                psi.some_total_us = total?;
                psi.some_avg10 = avg10.unwrap_or(0.0);
                some = true;
            }
            "full" => {
                psi.full_total_us = total;
                psi.full_avg10 = avg10;
            }
            _ => {}
        }
    }
    some.then_some(psi)
}

/// PSI of the container's cgroup2 dir; `None` without one (legacy hosts, exited containers,
/// kernels without PSI).
pub fn pressure(cgroups: &ContainerCgroups) -> Option<Pressure> {
    let dir = cgroups.unified_dir.as_deref()?;
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|t| parse_psi(&t))
    };
    let p = Pressure {
        cpu: read("cpu.pressure"),
        memory: read("memory.pressure"),
        io: read("io.pressure"),
    };
    (p.cpu.is_some() || p.memory.is_some() || p.io.is_some()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_lines_parse() {
        let psi = parse_psi(
            "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\n\
             full avg10=0.25 avg60=0.00 avg300=0.00 total=567\n",
        )
        .unwrap();
        assert_eq!(psi.some_total_us, 1234);
        assert_eq!(psi.full_total_us, Some(567));
        assert_eq!(psi.some_avg10, 1.5);
        assert_eq!(psi.full_avg10, Some(0.25));
        // cpu.pressure of older kernels has no full line.
        let cpu = parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n").unwrap();
        assert_eq!(cpu.full_total_us, None);
        assert!(parse_psi("").is_none());
    }
}
