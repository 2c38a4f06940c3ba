//! The device allowlist program (cgroup v2's replacement for the v1 devices controller).

/// The BPF_PROG_TYPE_CGROUP_DEVICE program enforcing Docker's default device rules.
pub const DEVICE_ALLOWLIST_PROG: &str = "device_allowlist";
