//! cgroups behind one interface for legacy v1, hybrid (v1 controllers + a cgroup2 dir per
//! container, as on the development machine) and pure cgroup v2 hosts.
//!
//! eBPF sees only cgroup2 ids, so on hybrid hosts every container gets a cgroup2 directory of
//! its own beside its v1 directories (PLATFORM.md).

mod apply;
mod container;
mod devices;
mod freezer;
mod host;
mod layout;
mod limits_check;
mod namespace;
mod oci_resources;
mod resources;
mod stats;

pub use container::ContainerCgroups;
pub use devices::DEFAULT_DEVICE_RULES;
pub use host::{host_memory, HostCaps};
pub use layout::{unified_mount, Layout};
pub use limits_check::{check_limits, GivenText, MIN_MEMORY};
pub use namespace::CgroupnsMode;
pub use oci_resources::{allows_all_devices, device_rules, from_oci_resources, to_oci_resources};
pub use resources::{
    blkio_weight_to_io_weight, shares_to_weight, Resources, ThrottleDevice, DEFAULT_CPU_PERIOD_US,
};
pub use stats::CgroupStats;

use std::path::{Path, PathBuf};

/// Errors of the cgroups module.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("create cgroup {path}: {message}")]
    Create { path: String, message: String },
    #[error("add process {pid} to cgroup {path}: {message}")]
    AddTask {
        pid: i32,
        path: String,
        message: String,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused a limit.
    #[error("cannot apply {flag}: {detail}")]
    Limit { flag: &'static str, detail: String },
    /// A limit Docker's rules refuse (the message names the flag, value and range).
    #[error("{0}")]
    InvalidLimit(String),
    #[error("no cgroup2 hierarchy is mounted (looked for {0})")]
    NoCgroup2(&'static str),
}

/// SIGKILLs every process listed in a cgroup directory's `cgroup.procs`.
pub fn kill_all(dir: &Path) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills every process left in a cgroup directory and removes it, retrying while the kernel
/// finishes tearing the processes down (the undo of a cgroup ebrun made).
pub fn remove_dir(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut last = None;
    for attempt in 0..200 {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        kill_all(path);
        std::thread::sleep(std::time::Duration::from_millis(if attempt < 20 {
            1
        } else {
            10
        }));
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cgroup busy")))
}

/// The mount point of every cgroup hierarchy (v1 controllers and cgroup2).
pub fn hierarchy_roots() -> Vec<PathBuf> {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            let fstype = *fields.get(sep + 1)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(fields[4]))
        })
        .collect()
}
