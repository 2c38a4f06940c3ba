//! Masked paths (made unreadable) and read-only paths (`linux.maskedPaths`,
//! `linux.readonlyPaths`); Docker's defaults are here for its front end.

use std::path::Path;

use nix::mount::{mount, MsFlags};

use super::RootfsError;

/// Docker's default masked paths: files get /dev/null bound over them, directories an empty
/// read-only tmpfs.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's default masked paths on this host (Docker 28): [`MASKED_PATHS`], /proc/interrupts,
/// and each possible CPU's `thermal_throttle` directory that exists.
pub fn masked_paths() -> Vec<String> {
    let mut paths: Vec<String> = MASKED_PATHS.iter().map(|s| s.to_string()).collect();
    paths.push("/proc/interrupts".to_string());
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    for cpu in cpu_list(possible.trim()) {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/thermal_throttle");
        if Path::new(&path).exists() {
            paths.push(path);
        }
    }
    paths
}

/// A kernel CPU list (`0-3,8`) as numbers.
fn cpu_list(text: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<u32>().ok()),
        }
    }
    cpus
}

/// Docker's default read-only paths.
pub const READ_ONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn mount_err(target: &str) -> impl FnOnce(nix::Error) -> RootfsError + '_ {
    move |source| RootfsError::Mount {
        what: "mask".into(),
        target: target.into(),
        source,
    }
}

pub(super) fn mask_paths(paths: &[String]) -> Result<(), RootfsError> {
    for path in paths.iter().map(String::as_str) {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(mount_err(path))?;
        } else {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(mount_err(path))?;
        }
    }
    Ok(())
}

pub(super) fn read_only_paths(paths: &[String]) -> Result<(), RootfsError> {
    for path in paths.iter().map(String::as_str) {
        if !Path::new(path).exists() {
            continue;
        }
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(mount_err(path))?;
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(mount_err(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_as_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-3,8"), [0, 1, 2, 3, 8]);
        assert_eq!(cpu_list("0"), [0]);
        assert!(cpu_list("").is_empty());
        assert!(masked_paths().contains(&"/proc/interrupts".to_string()));
    }
}
