//! `#[repr(C)]` types and names shared by the kernel-side programs (`ebrun-ebpf`) and the
//! userspace loader (`ebrun::bpf`). Keep it `no_std` and free of dependencies on the
//! kernel side.
#![no_std]

/// Name of the map counting `execve` calls per cgroup2 id (key `u64`, value `u64`).
pub const EXEC_COUNT_MAP: &str = "EXEC_COUNT";
/// Name of the program that feeds [`EXEC_COUNT_MAP`].
pub const EXEC_COUNT_PROG: &str = "exec_count";
/// The raw tracepoint the exec counter attaches to.
pub const EXEC_COUNT_TRACEPOINT: &str = "sched_process_exec";
/// Most cgroups any per-cgroup map holds.
pub const MAX_CGROUPS: u32 = 16384;
