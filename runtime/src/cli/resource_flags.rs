//! The resource flags of `ebrun run` / `ebrun update` (`-m`, `--cpus`, ...), parsed with
//! Docker's units and validated with Docker's rules and wording into
//! [`ebrun::cgroups::Resources`] before anything is created. Every error names the flag, the
//! value and what is allowed; warnings Docker prints go to stderr.

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use ebrun::cgroups::{check_limits, GivenText, HostCaps, Resources, ThrottleDevice};

/// The flags, boxed: they are many, and `run`'s arguments live in one enum with all others.
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceFlags {
    #[command(flatten)]
    flags: Box<Flags>,
}

#[derive(Debug, Clone, Default, Args)]
struct Flags {
    /// Memory limit (bytes, or a number with unit b, k, m, g).
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", value_name = "bytes")]
    memory_reservation: Option<String>,
    /// Tune container memory swappiness (0 to 100) (default -1).
    #[arg(
        long = "memory-swappiness",
        value_name = "int",
        allow_hyphen_values = true
    )]
    memory_swappiness: Option<String>,
    /// Kernel memory limit (deprecated; no current kernel enforces it).
    #[arg(long = "kernel-memory", value_name = "bytes")]
    kernel_memory: Option<String>,
    /// Disable OOM Killer.
    #[arg(
        long = "oom-kill-disable",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "bool"
    )]
    oom_kill_disable: Option<bool>,
    /// Tune host's OOM preferences (-1000 to 1000).
    #[arg(long = "oom-score-adj", value_name = "int", allow_hyphen_values = true)]
    oom_score_adj: Option<String>,
    /// Number of CPUs.
    #[arg(long = "cpus", value_name = "decimal")]
    cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "int",
        allow_hyphen_values = true
    )]
    cpu_shares: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long = "cpu-period", value_name = "int", allow_hyphen_values = true)]
    cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// Limit CPU real-time period in microseconds.
    #[arg(long = "cpu-rt-period", value_name = "int", allow_hyphen_values = true)]
    cpu_rt_period: Option<String>,
    /// Limit CPU real-time runtime in microseconds.
    #[arg(
        long = "cpu-rt-runtime",
        value_name = "int",
        allow_hyphen_values = true
    )]
    cpu_rt_runtime: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus", value_name = "string")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-mems", value_name = "string")]
    cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0).
    #[arg(long = "blkio-weight", value_name = "uint16")]
    blkio_weight: Option<String>,
    /// Limit read rate (bytes per second) from a device.
    #[arg(long = "device-read-bps", value_name = "list")]
    device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device.
    #[arg(long = "device-write-bps", value_name = "list")]
    device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device.
    #[arg(long = "device-read-iops", value_name = "list")]
    device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device.
    #[arg(long = "device-write-iops", value_name = "list")]
    device_write_iops: Vec<String>,
}

/// An error naming the flag, the value given and Docker's reason (which states the range).
fn invalid(flag: &str, value: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("invalid {flag} value \"{value}\": {reason}")
}

fn warn(message: &str) {
    eprintln!("WARNING: {message}");
}

impl ResourceFlags {
    /// `ebrun run`: the flags parsed and validated against this host; warnings printed.
    pub fn to_resources(&self) -> Result<Resources> {
        self.flags.to_resources()
    }

    /// `ebrun update`: the flags given, validated together with the container's current
    /// limits; returns (the changes, the merged limits). Warnings printed.
    pub fn to_update(&self, current: &Resources) -> Result<(Resources, Resources)> {
        self.flags.to_update(current)
    }

    /// True when no resource flag was given.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Units and syntax of the flags, checked before any container is looked up (as
    /// Docker's CLI parses flags first).
    pub fn check_syntax(&self) -> Result<()> {
        self.flags.parse().map(|_| ())
    }
}

impl Flags {
    /// `ebrun run`: the flags parsed and validated against this host; warnings printed.
    pub fn to_resources(&self) -> Result<Resources> {
        let caps = HostCaps::detect();
        let r = self.parse()?;
        let (r, warnings) = check_limits(r, &self.given(), &caps, false)?;
        warnings.iter().for_each(|w| warn(w));
        Ok(r)
    }

    /// `ebrun update`: the flags given, validated together with the container's current
    /// limits; returns (the changes, the merged limits). Warnings printed.
    pub fn to_update(&self, current: &Resources) -> Result<(Resources, Resources)> {
        let caps = HostCaps::detect();
        let given = self.parse()?;
        let mut merged = current.clone();
        merged.merge(&given);
        let (merged, warnings) = check_limits(merged, &self.given(), &caps, true)?;
        warnings.iter().for_each(|w| warn(w));
        Ok((given, merged))
    }

    /// True when no resource flag was given.
    pub fn is_empty(&self) -> bool {
        self.parse().map(|r| r.is_empty()).unwrap_or(false) && self.oom_kill_disable.is_none()
    }

    /// The flags' text, for the messages of [`check_limits`].
    fn given(&self) -> GivenText {
        GivenText {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            kernel_memory: self.kernel_memory.clone(),
            oom_kill_disable: self.oom_kill_disable,
            oom_score_adj: self.oom_score_adj.clone(),
            cpus: self.cpus.clone(),
            cpu_period: self.cpu_period.clone(),
            cpu_quota: self.cpu_quota.clone(),
            cpu_rt_period: self.cpu_rt_period.clone(),
            cpu_rt_runtime: self.cpu_rt_runtime.clone(),
            blkio_weight: self.blkio_weight.clone(),
        }
    }

    /// Units and syntax only (Docker's CLI-side parsing).
    fn parse(&self) -> Result<Resources> {
        let mut r = Resources {
            memory: self
                .memory
                .as_deref()
                .map(|v| ram("-m, --memory", v))
                .transpose()?,
            memory_swap: self
                .memory_swap
                .as_deref()
                .map(|v| {
                    if v == "-1" {
                        Ok(-1)
                    } else {
                        ram("--memory-swap", v)
                    }
                })
                .transpose()?,
            memory_reservation: self
                .memory_reservation
                .as_deref()
                .map(|v| ram("--memory-reservation", v))
                .transpose()?,
            memory_swappiness: None,
            kernel_memory: self
                .kernel_memory
                .as_deref()
                .map(|v| ram("--kernel-memory", v))
                .transpose()?,
            oom_kill_disable: self.oom_kill_disable,
            oom_score_adj: self
                .oom_score_adj
                .as_deref()
                .map(|v| int::<i32>("--oom-score-adj", v))
                .transpose()?,
            nano_cpus: self.cpus.as_deref().map(nano_cpus).transpose()?,
            cpu_shares: None,
            cpu_period: self
                .cpu_period
                .as_deref()
                .map(|v| int::<i64>("--cpu-period", v))
                .transpose()?
                .filter(|p| *p != 0)
                .map(|p| p.max(0) as u64),
            cpu_quota: self
                .cpu_quota
                .as_deref()
                .map(|v| int::<i64>("--cpu-quota", v))
                .transpose()?
                .filter(|q| *q != 0),
            cpu_rt_period: self
                .cpu_rt_period
                .as_deref()
                .map(|v| int::<i64>("--cpu-rt-period", v))
                .transpose()?
                .filter(|p| *p != 0)
                .map(|p| p.max(0) as u64),
            cpu_rt_runtime: self
                .cpu_rt_runtime
                .as_deref()
                .map(|v| int::<i64>("--cpu-rt-runtime", v))
                .transpose()?
                .filter(|q| *q != 0),
            cpuset_cpus: self.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            cpuset_mems: self.cpuset_mems.clone().filter(|s| !s.is_empty()),
            pids_limit: self
                .pids_limit
                .as_deref()
                .map(|v| int::<i64>("--pids-limit", v))
                .transpose()?,
            blkio_weight: self
                .blkio_weight
                .as_deref()
                .map(|v| int::<u16>("--blkio-weight", v))
                .transpose()?
                .filter(|w| *w != 0),
            device_read_bps: throttles("--device-read-bps", &self.device_read_bps, true)?,
            device_write_bps: throttles("--device-write-bps", &self.device_write_bps, true)?,
            device_read_iops: throttles("--device-read-iops", &self.device_read_iops, false)?,
            device_write_iops: throttles("--device-write-iops", &self.device_write_iops, false)?,
        };
        if r.memory == Some(0) {
            r.memory = None;
        }
        if r.memory_swap == Some(0) {
            r.memory_swap = None;
        }
        if r.memory_reservation == Some(0) {
            r.memory_reservation = None;
        }
        if r.kernel_memory == Some(0) {
            r.kernel_memory = None;
        }
        if r.nano_cpus == Some(0) {
            r.nano_cpus = None;
        }
        if let Some(v) = self.memory_swappiness.as_deref() {
            let s = int::<i64>("--memory-swappiness", v)?;
            if s != -1 {
                if !(0..=100).contains(&s) {
                    bail!(invalid(
                        "--memory-swappiness",
                        v,
                        format!("Invalid value: {s}, valid memory swappiness range is 0-100")
                    ));
                }
                r.memory_swappiness = Some(s as u64);
            }
        }
        if let Some(v) = self.cpu_shares.as_deref() {
            let shares = int::<i64>("-c, --cpu-shares", v)?;
            if shares < 0 {
                bail!(invalid(
                    "-c/--cpu-shares",
                    v,
                    format!("invalid CPU shares ({shares}): value must be a positive integer")
                ));
            }
            // Docker clamps to the kernel's range 2..262144; 0 means the default.
            if shares > 0 {
                r.cpu_shares = Some((shares as u64).clamp(2, 262_144));
            }
        }
        Ok(r)
    }
}

/// go-units `RAMInBytes`: `64m`, `1.5g`, `512k`, `100` (bytes), `64MiB`; binary multiples.
pub(super) fn ram(flag: &str, value: &str) -> Result<i64> {
    let err = || {
        anyhow::anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: invalid size: '{value}' (a number with an optional unit b, k, m, g, t or p, e.g. 64m)")
    };
    let s = value.trim();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    if num.is_empty() || num.starts_with('.') {
        return Err(err());
    }
    let num: f64 = num.parse().map_err(|_| err())?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let mut chars = unit.chars();
    let mult: f64 = match chars.next() {
        None | Some('b') if unit.len() <= 1 => 1.0,
        Some('k') => 1024.0,
        Some('m') => 1024f64.powi(2),
        Some('g') => 1024f64.powi(3),
        Some('t') => 1024f64.powi(4),
        Some('p') => 1024f64.powi(5),
        _ => return Err(err()),
    };
    let rest: String = chars.collect();
    if !matches!(rest.as_str(), "" | "b" | "i" | "ib") || (unit == "b" && !rest.is_empty()) {
        return Err(err());
    }
    let bytes = num * mult;
    if bytes > i64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as i64)
}

fn int<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T> {
    value.trim().parse::<T>().map_err(|_| {
        anyhow::anyhow!(
            "invalid argument \"{value}\" for \"{flag}\" flag: strconv.ParseInt: parsing \"{value}\": invalid syntax (an integer)"
        )
    })
}

/// `--cpus 1.5` -> 1_500_000_000 (Docker's NanoCPUs, at most 9 decimals).
fn nano_cpus(value: &str) -> Result<i64> {
    let bad = || {
        anyhow::anyhow!(
            "invalid argument \"{value}\" for \"--cpus\" flag: failed to parse {value} as a rational number"
        )
    };
    let s = value.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > 9 {
        bail!("invalid argument \"{value}\" for \"--cpus\" flag: value is too precise (at most 9 decimals)");
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac_nanos: i64 = if frac_trimmed.is_empty() {
        0
    } else {
        format!("{frac_trimmed:0<9}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(frac_nanos))
        .ok_or_else(bad)
}

/// Docker's `parsers.ParseUintList`: `0-2,4`.
/// `--device-read-bps /dev/vda:1mb` (rates with units) or `--device-read-iops /dev/vda:100`.
fn throttles(flag: &str, values: &[String], bytes: bool) -> Result<Vec<ThrottleDevice>> {
    values
        .iter()
        .map(|v| {
            let Some((path, rate)) = v.rsplit_once(':') else {
                bail!(invalid(
                    flag,
                    v,
                    format!("bad format: {v} (<device-path>:<rate>)")
                ));
            };
            if !path.starts_with("/dev/") {
                bail!(invalid(flag, v, format!("bad format for device path: {v}")));
            }
            let rate = if bytes {
                ram(flag, rate).ok().filter(|r| *r >= 0).map(|r| r as u64)
            } else {
                rate.parse::<u64>().ok()
            };
            let Some(rate) = rate else {
                let unit = if bytes { "[<unit>]" } else { "" };
                let tail = if bytes {
                    ". Unit is optional and can be kb, mb, or gb"
                } else {
                    ""
                };
                bail!(invalid(
                    flag,
                    v,
                    format!(
                        "invalid rate for device: {v}. The correct format is \
                         <device-path>:<number>{unit}. Number must be a positive integer{tail}"
                    )
                ));
            };
            let meta =
                std::fs::metadata(path).map_err(|e| invalid(flag, v, format!("{path}: {e}")))?;
            if !meta.file_type().is_block_device() {
                bail!(invalid(flag, v, format!("{path} is not a block device")));
            }
            use std::os::unix::fs::MetadataExt;
            let rdev = meta.rdev();
            Ok(ThrottleDevice {
                path: PathBuf::from(path),
                major: u64::from(nix::sys::stat::major(rdev) as u32),
                minor: u64::from(nix::sys::stat::minor(rdev) as u32),
                rate,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_units() {
        assert_eq!(ram("-m", "64m").unwrap(), 64 << 20);
        assert_eq!(ram("-m", "1g").unwrap(), 1 << 30);
        assert_eq!(ram("-m", "1.5g").unwrap(), 3 << 29);
        assert_eq!(ram("-m", "512k").unwrap(), 512 << 10);
        assert_eq!(ram("-m", "100").unwrap(), 100);
        assert_eq!(ram("-m", "100b").unwrap(), 100);
        assert_eq!(ram("-m", "64MiB").unwrap(), 64 << 20);
        assert_eq!(ram("-m", "64mb").unwrap(), 64 << 20);
        assert!(ram("-m", "abc").is_err());
        assert!(ram("-m", "-5m").is_err());
        assert!(ram("-m", "5x").is_err());
    }

    #[test]
    fn cpus_to_nanos() {
        assert_eq!(nano_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(nano_cpus("2").unwrap(), 2_000_000_000);
        assert_eq!(nano_cpus(".25").unwrap(), 250_000_000);
        assert!(nano_cpus("abc").is_err());
        assert!(nano_cpus("0.0000000001").is_err());
    }
}
