//! Making one mount of the spec inside the new root, and the root's own mounts.

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::volume_mounts::{resolve_in_root, set_read_only_recursive};
use super::{MountSpec, RootfsError};

fn mount_err(what: &str, target: &Path) -> impl FnOnce(nix::Error) -> RootfsError {
    let what = what.to_string();
    let target = target.to_path_buf();
    move |source| RootfsError::Mount {
        what,
        target,
        source,
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Io { op, path, source }
}

/// Joins an absolute in-container path onto the new root.
pub(super) fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The propagation of the whole mount tree the container starts from: mount events never
/// travel back to the host (`rprivate`, `rslave`) unless the spec asks for `rshared`.
pub(super) fn set_root_propagation(flags: MsFlags) -> Result<(), RootfsError> {
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(mount_err("root propagation", Path::new("/")))
}

/// pivot_root needs the new root to be a mount point: a prepared root directory (an OCI
/// bundle's `rootfs`) is bound onto itself.
pub(super) fn bind_root_onto_itself(root: &Path) -> Result<(), RootfsError> {
    mount(
        Some(root),
        root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(mount_err("bind root", root))
}

/// Whether the spec binds the host's /dev (then no device node is made).
pub(super) fn dev_is_bound_from_host(mounts: &[MountSpec]) -> bool {
    mounts
        .iter()
        .any(|m| m.destination == Path::new("/dev") && m.is_bind())
}

/// Creates the mount point: a directory, or an empty file when binding a file.
fn make_mount_point(target: &Path, file: bool) -> Result<(), RootfsError> {
    if std::fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io("create mount point", parent))?;
    }
    if file {
        std::fs::write(target, b"").map_err(io("create mount point", target))
    } else {
        std::fs::create_dir(target).map_err(io("create mount point", target))
    }
}

/// Whether a directory has no entries (a missing one counts as empty).
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Makes `m` under `root` (before pivot_root).
pub(super) fn mount_one(root: &Path, m: &MountSpec) -> Result<(), RootfsError> {
    let target = resolve_in_root(root, &m.destination)?;
    let opts = &m.options;
    if m.is_bind() {
        let source = Path::new(&m.source);
        let file = !std::fs::metadata(source)
            .map_err(io("stat mount source", source))?
            .is_dir();
        if opts.copy_up && is_empty_dir(source) && target.is_dir() {
            crate::volumes::copy_up::copy_dir_contents(&target, source)
                .map_err(io("copy image content into volume", source))?;
        }
        make_mount_point(&target, file)?;
        let rec = if opts.recursive {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        mount(
            Some(source),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | rec,
            None::<&str>,
        )
        .map_err(mount_err("bind", &target))?;
        // A bind takes its flags only on a remount.
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        if !flags.is_empty() {
            mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                None::<&str>,
            )
            .map_err(mount_err("remount bind", &target))?;
        }
        if opts.recursive_read_only {
            set_read_only_recursive(&target).map_err(|source| RootfsError::Io {
                op: "make recursively read-only (rro needs Linux 5.12 or later)",
                path: target.clone(),
                source,
            })?;
        }
    } else {
        make_mount_point(&target, false)?;
        let fstype = m.fstype.as_str();
        let source = if m.source.is_empty() {
            fstype
        } else {
            m.source.as_str()
        };
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        mount(Some(source), &target, Some(fstype), opts.flags, data)
            .map_err(mount_err(fstype, &target))?;
    }
    if !opts.propagation.is_empty() {
        mount(
            None::<&str>,
            &target,
            None::<&str>,
            opts.propagation,
            None::<&str>,
        )
        .map_err(mount_err("propagation", &target))?;
    }
    Ok(())
}

/// A spec's `cgroup` mount (see [`super::cgroup_mount`]) under `root`, with its
/// propagation.
pub(super) fn mount_cgroup(root: &Path, m: &MountSpec, cgroupns: bool) -> Result<(), RootfsError> {
    let target = resolve_in_root(root, &m.destination)?;
    make_mount_point(&target, false)?;
    super::cgroup_mount::mount_cgroup(&target, m, cgroupns)?;
    if !m.options.propagation.is_empty() {
        mount(
            None::<&str>,
            &target,
            None::<&str>,
            m.options.propagation,
            None::<&str>,
        )
        .map_err(mount_err("propagation", &target))?;
    }
    Ok(())
}

/// `root.readonly`: the root becomes read-only; /dev, /proc and friends stay as they are.
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
