//! A spec's mount of type `cgroup` (Docker's `/sys/fs/cgroup`), made as runc makes it, so
//! that what sizes itself from inside a container (a JVM, Go's automaxprocs, .NET, ...)
//! finds its own limits:
//!
//! - cgroup v2 host: a cgroup2 mount. In a cgroup namespace of its own its root is the
//!   container's cgroup (`memory.max`, `cpu.max`, ... at the top); in the host's, the whole
//!   hierarchy, as under runc.
//! - v1 and hybrid hosts: a tmpfs with one directory per v1 hierarchy of the host, named as
//!   the host names its mount point (`cpu`, `memory`, `cpu,cpuacct` with `cpu` and `cpuacct`
//!   symlinks, `systemd`), and `unified` on a hybrid host. With a cgroup namespace of its own
//!   each is a new mount of that hierarchy (whose root is then the container's cgroup);
//!   without one, a bind of the container's own cgroup directory (its path read from
//!   /proc/self/cgroup: the process is in its cgroups by now).
//!
//! Everything is mounted read-only when the spec's mount says `ro` (the tmpfs too, once
//! populated). All of it happens in the container's mount namespace: a failure leaves
//! nothing on the host.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::{MountSpec, RootfsError};
use crate::cgroups::Layout;

fn mount_err(what: &str, target: &Path) -> impl FnOnce(nix::Error) -> RootfsError {
    let what = what.to_string();
    let target = target.to_path_buf();
    move |source| RootfsError::Mount {
        what,
        target,
        source,
    }
}

fn mkdir(path: &Path) -> Result<(), RootfsError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(RootfsError::Io {
            op: "create cgroup mount point",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// One v1 hierarchy as mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct V1Hierarchy {
    mount_point: PathBuf,
    /// The mount's root within the hierarchy (`/` unless a sub-tree is mounted).
    root: String,
    /// Its controllers and `name=` as the kernel lists them in /proc/self/cgroup.
    controllers: BTreeSet<String>,
    /// What to mount it with again: the controllers and options that name the hierarchy.
    data: String,
}

/// The v1 hierarchies of `mountinfo`, the first mount of each (`known`: controller names of
/// /proc/cgroups).
fn v1_hierarchies(mountinfo: &str, known: &BTreeSet<String>) -> Vec<V1Hierarchy> {
    let mut found: Vec<V1Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.get(sep + 1) != Some(&"cgroup") || fields.len() < 5 {
            continue;
        }
        let options = fields.get(sep + 3).copied().unwrap_or("");
        let mut controllers = BTreeSet::new();
        let mut data = Vec::new();
        for o in options.split(',') {
            if known.contains(o) || o.starts_with("name=") {
                controllers.insert(o.to_string());
                data.push(o);
            } else if matches!(o, "xattr" | "noprefix" | "none") {
                data.push(o);
            }
        }
        if controllers.is_empty() || found.iter().any(|h| h.controllers == controllers) {
            continue;
        }
        found.push(V1Hierarchy {
            mount_point: PathBuf::from(unescape(fields[4])),
            root: unescape(fields[3]),
            controllers,
            data: data.join(","),
        });
    }
    found
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if let Ok(v) = u8::from_str_radix(&digits, 8) {
                out.push(v as char);
                for _ in 0..3 {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// /proc/self/cgroup as (controllers, path); the cgroup2 line has no controllers.
fn own_cgroups(text: &str) -> Vec<(BTreeSet<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            let set = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some((set, path.to_string()))
        })
        .collect()
}

/// The host directory of the process's own cgroup in a hierarchy mounted at `mount_point`
/// with `root`: `own` is its path from /proc/self/cgroup.
fn own_dir(mount_point: &Path, root: &str, own: &str) -> Option<PathBuf> {
    let rel = Path::new(own).strip_prefix(root).ok()?;
    Some(mount_point.join(rel))
}

/// The controller names the kernel knows (/proc/cgroups' first column).
fn known_controllers() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The flags every cgroup mount carries (`ro` and the like from the spec on top).
fn flags_of(m: &MountSpec) -> MsFlags {
    (m.options.flags & !MsFlags::MS_REMOUNT)
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
}

/// Binds `source` on `target` with `flags` (a bind takes them only on a remount).
fn bind(source: &Path, target: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(mount_err("bind cgroup", target))?;
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .map_err(mount_err("remount cgroup bind", target))
}

/// Makes the spec's `cgroup` mount `m` at `target` (inside the new root, before pivot).
/// `cgroupns`: the process is in a cgroup namespace of its own.
pub(super) fn mount_cgroup(
    target: &Path,
    m: &MountSpec,
    cgroupns: bool,
) -> Result<(), RootfsError> {
    let flags = flags_of(m);
    match Layout::detect() {
        Layout::Unified => mount_unified(target, flags, cgroupns, Path::new("/sys/fs/cgroup")),
        layout => mount_v1(target, flags, cgroupns, layout == Layout::Hybrid),
    }
}

/// A cgroup2 mount; where the kernel refuses one (a user namespace without a cgroup
/// namespace), a bind of the hierarchy, as runc falls back to.
fn mount_unified(
    target: &Path,
    flags: MsFlags,
    cgroupns: bool,
    host_mount: &Path,
) -> Result<(), RootfsError> {
    if !cgroupns {
        // The host's cgroup namespace: a new mount shows the whole hierarchy, as runc's.
        return match mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            flags,
            None::<&str>,
        ) {
            Err(nix::Error::EPERM | nix::Error::EBUSY) => bind(host_mount, target, flags),
            other => other.map_err(mount_err("cgroup2", target)),
        };
    }
    mount(
        Some("cgroup2"),
        target,
        Some("cgroup2"),
        flags,
        None::<&str>,
    )
    .map_err(mount_err("cgroup2", target))
}

fn mount_v1(
    target: &Path,
    flags: MsFlags,
    cgroupns: bool,
    hybrid: bool,
) -> Result<(), RootfsError> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| RootfsError::Io {
            op: "read",
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
    let own_text =
        std::fs::read_to_string("/proc/self/cgroup").map_err(|source| RootfsError::Io {
            op: "read",
            path: "/proc/self/cgroup".into(),
            source,
        })?;
    let own = own_cgroups(&own_text);
    let hierarchies = v1_hierarchies(&mountinfo, &known_controllers());
    let tmpfs_flags = flags & !MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .map_err(mount_err("tmpfs", target))?;
    for h in &hierarchies {
        let Some(name) = h.mount_point.file_name() else {
            continue;
        };
        let dir = target.join(name);
        if cgroupns {
            mkdir(&dir)?;
            // A new mount of the hierarchy in the cgroup namespace: its root is the
            // container's cgroup.
            mount(
                Some("cgroup"),
                &dir,
                Some("cgroup"),
                flags,
                Some(h.data.as_str()),
            )
            .map_err(mount_err("cgroup", &dir))?;
        } else {
            // The process's own directory of the hierarchy; one it is not in is left out.
            let Some(source) = own
                .iter()
                .find(|(set, _)| *set == h.controllers)
                .and_then(|(_, path)| own_dir(&h.mount_point, &h.root, path))
            else {
                continue;
            };
            mkdir(&dir)?;
            bind(&source, &dir, flags)?;
        }
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                let link = target.join(part);
                if std::fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink(name.as_ref(), &link).map_err(|source| {
                        RootfsError::Io {
                            op: "symlink",
                            path: link.clone(),
                            source,
                        }
                    })?;
                }
            }
        }
    }
    if hybrid {
        let dir = target.join("unified");
        let host = crate::cgroups::unified_mount(Layout::Hybrid).expect("hybrid has cgroup2");
        mkdir(&dir)?;
        if cgroupns {
            mount(Some("cgroup2"), &dir, Some("cgroup2"), flags, None::<&str>)
                .map_err(mount_err("cgroup2", &dir))?;
        } else if let Some(source) = own
            .iter()
            .find(|(set, _)| set.is_empty())
            .map(|(_, path)| host.join(path.trim_start_matches('/')))
        {
            bind(&source, &dir, flags)?;
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_REMOUNT | flags,
            Some("mode=755"),
        )
        .map_err(mount_err("read-only remount", target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 /ebrun /mnt/again rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn hierarchies_are_read_from_mountinfo_once_each() {
        let known: BTreeSet<String> = ["cpu", "cpuacct", "memory", "pids"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let h = v1_hierarchies(MOUNTINFO, &known);
        let names: Vec<_> = h.iter().map(|h| h.mount_point.clone()).collect();
        assert_eq!(
            names,
            [
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(h[0].data, "cpu,cpuacct");
        assert_eq!(h[2].data, "xattr,name=systemd");
        assert!(h[2].controllers.contains("name=systemd"));
    }

    #[test]
    fn own_cgroup_directories_come_from_proc_self_cgroup() {
        let own = own_cgroups("4:memory:/ebrun/abc\n2:cpu,cpuacct:/ebrun/abc\n0::/ebrun/abc\n");
        assert_eq!(own[1].0.len(), 2);
        assert_eq!(own[2].0.len(), 0);
        assert_eq!(
            own_dir(Path::new("/sys/fs/cgroup/memory"), "/", &own[0].1),
            Some(PathBuf::from("/sys/fs/cgroup/memory/ebrun/abc"))
        );
        assert_eq!(
            own_dir(Path::new("/m"), "/ebrun", "/ebrun/abc"),
            Some(PathBuf::from("/m/abc"))
        );
        assert_eq!(own_dir(Path::new("/m"), "/other", "/ebrun/abc"), None);
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
