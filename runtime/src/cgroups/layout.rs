//! Which cgroup layout this host has, detected the way other runtimes do it.

use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};

/// The host's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// cgroup v2 only, mounted at /sys/fs/cgroup.
    Unified,
    /// v1 controllers under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 only.
    Legacy,
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

impl Layout {
    /// statfs(/sys/fs/cgroup) is cgroup2 -> unified; tmpfs with cgroup2 at unified/ -> hybrid;
    /// otherwise legacy.
    pub fn detect() -> Layout {
        match statfs(CGROUP_ROOT) {
            Ok(s) if s.filesystem_type() == CGROUP2_SUPER_MAGIC => Layout::Unified,
            Ok(s) if s.filesystem_type() == TMPFS_MAGIC => match statfs(HYBRID_UNIFIED) {
                Ok(u) if u.filesystem_type() == CGROUP2_SUPER_MAGIC => Layout::Hybrid,
                _ => Layout::Legacy,
            },
            _ => Layout::Legacy,
        }
    }

    /// The cgroup version Docker reports for this layout (`docker info`'s "Cgroup Version").
    pub fn version(self) -> u8 {
        match self {
            Layout::Unified => 2,
            Layout::Hybrid | Layout::Legacy => 1,
        }
    }
}

/// Where the cgroup2 hierarchy is mounted for `layout`, if there is one.
pub fn unified_mount(layout: Layout) -> Option<&'static Path> {
    match layout {
        Layout::Unified => Some(Path::new(CGROUP_ROOT)),
        Layout::Hybrid => Some(Path::new(HYBRID_UNIFIED)),
        Layout::Legacy => None,
    }
}

/// The directory of `relative` in the cgroup2 hierarchy of `layout`.
pub fn unified_dir(layout: Layout, relative: &str) -> Option<PathBuf> {
    unified_mount(layout).map(|m| m.join(relative))
}
