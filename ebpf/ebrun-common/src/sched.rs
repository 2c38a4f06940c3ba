//! The scheduler meters: on-CPU time and run-queue latency (queued to running), both from
//! one `sched_switch` program (tp_btf).
//!
//! The program keeps no per-task state: the kernel's own accounts of each task are read
//! from its task_struct — `se.sum_exec_runtime` (the run time cpuacct and cpu.stat sum up)
//! and `sched_info.last_queued` / `last_arrival` (what /proc/PID/schedstat's run delay is
//! made of; queued on wakeup, on fork and on preemption alike). Each CPU notes what it
//! switched to; when that task leaves the CPU, its cgroup (if registered) is charged the
//! slice and the wait before it.
//!
//! Counters live in a per-CPU array, one slot per registered cgroup; the CPU remembers the
//! running task's slot with what it noted, so a switch between tasks of one cgroup (or of an
//! unregistered one) costs no hash lookup.

/// Hash: cgroup2 id -> its slot (u32) in [`CPU_TIME_MAP`]. An entry present means
/// "registered"; the meter's first map (present = loaded).
pub const CPU_CGROUPS_MAP: &str = "CPU_CGROUPS";
/// Per-CPU array of [`CpuTime`] (on-CPU time and run-queue latency), one slot per registered
/// cgroup; readers sum the CPUs.
pub const CPU_TIME_MAP: &str = "CPU_TIME";
/// Hash: slot -> the cgroup2 id holding it. Registration claims a free slot by inserting
/// here with BPF_NOEXIST, so two ebrun processes never take the same one.
pub const CPU_SLOT_OWNERS_MAP: &str = "CPU_SLOT_OWNERS";
/// Array of one u64, bumped after each registration and removal: a CPU's cached slot of the
/// running task (in [`RunningSlice`]) is trusted only while this is unchanged.
pub const CPU_CGROUPS_GEN_MAP: &str = "CPU_CGROUPS_GEN";
/// Per-CPU array of one [`RunningSlice`]: what this CPU runs since its last switch.
pub const LAST_SWITCH_MAP: &str = "LAST_SWITCH";
/// Global [`SchedKernel`] set by the loader from the kernel's BTF.
pub const SCHED_KERNEL_GLOBAL: &str = "SCHED_KERNEL";
/// The slot of a cgroup that is not registered.
pub const NO_SLOT: u32 = u32::MAX;

pub const SCHED_SWITCH_PROG: &str = "sched_switch";
/// The BTF tracepoint the program attaches to.
pub const SCHED_SWITCH_TRACEPOINT: &str = "sched_switch";

/// Buckets of the run-queue latency histogram: bucket `i` counts waits of
/// `[2^i, 2^(i+1))` microseconds (bucket 0 also takes waits below 1 µs; the last bucket
/// takes everything longer).
pub const RUNQ_BUCKETS: usize = 32;

/// Offsets (bytes, from the start of task_struct unless said otherwise) of the kernel fields
/// the scheduler program reads, from the running kernel's BTF. The program loads them
/// directly (tp_btf pointers); the verifier sees them as constants (.rodata is frozen).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedKernel {
    /// `se.sum_exec_runtime`, `se.prev_sum_exec_runtime` (u64 ns).
    pub sum_exec_runtime: u32,
    pub prev_sum_exec_runtime: u32,
    /// `sched_info.last_arrival`, `sched_info.last_queued` (u64, rq clock); 0: the kernel
    /// has no sched_info (no CONFIG_SCHED_INFO), run-queue latency is not measured.
    pub last_arrival: u32,
    pub last_queued: u32,
    /// `cgroups` (css_set *), then `css_set.dfl_cgrp`, `cgroup.kn`, `kernfs_node.id`.
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    /// `pid` (the thread id, pid_t).
    pub task_pid: u32,
    pub _pad: u32,
}

/// On-CPU time and run-queue latency of one cgroup on one CPU: one map value, so that the
/// program finds both with one lookup.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Nanoseconds the cgroup's tasks ran (from switch-in to switch-out).
    pub on_cpu_ns: u64,
    /// Times a task of the cgroup was switched out.
    pub switches: u64,
    /// The waits before those slices.
    pub runq: RunqLatency,
}

/// Run-queue latency: time from being queued (wakeup, fork or preemption) to running.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunqLatency {
    /// Waits measured.
    pub count: u64,
    /// Their total, in nanoseconds.
    pub total_ns: u64,
    /// log2 histogram in microseconds, see [`RUNQ_BUCKETS`].
    pub buckets: [u64; RUNQ_BUCKETS],
}

impl Default for RunqLatency {
    fn default() -> Self {
        RunqLatency {
            count: 0,
            total_ns: 0,
            buckets: [0; RUNQ_BUCKETS],
        }
    }
}

impl RunqLatency {
    /// Adds `other`'s counts (one CPU's) to these.
    pub fn add(&mut self, other: &RunqLatency) {
        self.count += other.count;
        self.total_ns += other.total_ns;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }
}

/// What a CPU runs since its last task switch: the program charges the slice at the next
/// switch; readers add the slice in progress (a busy task alone on its CPU may not switch for
/// seconds) as the growth of the task's run time since (/proc/TID/schedstat).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunningSlice {
    /// The running task's cgroup2 id (whether registered or not); 0 before the first switch
    /// seen.
    pub cgroup_id: u64,
    /// The running task's task_struct address.
    pub task: u64,
    /// Its `cgroups` (css_set address) when it was switched in: `cgroup_id` is still its
    /// cgroup while this is unchanged.
    pub css_set: u64,
    /// Its `se.sum_exec_runtime` when it was switched in.
    pub runtime_ns: u64,
    /// Its `sched_info.last_queued` when it was switched in: when it was queued, in the
    /// scheduler's clock (0: it did not wait, its cgroup is not registered, or unknown).
    pub queued_ns: u64,
    /// [`CPU_CGROUPS_GEN_MAP`]'s value when `slot` was found.
    pub generation: u64,
    /// Its thread id (in the initial pid namespace).
    pub tid: u32,
    /// `cgroup_id`'s slot in [`CPU_TIME_MAP`], or [`NO_SLOT`].
    pub slot: u32,
}

/// The histogram bucket of a wait of `ns` nanoseconds.
#[inline(always)]
pub fn runq_bucket(ns: u64) -> usize {
    // floor(log2(ns / 1000)) = the largest i below RUNQ_BUCKETS with 1000 << i <= ns (0 for
    // less than 1 µs), by a binary search on i: straight code without a division (the
    // verifier prefers it, and a 64-bit division is the slowest instruction on the path).
    const US: u64 = 1000;
    let mut r = 0usize;
    if ns >= US << 16 {
        r += 16;
    }
    if ns >= US << (r + 8) {
        r += 8;
    }
    if ns >= US << (r + 4) {
        r += 4;
    }
    if ns >= US << (r + 2) {
        r += 2;
    }
    if ns >= US << (r + 1) {
        r += 1;
    }
    r
}

crate::user_pod!(SchedKernel, CpuTime, RunqLatency, RunningSlice);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log2_microseconds() {
        assert_eq!(runq_bucket(0), 0);
        assert_eq!(runq_bucket(1_999), 0);
        assert_eq!(runq_bucket(2_000), 1);
        assert_eq!(runq_bucket(3_999), 1);
        assert_eq!(runq_bucket(4_000), 2);
        assert_eq!(runq_bucket(1_000_000), 9);
        assert_eq!(runq_bucket(u64::MAX), RUNQ_BUCKETS - 1);
        for i in 0..RUNQ_BUCKETS as u32 {
            let bound = 1000u64 << i;
            assert_eq!(runq_bucket(bound), i as usize, "{bound}");
            if i > 0 {
                assert_eq!(runq_bucket(bound - 1), i as usize - 1, "{bound} - 1");
            }
        }
    }
}
