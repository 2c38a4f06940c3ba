//! Docker's default capability set, applied in the child before exec.

use caps::{CapSet, Capability, CapsHashSet};

/// The capabilities Docker grants a default container.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// The container's capability set from its names (unknown names were refused at create).
fn container_set(names: &[String]) -> CapsHashSet {
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

/// Drops every capability outside the container's set from the bounding set. Needs
/// CAP_SETPCAP, so it runs while the process is still fully privileged.
pub(super) fn limit_bounding_set(names: &[String]) -> Result<(), caps::errors::CapsError> {
    let keep = container_set(names);
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    Ok(())
}

/// After the uid switch: a root process holds exactly the container's set (effective,
/// permitted, inheritable); a non-root one lost its capabilities in setuid, as in Docker.
pub(super) fn set_process_capabilities(
    uid: u32,
    names: &[String],
) -> Result<(), caps::errors::CapsError> {
    caps::clear(None, CapSet::Ambient)?;
    if uid != 0 {
        caps::clear(None, CapSet::Inheritable)?;
        return Ok(());
    }
    let set = container_set(names);
    caps::set(None, CapSet::Effective, &set)?;
    caps::set(None, CapSet::Inheritable, &set)?;
    caps::set(None, CapSet::Permitted, &set)?;
    Ok(())
}
