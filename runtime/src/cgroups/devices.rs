//! The device allowlist (Docker's default): a container may create any node (mknod) but
//! read or write only the standard ones. Enforced by the v1 devices controller, and by a
//! BPF_PROG_TYPE_CGROUP_DEVICE program on the cgroup2 dir (`bpf::restrict_devices`), which
//! is all there is on a cgroup v2 host.

use super::{CgroupError, ContainerCgroups};

/// Docker's default device rules (the eBPF device program enforces the same list).
pub const DEFAULT_DEVICE_RULES: [&str; 12] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",    // null
    "c 1:5 rwm",    // zero
    "c 1:7 rwm",    // full
    "c 1:8 rwm",    // random
    "c 1:9 rwm",    // urandom
    "c 5:0 rwm",    // tty
    "c 5:1 rwm",    // console
    "c 5:2 rwm",    // ptmx
    "c 136:* rwm",  // pts
    "c 10:200 rwm", // tun
];

impl ContainerCgroups {
    /// The container's dir in the v1 devices controller, if the host has one.
    fn v1_devices_dir(&self) -> Option<&std::path::PathBuf> {
        // The hierarchy's mount point is the dir without the container's relative path.
        self.v1_dirs.iter().find(|d| {
            d.to_string_lossy()
                .strip_suffix(self.relative.as_str())
                .is_some_and(|root| root.trim_end_matches('/').ends_with("devices"))
        })
    }

    /// The spec's `linux.resources.devices` rules, in order, from a deny-all, then the default
    /// allowlist on top (as runc: the standard nodes, and mknod, always stay usable, so the
    /// runtime can make them too). Only the v1 controller can take arbitrary rules; on cgroup
    /// v2 the eBPF program enforces the default list.
    pub fn apply_device_rules(&self, rules: &[(bool, String)]) -> Result<(), CgroupError> {
        let Some(dir) = self.v1_devices_dir() else {
            return Ok(());
        };
        let write = |allow: bool, rule: &str| {
            let path = dir.join(if allow {
                "devices.allow"
            } else {
                "devices.deny"
            });
            std::fs::write(&path, rule).map_err(|source| CgroupError::Io {
                op: "write",
                path,
                source,
            })
        };
        write(false, "a")?;
        for (allow, rule) in rules {
            write(*allow, rule)?;
        }
        for rule in DEFAULT_DEVICE_RULES {
            write(true, rule)?;
        }
        Ok(())
    }

    /// Whether the v1 devices controller enforces the allowlist (else only the eBPF device
    /// program can: cgroup v2).
    pub fn has_v1_devices(&self) -> bool {
        self.v1_devices_dir().is_some()
    }

    /// Applies the default allowlist (everything with `privileged`) in the v1 devices
    /// controller; without one, the eBPF device program does it (`bpf::restrict_devices`).
    pub fn restrict_devices(&self, privileged: bool) -> Result<(), CgroupError> {
        let Some(dir) = self.v1_devices_dir() else {
            tracing::debug!("no v1 devices controller: device allowlist not enforced");
            return Ok(());
        };
        let write = |file: &str, rule: &str| {
            let path = dir.join(file);
            std::fs::write(&path, rule).map_err(|source| CgroupError::Io {
                op: "write",
                path,
                source,
            })
        };
        if privileged {
            return write("devices.allow", "a");
        }
        write("devices.deny", "a")?;
        for rule in DEFAULT_DEVICE_RULES {
            write("devices.allow", rule)?;
        }
        Ok(())
    }
}
