//! The container's /dev: the default nodes and links every OCI runtime makes (null, zero,
//! full, random, urandom, tty; fd, stdin, stdout, stderr, ptmx, core) and the spec's
//! `linux.devices`.

use std::path::{Path, PathBuf};

use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::mounts::in_root;
use super::RootfsError;

/// One device node (`linux.devices[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// (name, major, minor): the character devices every container gets, mode 0666.
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: [(&str, &str); 6] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
    ("/proc/kcore", "core"),
];

/// Binds the host's node at the same path onto an empty file (user namespaces, as runc).
fn bind_node(root: &Path, node: &DeviceNode) -> Result<(), RootfsError> {
    let path = in_root(root, &node.path.to_string_lossy());
    if std::fs::symlink_metadata(&path).is_err() {
        std::fs::write(&path, b"").map_err(|source| RootfsError::Io {
            op: "create mount point",
            path: path.clone(),
            source,
        })?;
    }
    nix::mount::mount(
        Some(&node.path),
        &path,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| RootfsError::Mount {
        what: "bind device".into(),
        target: path,
        source,
    })
}

fn make_node(root: &Path, node: &DeviceNode, bind: bool) -> Result<(), RootfsError> {
    let path = in_root(root, &node.path.to_string_lossy());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| RootfsError::Io {
            op: "create directory",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    if bind {
        return bind_node(root, node);
    }
    // A node the image or a default already has is replaced by the spec's.
    let _ = std::fs::remove_file(&path);
    mknod(
        &path,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .map_err(|source| RootfsError::Sys {
        op: "mknod",
        path: path.clone(),
        source,
    })?;
    nix::unistd::chown(
        &path,
        Some(nix::unistd::Uid::from_raw(node.uid)),
        Some(nix::unistd::Gid::from_raw(node.gid)),
    )
    .map_err(|source| RootfsError::Sys {
        op: "chown",
        path,
        source,
    })
}

pub(super) fn populate_dev(
    root: &Path,
    extra: &[DeviceNode],
    bind: bool,
) -> Result<(), RootfsError> {
    let dev = in_root(root, "/dev");
    let defaults = DEFAULT_DEVICES
        .iter()
        .map(|(name, major, minor)| DeviceNode {
            path: Path::new("/dev").join(name),
            kind: SFlag::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    // The umask would strip the nodes' group and other bits.
    let old = nix::sys::stat::umask(Mode::empty());
    let result = defaults
        .collect::<Vec<_>>()
        .iter()
        .chain(extra)
        .try_for_each(|node| make_node(root, node, bind));
    nix::sys::stat::umask(old);
    result?;
    for (target, name) in LINKS {
        let path = dev.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        // As runc: /dev/core only where the kernel has /proc/kcore (CONFIG_PROC_KCORE).
        if name == "core" && !Path::new(target).exists() {
            continue;
        }
        std::os::unix::fs::symlink(target, &path).map_err(|source| RootfsError::Io {
            op: "symlink",
            path,
            source,
        })?;
    }
    Ok(())
}
