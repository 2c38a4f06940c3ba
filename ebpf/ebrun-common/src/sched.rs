//! The scheduler meters: on-CPU time (sched_switch) and run-queue latency (sched_wakeup /
//! sched_wakeup_new -> sched_switch).

/// Per-CPU hash: cgroup2 id -> [`CpuTime`]. An entry present means "registered".
pub const CPU_TIME_MAP: &str = "CPU_TIME";
/// Hash: cgroup2 id -> [`RunqLatency`] (updated with atomic adds).
pub const RUNQ_LATENCY_MAP: &str = "RUNQ_LATENCY";
/// LRU hash: task_struct address -> [`TaskEntry`], for tasks of registered cgroups.
pub const SCHED_TASKS_MAP: &str = "SCHED_TASKS";
/// Per-CPU array of one [`RunningSlice`]: what this CPU runs since its last switch.
pub const LAST_SWITCH_MAP: &str = "LAST_SWITCH";
/// Global [`SchedKernel`] set by the loader from the kernel's BTF.
pub const SCHED_KERNEL_GLOBAL: &str = "SCHED_KERNEL";

pub const SCHED_SWITCH_PROG: &str = "sched_switch";
pub const SCHED_WAKEUP_PROG: &str = "sched_wakeup";
pub const SCHED_WAKEUP_NEW_PROG: &str = "sched_wakeup_new";

/// How many tasks of registered cgroups the run-queue latency meter follows at once.
pub const MAX_TASKS: u32 = 65536;
/// Buckets of the run-queue latency histogram: bucket `i` counts waits of
/// `[2^i, 2^(i+1))` microseconds (bucket 0 also takes waits below 1 µs; the last bucket
/// takes everything longer).
pub const RUNQ_BUCKETS: usize = 32;

/// What the scheduler programs need to know about the running kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedKernel {
    /// 1 if sched_switch passes `prev_state` as its fourth argument (Linux >= 5.18); if not,
    /// only preemption counts as leaving the CPU runnable.
    pub has_prev_state: u32,
    /// Offsets in task_struct of `se.sum_exec_runtime` and `se.prev_sum_exec_runtime`: the
    /// scheduler's own account of the task's run time (what cpuacct and cpu.stat sum up;
    /// it leaves out time stolen by the hypervisor). 0: unknown, charge wall-clock time
    /// between switches instead.
    pub sum_exec_runtime: u32,
    pub prev_sum_exec_runtime: u32,
    pub _pad: u32,
}

/// On-CPU time of one cgroup on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Nanoseconds the cgroup's tasks ran (from switch-in to switch-out).
    pub on_cpu_ns: u64,
    /// Times a task of the cgroup was switched out.
    pub switches: u64,
}

/// Run-queue latency of one cgroup: time from wakeup (or preemption) to running.
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

/// What a CPU runs since its last task switch, so that readers can add the slice in
/// progress (a busy task alone on its CPU may not switch for seconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunningSlice {
    /// When the CPU switched to the running task (ns, CLOCK_MONOTONIC); 0 before the first
    /// switch seen.
    pub since_ns: u64,
    /// The running task's cgroup2 id if it is a known task of a registered cgroup, else 0.
    pub cgroup_id: u64,
}

/// A task of a registered cgroup, keyed by its task_struct address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskEntry {
    /// The cgroup2 id the task had when last seen switching out (or its parent's at fork).
    pub cgroup_id: u64,
    /// When it became runnable and was queued (ns, monotonic); 0 while it runs or sleeps.
    pub enqueued_ns: u64,
    /// The task's `se.sum_exec_runtime` when last charged (0: not yet).
    pub runtime_ns: u64,
}

/// The histogram bucket of a wait of `ns` nanoseconds.
#[inline(always)]
pub fn runq_bucket(ns: u64) -> usize {
    let us = ns / 1000;
    // floor(log2(us)) without loops (the verifier prefers straight code).
    let mut v = us;
    let mut r = 0usize;
    if v >= 1 << 32 {
        v >>= 32;
        r += 32;
    }
    if v >= 1 << 16 {
        v >>= 16;
        r += 16;
    }
    if v >= 1 << 8 {
        v >>= 8;
        r += 8;
    }
    if v >= 1 << 4 {
        v >>= 4;
        r += 4;
    }
    if v >= 1 << 2 {
        v >>= 2;
        r += 2;
    }
    if v >= 1 << 1 {
        r += 1;
    }
    if r >= RUNQ_BUCKETS {
        RUNQ_BUCKETS - 1
    } else {
        r
    }
}

crate::user_pod!(SchedKernel, CpuTime, RunqLatency, TaskEntry, RunningSlice);

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
    }
}
