//! Kernel filesystems and bind mounts inside the new root, as Docker's default spec has them.

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::{BindFile, RootfsError};

fn mount_err(what: &str, target: &Path) -> impl FnOnce(nix::Error) -> RootfsError {
    let what = what.to_string();
    let target = target.to_path_buf();
    move |source| RootfsError::Mount {
        what,
        target,
        source,
    }
}

/// Joins an absolute in-container path onto the new root.
pub(super) fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn ensure_dir(path: &Path) -> Result<(), RootfsError> {
    std::fs::create_dir_all(path).map_err(|source| RootfsError::Io {
        op: "create directory",
        path: path.to_path_buf(),
        source,
    })
}

/// Stops mount events from propagating back to the host.
pub(super) fn make_private_root() -> Result<(), RootfsError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(mount_err("private propagation", Path::new("/")))
}

struct KernelMount {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
}

/// Mounts /proc, /sys (read-only), /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue.
pub(super) fn mount_kernel_filesystems(root: &Path, privileged: bool) -> Result<(), RootfsError> {
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let table = [
        KernelMount {
            source: "proc",
            target: "/proc",
            fstype: "proc",
            flags: nosuid_nodev_noexec,
            data: None,
        },
        KernelMount {
            source: "tmpfs",
            target: "/dev",
            fstype: "tmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: Some("mode=755,size=65536k"),
        },
        KernelMount {
            source: "devpts",
            target: "/dev/pts",
            fstype: "devpts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        },
        KernelMount {
            source: "sysfs",
            target: "/sys",
            fstype: "sysfs",
            flags: if privileged {
                nosuid_nodev_noexec
            } else {
                nosuid_nodev_noexec | MsFlags::MS_RDONLY
            },
            data: None,
        },
        KernelMount {
            source: "mqueue",
            target: "/dev/mqueue",
            fstype: "mqueue",
            flags: nosuid_nodev_noexec,
            data: None,
        },
        KernelMount {
            source: "shm",
            target: "/dev/shm",
            fstype: "tmpfs",
            flags: nosuid_nodev_noexec,
            data: Some("mode=1777,size=65536k"),
        },
    ];
    for m in table {
        let target = in_root(root, m.target);
        ensure_dir(&target)?;
        mount(Some(m.source), &target, Some(m.fstype), m.flags, m.data)
            .map_err(mount_err(m.fstype, &target))?;
    }
    Ok(())
}

/// Bind-mounts one of the container's files (hostname, hosts, resolv.conf) into the root.
pub(super) fn bind_file(root: &Path, file: &BindFile) -> Result<(), RootfsError> {
    let target = in_root(root, &file.destination.to_string_lossy());
    if let Some(parent) = target.parent() {
        ensure_dir(parent)?;
    }
    if std::fs::symlink_metadata(&target).is_err() {
        std::fs::write(&target, b"").map_err(|source| RootfsError::Io {
            op: "create mount point",
            path: target.clone(),
            source,
        })?;
    }
    mount(
        Some(&file.source),
        &target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(mount_err("bind", &target))
}

/// `--read-only`: the root becomes read-only; /dev, /proc and friends stay as they are.
pub(super) fn remount_root_read_only() -> Result<(), RootfsError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(mount_err("read-only remount", Path::new("/")))
}
