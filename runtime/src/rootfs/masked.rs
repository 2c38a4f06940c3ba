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
