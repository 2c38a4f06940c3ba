//! Helpers for the spec's mounts: mount points resolved inside the root with symlinks
//! followed as if the root were `/` (a link in the image can never send a mount onto a host
//! path), Docker's tmpfs options, and recursive read-only (`mount_setattr(AT_RECURSIVE)`,
//! Linux 5.12+, as Docker 25+ uses for read-only binds).

use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;

use super::RootfsError;

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
        if let Some((set, clear)) = super::mount_options::flag_option(key) {
            flags = (flags | set) & !clear;
            continue;
        }
        match key {
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
        }
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
pub(super) fn set_read_only_recursive(target: &Path) -> std::io::Result<()> {
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

/// Whether this kernel has `mount_setattr(2)` (Linux 5.12+): the front end asks for
/// recursive read-only binds only where it does, as Docker 25+.
pub fn has_mount_setattr() -> bool {
    // An invalid call answers EINVAL/EBADF where the syscall exists, ENOSYS where not.
    // SAFETY: a NULL path and attr with size 0 make the kernel fail without touching memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            std::ptr::null::<libc::c_char>(),
            0,
            std::ptr::null::<MountAttr>(),
            0,
        )
    };
    !(rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
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
