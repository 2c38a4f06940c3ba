//! Docker's daemon-side rules for resource limits (`verifyPlatformContainerResources`),
//! shared by `ebrun run`/`update` and the Engine API's create/update: one place says what
//! is allowed. Errors name the flag, the value as given and the allowed range; warnings are
//! Docker's wording, for the caller to show.

use super::{CgroupError, HostCaps, Layout, Resources};

/// Docker's smallest memory limit, reservation and kernel memory limit (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// How each limit was given, for the messages: the CLI's flag text (`64m`), or the API's
/// numbers. `None`: not given in this request.
#[derive(Debug, Clone, Default)]
pub struct GivenText {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub kernel_memory: Option<String>,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: Option<String>,
    pub cpus: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub blkio_weight: Option<String>,
}

impl GivenText {
    /// The limits set in `r`, shown as numbers (`--cpus` as a decimal): the Engine API's
    /// view of a request.
    pub fn of_values(r: &Resources) -> GivenText {
        let n = |v: Option<i64>| v.map(|v| v.to_string());
        GivenText {
            memory: n(r.memory),
            memory_swap: n(r.memory_swap),
            memory_reservation: n(r.memory_reservation),
            kernel_memory: n(r.kernel_memory),
            oom_kill_disable: r.oom_kill_disable,
            oom_score_adj: n(r.oom_score_adj.map(i64::from)),
            cpus: r.nano_cpus.map(|c| format!("{}", c as f64 / 1e9)),
            cpu_period: n(r.cpu_period.map(|p| p as i64)),
            cpu_quota: n(r.cpu_quota),
            cpu_rt_period: n(r.cpu_rt_period.map(|p| p as i64)),
            cpu_rt_runtime: n(r.cpu_rt_runtime),
            blkio_weight: n(r.blkio_weight.map(i64::from)),
        }
    }
}

/// An error naming the flag, the value given and Docker's reason (which states the range).
fn invalid(flag: &str, value: &str, reason: impl std::fmt::Display) -> String {
    format!("invalid {flag} value \"{value}\": {reason}")
}

macro_rules! bail {
    ($msg:literal) => {
        return Err(CgroupError::InvalidLimit(format!($msg)))
    };
    ($e:expr) => {
        return Err(CgroupError::InvalidLimit($e))
    };
}

/// Docker's daemon-side rules (`verifyPlatformContainerResources`), on the whole set of
/// limits the container will have. Returns them adjusted as Docker adjusts them (features
/// the host lacks discarded) and the warnings to print.
pub fn check_limits(
    mut r: Resources,
    given: &GivenText,
    caps: &HostCaps,
    update: bool,
) -> Result<(Resources, Vec<String>), CgroupError> {
    let mut warnings = Vec::new();
    let shown = |raw: &Option<String>, v: Option<i64>| {
        raw.clone()
            .unwrap_or_else(|| v.map(|v| v.to_string()).unwrap_or_default())
    };
    // Memory.
    if let Some(mem) = r.memory {
        if mem < MIN_MEMORY {
            bail!(invalid(
                "-m/--memory",
                &shown(&given.memory, Some(mem)),
                "Minimum memory limit allowed is 6MB"
            ));
        }
    }
    if let (Some(mem), Some(swap)) = (r.memory, r.memory_swap) {
        if swap > 0 && swap < mem {
            bail!(invalid(
                "--memory-swap",
                &shown(&given.memory_swap, Some(swap)),
                format!(
                    "Minimum memoryswap limit should be larger than memory limit, see usage \
                     (-m/--memory is {}; allowed: -1 for unlimited swap, or at least the memory limit)",
                    shown(&given.memory, Some(mem))
                )
            ));
        }
    }
    if r.memory.is_none() && r.memory_swap.is_some_and(|s| s > 0) && !update {
        bail!(invalid(
            "--memory-swap",
            &shown(&given.memory_swap, r.memory_swap),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        ));
    }
    if r.memory.is_some() && r.memory_swap != Some(-1) && !caps.swap_limit {
        warnings.push(
            "Your kernel does not support swap limit capabilities or the cgroup is not \
             mounted. Memory limited without swap."
                .to_string(),
        );
        r.memory_swap = Some(-1);
    }
    if r.memory_swappiness.is_some() && !caps.swappiness {
        warnings.push(
            "Your kernel does not support memory swappiness capabilities or the cgroup is \
             not mounted. Memory swappiness discarded."
                .to_string(),
        );
        r.memory_swappiness = None;
    }
    if let Some(res) = r.memory_reservation {
        if res < MIN_MEMORY {
            bail!(invalid(
                "--memory-reservation",
                &shown(&given.memory_reservation, Some(res)),
                "Minimum memory reservation allowed is 6MB"
            ));
        }
        if let Some(mem) = r.memory.filter(|m| *m < res) {
            bail!(invalid(
                "--memory-reservation",
                &shown(&given.memory_reservation, Some(res)),
                format!(
                    "Minimum memory limit can not be less than memory reservation limit, \
                     see usage (-m/--memory is {})",
                    shown(&given.memory, Some(mem))
                )
            ));
        }
    }
    if let Some(kmem) = r.kernel_memory {
        if given.kernel_memory.is_some() {
            warnings.push(
                "Specifying a kernel memory limit is deprecated and will be removed in a \
                 future release."
                    .to_string(),
            );
        }
        if kmem < MIN_MEMORY {
            bail!(invalid(
                "--kernel-memory",
                &shown(&given.kernel_memory, Some(kmem)),
                "Minimum kernel memory limit allowed is 6MB"
            ));
        }
        // cgroup v2 has no such limit, and v1's kmem.limit_in_bytes stopped limiting in
        // Linux 5.16 (writes are accepted and ignored) before it was removed in 6.5.
        if given.kernel_memory.is_some() {
            warnings.push(
                "Your kernel does not support kernel memory limit capabilities or the \
                 cgroup is not mounted. Limitation discarded."
                    .to_string(),
            );
        }
    }
    if r.oom_kill_disable == Some(true) && given.oom_kill_disable.is_some() {
        if !caps.oom_kill_disable {
            warnings.push(
                "Your kernel does not support OomKillDisable. OomKillDisable discarded."
                    .to_string(),
            );
            r.oom_kill_disable = None;
        } else if r.memory.is_none() {
            warnings.push(
                "Disabling the OOM killer on containers without setting a '-m/--memory' \
                 limit may be dangerous."
                    .to_string(),
            );
        }
    }
    if let Some(adj) = r.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            bail!(invalid(
                "--oom-score-adj",
                &shown(&given.oom_score_adj, Some(i64::from(adj))),
                format!("Invalid value {adj}, range for oom score adj is [-1000, 1000]")
            ));
        }
    }
    // CPU.
    let cpus_raw = given.cpus.clone().unwrap_or_default();
    if r.nano_cpus.is_some() && given.cpus.is_some() {
        if let Some(p) = r.cpu_period {
            bail!(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set \
                 (--cpus {cpus_raw} and --cpu-period {p}: give one or the other)"
            );
        }
        if let Some(q) = r.cpu_quota {
            bail!(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set \
                 (--cpus {cpus_raw} and --cpu-quota {q}: give one or the other)"
            );
        }
    }
    if let Some(nano) = r.nano_cpus {
        let n = caps.num_cpus as i64;
        if !(10_000_000..=n * 1_000_000_000).contains(&nano) {
            bail!(invalid(
                "--cpus",
                &cpus_raw,
                format!(
                    "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
                )
            ));
        }
    }
    if let Some(p) = r.cpu_period {
        if !(1000..=1_000_000).contains(&p) {
            bail!(invalid(
                "--cpu-period",
                &shown(&given.cpu_period, Some(p as i64)),
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
            ));
        }
    }
    if let Some(q) = r.cpu_quota {
        if q > 0 && q < 1000 {
            bail!(invalid(
                "--cpu-quota",
                &shown(&given.cpu_quota, Some(q)),
                "CPU cfs quota can not be less than 1ms (i.e. 1000); -1 for unlimited"
            ));
        }
    }
    if let Some(cpus) = &r.cpuset_cpus {
        check_cpuset("--cpuset-cpus", "cpus", "CPUs", cpus, &caps.cpuset_cpus)?;
    }
    if let Some(mems) = &r.cpuset_mems {
        check_cpuset(
            "--cpuset-mems",
            "mems",
            "memory nodes",
            mems,
            &caps.cpuset_mems,
        )?;
    }
    let rt_flag = if r.cpu_rt_runtime.is_some() {
        "--cpu-rt-runtime"
    } else {
        "--cpu-rt-period"
    };
    if (r.cpu_rt_period.is_some() || r.cpu_rt_runtime.is_some()) && !caps.cpu_realtime {
        let raw = if r.cpu_rt_runtime.is_some() {
            shown(&given.cpu_rt_runtime, r.cpu_rt_runtime)
        } else {
            shown(&given.cpu_rt_period, r.cpu_rt_period.map(|p| p as i64))
        };
        bail!(invalid(
            rt_flag,
            &raw,
            match caps.layout {
                Layout::Unified => {
                    "Your kernel does not support CPU real-time scheduler (cgroup v2 has no \
                     real-time CPU controller)"
                }
                _ => "Your kernel does not support CPU real-time scheduler",
            }
        ));
    }
    if let (Some(p), Some(rt)) = (r.cpu_rt_period, r.cpu_rt_runtime) {
        if rt > p as i64 {
            bail!(invalid(
                "--cpu-rt-runtime",
                &shown(&given.cpu_rt_runtime, Some(rt)),
                format!("cpu-rt-runtime cannot be higher than cpu-rt-period ({p})")
            ));
        }
    }
    if let Some(rt) = r.cpu_rt_runtime.filter(|rt| *rt > 0) {
        bail!(invalid(
            "--cpu-rt-runtime",
            &shown(&given.cpu_rt_runtime, Some(rt)),
            "real-time CPU time is not supported: ebrun allots no real-time budget to its \
             parent cgroup (cpu.rt_runtime_us is 0 there, as with dockerd without \
             --cpu-rt-runtime); allowed: 0"
        ));
    }
    // Block I/O.
    if let Some(w) = r.blkio_weight {
        if !(10..=1000).contains(&w) {
            bail!(invalid(
                "--blkio-weight",
                &shown(&given.blkio_weight, Some(i64::from(w))),
                "Range of blkio weight is from 10 to 1000 (0 to disable)"
            ));
        }
        if !caps.blkio_weight {
            warnings.push(
                "Your kernel does not support Block I/O weight or the cgroup is not \
                 mounted. Weight discarded."
                    .to_string(),
            );
            r.blkio_weight = None;
        }
    }
    Ok((r, warnings))
}

/// `0-1,3` as its numbers.
fn parse_list(list: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.parse().ok()?;
                let b: u32 = b.parse().ok()?;
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

fn check_cpuset(
    flag: &str,
    kind: &str,
    noun: &str,
    value: &str,
    available: &str,
) -> Result<(), CgroupError> {
    let Some(wanted) = parse_list(value) else {
        bail!(invalid(
            flag,
            value,
            format!(
                "Invalid value {value} for cpuset {kind}: invalid format: {value} \
                 (a list like 0-1,3; available: {available})"
            )
        ));
    };
    let have = parse_list(available).unwrap_or_default();
    if wanted.iter().any(|c| !have.contains(c)) {
        bail!(invalid(
            flag,
            value,
            format!(
                "Requested {noun} are not available - requested {value}, available: {available}"
            )
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_list("0-1,3"), Some(vec![0, 1, 3]));
        assert_eq!(parse_list("1"), Some(vec![1]));
        assert_eq!(parse_list("a"), None);
        assert_eq!(parse_list("3-1"), None);
    }

    #[test]
    fn api_numbers_are_named_in_errors() {
        let r = Resources {
            memory: Some(1024),
            ..Default::default()
        };
        let e = check_limits(
            r.clone(),
            &GivenText::of_values(&r),
            &HostCaps::detect(),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid -m/--memory value \"1024\": Minimum memory limit allowed is 6MB"
        );
    }
}
