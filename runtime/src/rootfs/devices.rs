//! The standard device nodes and links of a container's /dev (Docker's default set).

use std::path::Path;

use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::mounts::in_root;
use super::RootfsError;

/// (name, major, minor): the character devices every container gets, mode 0666.
const DEVICES: [(&str, u64, u64); 6] = [
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

pub(super) fn populate_dev(root: &Path) -> Result<(), RootfsError> {
    let dev = in_root(root, "/dev");
    // The umask would strip the nodes' group and other bits.
    let old = nix::sys::stat::umask(Mode::empty());
    let result = DEVICES.iter().try_for_each(|(name, major, minor)| {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(|source| RootfsError::Sys {
            op: "mknod",
            path,
            source,
        })
    });
    nix::sys::stat::umask(old);
    result?;
    for (target, name) in LINKS {
        let path = dev.join(name);
        std::os::unix::fs::symlink(target, &path).map_err(|source| RootfsError::Io {
            op: "symlink",
            path,
            source,
        })?;
    }
    Ok(())
}
