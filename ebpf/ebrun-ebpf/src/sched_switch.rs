//! On-CPU time and the end of run-queue waits, from the `sched_switch` raw tracepoint
//! (arguments: preempt, prev, next, prev_state).
//!
//! The tracepoint runs in prev's context, after the scheduler updated prev's run time. A task
//! of a registered cgroup (`bpf_get_current_cgroup_id()`) is charged the growth of its
//! `se.sum_exec_runtime` since it was last charged: the very amounts the kernel adds to the
//! cgroup's cpuacct/cpu.stat usage. Without BTF offsets for it, the wall-clock time since this
//! CPU's previous switch is charged instead (it includes hypervisor steal time). A task that
//! leaves the CPU still runnable (preempted) is queued again: its queueing time is noted.
//! When `next` is a task with a noted queueing time, its wait ends. Each CPU notes what it
//! runs since when, so readers add the slice in progress.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
        bpf_probe_read_kernel,
    },
    macros::{map, raw_tracepoint},
    maps::{HashMap, LruHashMap, PerCpuArray, PerCpuHashMap},
    programs::RawTracePointContext,
};
use ebrun_common::sched::{
    runq_bucket, CpuTime, RunningSlice, RunqLatency, SchedKernel, TaskEntry, MAX_TASKS,
};
use ebrun_common::MAX_CGROUPS;

use crate::atomic;

#[map(name = "CPU_TIME")]
pub static CPU_TIME: PerCpuHashMap<u64, CpuTime> = PerCpuHashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "RUNQ_LATENCY")]
pub static RUNQ_LATENCY: HashMap<u64, RunqLatency> = HashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "SCHED_TASKS")]
pub static SCHED_TASKS: LruHashMap<u64, TaskEntry> = LruHashMap::with_max_entries(MAX_TASKS, 0);

#[map(name = "LAST_SWITCH")]
static LAST_SWITCH: PerCpuArray<RunningSlice> = PerCpuArray::with_max_entries(1, 0);

/// Set by the loader from the kernel's BTF.
#[unsafe(no_mangle)]
static SCHED_KERNEL: SchedKernel = SchedKernel {
    has_prev_state: 0,
    sum_exec_runtime: 0,
    prev_sum_exec_runtime: 0,
    _pad: 0,
};

/// Reads a u64 at `task + offset`; 0 if unreadable.
#[inline(always)]
fn read_u64(task: u64, offset: u32) -> u64 {
    // SAFETY: bpf_probe_read_kernel checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel((task + u64::from(offset)) as *const u64) }.unwrap_or(0)
}

#[raw_tracepoint(tracepoint = "sched_switch")]
pub fn sched_switch(ctx: RawTracePointContext) -> i32 {
    // SAFETY: a helper without arguments, valid in every tracing program.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(slice) = LAST_SWITCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU array; nothing else on this CPU runs meanwhile.
    let since = unsafe { core::ptr::replace(&mut (*slice).since_ns, now) };
    let tid = bpf_get_current_pid_tgid() as u32;
    if tid != 0 {
        // SAFETY: a helper without arguments.
        let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
        if let Some(time) = CPU_TIME.get_ptr_mut(cgroup_id) {
            let ran = switched_out(&ctx, cgroup_id, now, since);
            // SAFETY: this CPU's slot of a live per-CPU hash entry.
            unsafe {
                (*time).on_cpu_ns += ran;
                (*time).switches += 1;
            }
        }
    }
    let next: u64 = ctx.arg(2);
    let mut next_cgroup_id = 0;
    if let Some(task) = SCHED_TASKS.get_ptr_mut(next) {
        // SAFETY: a live LRU entry; only the CPU switching `next` in touches its queue time
        // now (a racing wakeup would only restart the wait).
        let (queued, cgroup_id) = unsafe {
            (
                core::ptr::replace(&mut (*task).enqueued_ns, 0),
                (*task).cgroup_id,
            )
        };
        if queued != 0 && now > queued {
            record_wait(cgroup_id, now - queued);
        }
        next_cgroup_id = cgroup_id;
    }
    // SAFETY: as for `since` above.
    unsafe { (*slice).cgroup_id = next_cgroup_id };
    0
}

/// Notes prev (a task of registered cgroup `cgroup_id`) leaving the CPU: queued again if
/// still runnable. Returns the run time to charge.
#[inline(always)]
fn switched_out(ctx: &RawTracePointContext, cgroup_id: u64, now: u64, since: u64) -> u64 {
    let preempt: u64 = ctx.arg(0);
    let prev: u64 = ctx.arg(1);
    // SAFETY: a global in .rodata, set before load.
    let k = unsafe { core::ptr::read_volatile(&SCHED_KERNEL) };
    let runnable =
        preempt & 0xff != 0 || (k.has_prev_state != 0 && (ctx.arg::<u64>(3) as u32) == 0);
    let enqueued_ns = if runnable { now } else { 0 };
    let entry = SCHED_TASKS.get_ptr_mut(prev);
    if k.sum_exec_runtime == 0 {
        match entry {
            // SAFETY: a live LRU entry of the task running on this CPU.
            Some(task) => unsafe {
                (*task).cgroup_id = cgroup_id;
                (*task).enqueued_ns = enqueued_ns;
            },
            None => insert(prev, cgroup_id, enqueued_ns, 0),
        }
        return if since != 0 { now - since } else { 0 };
    }
    let runtime = read_u64(prev, k.sum_exec_runtime);
    let charged = match entry {
        // SAFETY: as above.
        Some(task) if unsafe { (*task).runtime_ns } != 0 => unsafe {
            core::ptr::replace(&mut (*task).runtime_ns, runtime)
        },
        // First seen: charge this slice only (the task may have run elsewhere before).
        _ => read_u64(prev, k.prev_sum_exec_runtime),
    };
    match entry {
        // SAFETY: as above.
        Some(task) => unsafe {
            (*task).cgroup_id = cgroup_id;
            (*task).enqueued_ns = enqueued_ns;
            (*task).runtime_ns = runtime;
        },
        None => insert(prev, cgroup_id, enqueued_ns, runtime),
    }
    runtime.saturating_sub(charged)
}

#[inline(always)]
fn insert(task: u64, cgroup_id: u64, enqueued_ns: u64, runtime_ns: u64) {
    let _ = SCHED_TASKS.insert(
        task,
        TaskEntry {
            cgroup_id,
            enqueued_ns,
            runtime_ns,
        },
        0,
    );
}

/// Adds one run-queue wait of `ns` to `cgroup_id`'s histogram.
#[inline(always)]
fn record_wait(cgroup_id: u64, ns: u64) {
    let Some(latency) = RUNQ_LATENCY.get_ptr_mut(cgroup_id) else {
        return;
    };
    let bucket = runq_bucket(ns);
    // SAFETY: a live hash entry shared between CPUs: atomic adds only; `bucket` is below
    // RUNQ_BUCKETS.
    unsafe {
        atomic::add(&mut (*latency).count, 1);
        atomic::add(&mut (*latency).total_ns, ns);
        atomic::add((*latency).buckets.as_mut_ptr().add(bucket), 1);
    }
}
