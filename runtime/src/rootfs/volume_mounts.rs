//! The container's volumes, bind mounts and tmpfs mounts, applied inside its new mount
//! namespace onto the merged root before pivot_root. Mount points are created inside the
//! root (so in the container's upper dir), with symlinks resolved as if the root were `/`:
//! a link in the image can never send a mount onto a host path.
//!
//! A new, empty volume whose mount point holds files in the image is first filled with them
//! (Docker's copy-up), from the merged root before the volume hides them.
//!
//! Bind mounts are recursive (the source's submounts come along) unless `bind-recursive=
//! disabled`; a read-only bind is made read-only all the way down with
//! `mount_setattr(AT_RECURSIVE)` (Linux 5.12+) as Docker 25+ does, unless
//! `bind-recursive=writable` keeps the submounts writable.

use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, MsFlags};
use tracing::warn;

use super::RootfsError;
use crate::volumes::BindRecursive;

/// One mount to make in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// Host path to bind (a volume's `_data` or a bind source); `None` for tmpfs.
    pub source: Option<PathBuf>,
    /// Absolute path inside the container.
    pub destination: PathBuf,
    pub read_only: bool,
    /// `rprivate`, `rshared`, ... (binds).
    pub propagation: Option<String>,
    /// What happens to the mounts under a bind's source.
    pub recursive: BindRecursive,
    /// tmpfs options (`size=..`, `mode=..`, `noexec`, ...).
    pub tmpfs_options: Vec<String>,
    /// Fill an empty source with what the image has at `destination` first.
    pub copy_up: bool,
}

/// Flags tmpfs mounts get unless an option turns them off (Docker's `--tmpfs` defaults).
const TMPFS_DEFAULT: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Splits tmpfs options into mount flags and the data string; the error names the option
/// that is not a tmpfs option.
pub fn tmpfs_flags_and_data(options: &[String]) -> Result<(MsFlags, String), String> {
    let mut flags = TMPFS_DEFAULT;
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let (key, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
        let (set, clear) = match key {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "huge" | "mpol" => {
                if value.is_empty() {
                    return Err(format!("tmpfs option {key:?} needs a value ({key}=VALUE)"));
                }
                if key == "mode" && u32::from_str_radix(value, 8).is_err() {
                    return Err(format!("tmpfs option mode={value}: expected an octal mode"));
                }
                data.push(opt);
                continue;
            }
            _ => {
                return Err(format!(
                    "unknown tmpfs option {opt:?} (allowed: ro, rw, exec, noexec, suid, nosuid, \
                     dev, nodev, sync, async, atime, noatime, relatime, strictatime, size=, \
                     mode=, uid=, gid=, nr_inodes=, nr_blocks=)"
                ))
            }
        };
        flags = (flags | set) & !clear;
    }
    Ok((flags, data.join(",")))
}

/// Resolves `path` (absolute, in the container) under `root`, following symlinks as if
/// `root` were `/` and never leaving it. Components that do not exist yet are appended as
/// they are.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf, RootfsError> {
    let mut resolved = PathBuf::new();
    let mut todo: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let on_host = root.join(&candidate);
        match std::fs::symlink_metadata(&on_host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err(RootfsError::Io {
                        op: "resolve mount point",
                        path: path.to_path_buf(),
                        source: std::io::Error::from_raw_os_error(libc::ELOOP),
                    });
                }
                let target = std::fs::read_link(&on_host).map_err(|source| RootfsError::Io {
                    op: "read link",
                    path: on_host.clone(),
                    source,
                })?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push(n.to_os_string()),
                        Component::ParentDir => todo.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Io { op, path, source }
}

fn mount_err(what: &str, target: &Path) -> impl FnOnce(nix::Error) -> RootfsError {
    let what = what.to_string();
    let target = target.to_path_buf();
    move |source| RootfsError::Mount {
        what,
        target,
        source,
    }
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

fn propagation_flags(name: &str) -> MsFlags {
    match name {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        _ => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
    }
}

/// `mount_setattr(2)`'s `struct mount_attr`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Makes every mount at and under `target` read-only.
fn set_read_only_recursive(target: &Path) -> std::io::Result<()> {
    let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `path` is NUL-terminated and `attr` is a valid mount_attr of the size passed;
    // the kernel only reads both during the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes a bind mount read-only: the mount itself, and its submounts too unless
/// `bind-recursive=writable` (or `disabled`, which has none). With the default
/// (`enabled`) a kernel without `mount_setattr(2)` leaves the submounts writable, as Docker
/// does; `readonly` insists.
fn make_read_only(target: &Path, recursive: BindRecursive) -> Result<(), RootfsError> {
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(mount_err("read-only remount", target))?;
    if !matches!(recursive, BindRecursive::Enabled | BindRecursive::Readonly) {
        return Ok(());
    }
    match set_read_only_recursive(target) {
        Ok(()) => Ok(()),
        Err(e) if recursive == BindRecursive::Enabled && e.raw_os_error() == Some(libc::ENOSYS) => {
            warn!(
                "{}: the kernel has no mount_setattr(2): submounts stay writable",
                target.display()
            );
            Ok(())
        }
        Err(e) => Err(RootfsError::Io {
            op: if e.raw_os_error() == Some(libc::ENOSYS) {
                "make recursively read-only (bind-recursive=readonly needs Linux 5.12 or later)"
            } else {
                "make recursively read-only"
            },
            path: target.to_path_buf(),
            source: e,
        }),
    }
}

/// Whether a directory has no entries (a missing one counts as empty).
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// The files Docker bind-mounts (/etc/hosts, ...) that no user mount replaces: a user's
/// mount at the same path wins, as in Docker.
pub(super) fn not_shadowed<'a>(
    files: &'a [super::BindFile],
    mounts: &'a [VolumeMount],
) -> impl Iterator<Item = &'a super::BindFile> {
    files
        .iter()
        .filter(|f| !mounts.iter().any(|m| m.destination == f.destination))
}

/// Makes every mount of `mounts` under `root` (the merged root, before pivot_root), in order.
pub(super) fn apply(root: &Path, mounts: &[VolumeMount]) -> Result<(), RootfsError> {
    for m in mounts {
        let target = resolve_in_root(root, &m.destination)?;
        match &m.source {
            Some(source) => {
                let file = std::fs::metadata(source)
                    .map_err(io("stat mount source", source))?
                    .is_file();
                if m.copy_up && is_empty_dir(source) && target.is_dir() {
                    crate::volumes::copy_up::copy_dir_contents(&target, source)
                        .map_err(io("copy image content into volume", source))?;
                }
                make_mount_point(&target, file)?;
                let rec = if m.recursive == BindRecursive::Disabled {
                    MsFlags::empty()
                } else {
                    MsFlags::MS_REC
                };
                mount(
                    Some(source.as_path()),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND | rec,
                    None::<&str>,
                )
                .map_err(mount_err("bind", &target))?;
                if m.read_only {
                    make_read_only(&target, m.recursive)?;
                }
                let propagation = m.propagation.as_deref().unwrap_or("rprivate");
                mount(
                    None::<&str>,
                    &target,
                    None::<&str>,
                    propagation_flags(propagation),
                    None::<&str>,
                )
                .map_err(mount_err(propagation, &target))?;
            }
            None => {
                let (mut flags, data) =
                    tmpfs_flags_and_data(&m.tmpfs_options).map_err(|reason| RootfsError::Io {
                        op: "tmpfs options",
                        path: m.destination.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
                    })?;
                if m.read_only {
                    flags |= MsFlags::MS_RDONLY;
                }
                make_mount_point(&target, false)?;
                mount(
                    Some("tmpfs"),
                    &target,
                    Some("tmpfs"),
                    flags,
                    (!data.is_empty()).then_some(data.as_str()),
                )
                .map_err(mount_err("tmpfs", &target))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options_split() {
        let (flags, data) =
            tmpfs_flags_and_data(&["exec".into(), "size=64m".into(), "mode=1777".into()]).unwrap();
        assert!(!flags.contains(MsFlags::MS_NOEXEC) && flags.contains(MsFlags::MS_NOSUID));
        assert_eq!(data, "size=64m,mode=1777");
        assert!(tmpfs_flags_and_data(&["bogus".into()]).is_err());
        assert!(tmpfs_flags_and_data(&["mode=9z".into()]).is_err());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("real/dir")).unwrap();
        std::os::unix::fs::symlink("/real", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("real/up")).unwrap();
        assert_eq!(
            resolve_in_root(r, Path::new("/abs/dir")).unwrap(),
            r.join("real/dir")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/real/up/x")).unwrap(),
            r.join("etc/x")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/../../new")).unwrap(),
            r.join("new")
        );
    }
}
