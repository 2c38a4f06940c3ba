//! Counts successful `execve` calls per container cgroup.
//!
//! Attached to the `sched_process_exec` raw tracepoint, which fires in the context of the task
//! that has just exec'ed, so the current cgroup2 id is the container's. Only cgroups that
//! userspace registered (an entry present in the map) are counted: host cgroups never fill it.

use aya_ebpf::{
    helpers::bpf_get_current_cgroup_id, macros::map, macros::raw_tracepoint,
    maps::PerCpuHashMap, programs::RawTracePointContext,
};
use ebrun_common::MAX_CGROUPS;

#[map(name = "EXEC_COUNT")]
static EXEC_COUNT: PerCpuHashMap<u64, u64> = PerCpuHashMap::with_max_entries(MAX_CGROUPS, 0);

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn exec_count(_ctx: RawTracePointContext) -> i32 {
    // SAFETY: a helper with no arguments, valid in every program context.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if let Some(count) = EXEC_COUNT.get_ptr_mut(&cgroup_id) {
        // SAFETY: the pointer is this CPU's slot of a live map entry; per-CPU slots are never
        // written concurrently, so a plain increment is race-free.
        unsafe { *count += 1 };
    }
    0
}
