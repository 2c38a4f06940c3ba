//! `#[repr(C)]` types and names shared by the kernel-side programs (`ebrun-ebpf`) and the
//! userspace loader (`ebrun::bpf`). Keep it `no_std` and free of dependencies on the
//! kernel side.
//!
//! Every map is keyed by the container's cgroup2 id (the inode number of its cgroup2 dir),
//! except where a type says otherwise. Map keys are compared bytewise by the kernel, so every
//! key type spells its padding out as fields that are always zero.
#![no_std]

pub mod devices;
pub mod oom;
pub mod reclaim;
pub mod sched;
pub mod traffic;

/// Name of the map counting `execve` calls per cgroup2 id (key `u64`, value `u64`).
pub const EXEC_COUNT_MAP: &str = "EXEC_COUNT";
/// Name of the program that feeds [`EXEC_COUNT_MAP`].
pub const EXEC_COUNT_PROG: &str = "exec_count";
/// The raw tracepoint the exec counter attaches to.
pub const EXEC_COUNT_TRACEPOINT: &str = "sched_process_exec";
/// Most cgroups any per-cgroup map holds.
pub const MAX_CGROUPS: u32 = 16384;

/// Marks `T` as plain old data for aya's map accessors (userspace only).
#[macro_export]
#[doc(hidden)]
macro_rules! user_pod {
    ($($t:ty),* $(,)?) => {
        $(
            #[cfg(feature = "user")]
            // SAFETY: `#[repr(C)]` structs of integers with explicit padding fields: every
            // bit pattern is a valid value and there are no implicit padding bytes.
            unsafe impl aya::Pod for $t {}
        )*
    };
}
