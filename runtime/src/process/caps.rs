//! Capabilities of a container process: Docker's default set (for its front end), and the
//! five sets of the spec applied in the child around the uid switch, as runc does.

use caps::{CapSet, Capability, CapsHashSet};

use super::Capabilities;

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

fn set_of(caps: &[Capability]) -> CapsHashSet {
    caps.iter().copied().collect()
}

/// Drops every capability outside `bounding` from the bounding set. Needs CAP_SETPCAP, so
/// it runs while the process is still fully privileged.
pub(super) fn limit_bounding_set(bounding: &[Capability]) -> Result<(), caps::errors::CapsError> {
    let keep = set_of(bounding);
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    Ok(())
}

/// Keeps the permitted set across the uid switch (then the spec decides what stays).
pub(super) fn keep_across_setuid(keep: bool) -> nix::Result<()> {
    // SAFETY: prctl(PR_SET_KEEPCAPS, 0|1) takes no pointers.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(keep), 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

/// After the uid switch: exactly the spec's effective, inheritable, permitted and ambient
/// sets (effective first: it only shrinks while permitted still holds everything).
pub(super) fn set_process_capabilities(sets: &Capabilities) -> Result<(), caps::errors::CapsError> {
    caps::clear(None, CapSet::Ambient)?;
    caps::set(None, CapSet::Effective, &set_of(&sets.effective))?;
    caps::set(None, CapSet::Inheritable, &set_of(&sets.inheritable))?;
    caps::set(None, CapSet::Permitted, &set_of(&sets.permitted))?;
    for cap in &sets.ambient {
        caps::raise(None, CapSet::Ambient, *cap)?;
    }
    Ok(())
}
