//! The device allowlist (Docker's default): a container may create any node (mknod) but
//! read or write only the standard ones. Enforced by the v1 devices controller; on pure
//! cgroup v2 hosts this needs a BPF_PROG_TYPE_CGROUP_DEVICE program (not yet: the rootfs
//! still only holds the standard nodes there).

use super::{CgroupError, ContainerCgroups};

/// Docker's default device rules.
const ALLOWED: [&str; 12] = [
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
    /// Applies the default allowlist (everything with `privileged`).
    pub fn restrict_devices(&self, privileged: bool) -> Result<(), CgroupError> {
        let Some(dir) = self.v1_dirs.iter().find(|d| {
            d.parent()
                .and_then(|p| p.parent())
                .is_some_and(|root| root.ends_with("devices"))
        }) else {
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
        for rule in ALLOWED {
            write("devices.allow", rule)?;
        }
        Ok(())
    }
}
