//! The start of run-queue waits: `sched_wakeup` (a sleeping task becomes runnable) and
//! `sched_wakeup_new` (a forked task is queued for the first time). Their one argument is the
//! task. A woken task of a registered cgroup is known from its last switch-out; a new task
//! belongs to its parent's cgroup, which is current's.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, bpf_ktime_get_ns},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use ebrun_common::sched::TaskEntry;

use crate::sched_switch::{CPU_TIME, SCHED_TASKS};

#[raw_tracepoint(tracepoint = "sched_wakeup")]
pub fn sched_wakeup(ctx: RawTracePointContext) -> i32 {
    let task: u64 = ctx.arg(0);
    if let Some(entry) = SCHED_TASKS.get_ptr_mut(task) {
        // SAFETY: a live LRU entry; a helper without arguments.
        unsafe { (*entry).enqueued_ns = bpf_ktime_get_ns() };
    }
    0
}

#[raw_tracepoint(tracepoint = "sched_wakeup_new")]
pub fn sched_wakeup_new(ctx: RawTracePointContext) -> i32 {
    let task: u64 = ctx.arg(0);
    // SAFETY: helpers without arguments.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if CPU_TIME.get_ptr(cgroup_id).is_some() {
        let entry = TaskEntry {
            cgroup_id,
            // SAFETY: as above.
            enqueued_ns: unsafe { bpf_ktime_get_ns() },
            runtime_ns: 0,
        };
        let _ = SCHED_TASKS.insert(task, entry, 0);
    } else {
        // The address may be a freed task's that belonged to a container.
        let _ = SCHED_TASKS.remove(task);
    }
    0
}
