//! On-CPU time and run-queue latency from the `sched_switch` BTF tracepoint (arguments:
//! preempt, prev, next, ...), the one scheduler program.
//!
//! It runs on every context switch of the host, so it does little: no per-task map, no
//! atomics, no helper call and no hash lookup while the CPU switches between tasks of one
//! cgroup; one hash lookup when the cgroup changes. The kernel keeps the
//! accounts; the program reads them straight from the task_structs (tp_btf pointers, field
//! offsets from the loader, constants to the verifier):
//!
//! - at each switch the CPU's LAST_SWITCH entry notes `next`: its cgroup2 id and that cgroup's counter
//!   slot (prev's when they share a css_set: no lookup), its `se.sum_exec_runtime`, its
//!   `sched_info.last_queued` (when it was queued: on wakeup, fork or preemption; set by the
//!   scheduler before this tracepoint, cleared after it) and its tid (readers add the slice in
//!   progress from /proc/TID/schedstat);
//! - when that task leaves the CPU again (it is `prev` of the CPU's next switch, running in
//!   its own context), its cgroup (as noted, or `bpf_get_current_cgroup_id` if it moved),
//!   if registered (its slot as noted, looked up again if registrations changed since), is
//!   charged the growth of its `sum_exec_runtime` (the amounts cpuacct and
//!   cpu.stat add up) and the wait before the slice: `sched_info.last_arrival -
//!   last_queued`, both the scheduler's clock.
//!
//! A task that was switched in before the program was attached is charged its slice as the
//! scheduler counts it (`sum_exec_runtime - prev_sum_exec_runtime`), without the wait.

use aya_ebpf::{
    helpers::bpf_get_current_cgroup_id,
    macros::{btf_tracepoint, map},
    maps::{Array, HashMap, PerCpuArray},
    programs::BtfTracePointContext,
};
use ebrun_common::sched::{runq_bucket, CpuTime, RunningSlice, SchedKernel, NO_SLOT};
use ebrun_common::MAX_CGROUPS;

#[map(name = "CPU_CGROUPS")]
static CPU_CGROUPS: HashMap<u64, u32> = HashMap::with_max_entries(MAX_CGROUPS, 0);

/// Sized by the loader to a memory budget on the host's CPUs.
#[map(name = "CPU_TIME")]
static CPU_TIME: PerCpuArray<CpuTime> = PerCpuArray::with_max_entries(MAX_CGROUPS, 0);

/// Written by userspace only; here so that the loader creates and pins it with the rest.
#[map(name = "CPU_SLOT_OWNERS")]
static CPU_SLOT_OWNERS: HashMap<u32, u64> = HashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "CPU_CGROUPS_GEN")]
static CPU_CGROUPS_GEN: Array<u64> = Array::with_max_entries(1, 0);

#[map(name = "LAST_SWITCH")]
static LAST_SWITCH: PerCpuArray<RunningSlice> = PerCpuArray::with_max_entries(1, 0);

/// Set by the loader from the kernel's BTF.
#[unsafe(no_mangle)]
static SCHED_KERNEL: SchedKernel = SchedKernel {
    sum_exec_runtime: 0,
    prev_sum_exec_runtime: 0,
    last_arrival: 0,
    last_queued: 0,
    task_cgroups: 0,
    css_set_dfl_cgrp: 0,
    cgroup_kn: 0,
    kernfs_node_id: 0,
    task_pid: 0,
    _pad: 0,
};

/// One offset of [`SCHED_KERNEL`], read where it is used (a load from .rodata).
macro_rules! offset {
    ($field:ident) => {
        // SAFETY: a global in .rodata, set before load.
        unsafe { core::ptr::read_volatile(&SCHED_KERNEL.$field) }
    };
}

/// The u64 at `base + offset` of a kernel struct.
///
/// # Safety
/// `base` is a BTF pointer of the tracepoint (or loaded from one) and `offset` a constant from
/// [`SCHED_KERNEL`] naming a u64 member of its struct: the verifier checks the access against
/// the kernel's BTF and the JIT turns a fault into a 0.
#[inline(always)]
unsafe fn load(base: u64, offset: u32) -> u64 {
    // SAFETY: see above.
    unsafe { core::ptr::read_volatile((base + u64::from(offset)) as *const u64) }
}

/// The u32 at `base + offset` of a kernel struct.
///
/// # Safety
/// As for [`load`], for a 4-byte member.
#[inline(always)]
unsafe fn load_u32(base: u64, offset: u32) -> u32 {
    // SAFETY: see above.
    unsafe { core::ptr::read_volatile((base + u64::from(offset)) as *const u32) }
}

/// The slot of cgroup `id` in `CPU_TIME`, or [`NO_SLOT`] if it is not registered.
#[inline(always)]
fn slot_of(id: u64) -> u32 {
    // SAFETY: a plain u32 value, copied out.
    unsafe { CPU_CGROUPS.get(&id) }.copied().unwrap_or(NO_SLOT)
}

#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> i32 {
    let prev: u64 = ctx.arg(1);
    let next: u64 = ctx.arg(2);
    let Some(last) = LAST_SWITCH.get_ptr_mut(0) else {
        return 0;
    };
    let generation = match CPU_CGROUPS_GEN.get_ptr(0) {
        // SAFETY: a live array element, bumped by userspace.
        Some(g) => unsafe { core::ptr::read_volatile(g) },
        None => 0,
    };
    // SAFETY: this CPU's entry of a per-CPU array: nothing else on this CPU runs meanwhile.
    // `prev` and `next` are the tracepoint's task pointers, offsets from the loader.
    let (noted, prev_css) = unsafe { (*last, load(prev, offset!(task_cgroups))) };
    // prev's cgroup and slot: as noted when it was switched in, unless it moved since (or
    // registrations changed: the slot is looked up again).
    let (cgroup_id, slot) = if noted.task == prev && noted.css_set == prev_css {
        if noted.generation == generation {
            (noted.cgroup_id, noted.slot)
        } else {
            (noted.cgroup_id, slot_of(noted.cgroup_id))
        }
    } else {
        // SAFETY: a helper without arguments (prev is current).
        let id = unsafe { bpf_get_current_cgroup_id() };
        (id, slot_of(id))
    };
    if slot != NO_SLOT {
        if let Some(time) = CPU_TIME.get_ptr_mut(slot) {
            charge(time, prev, &noted);
        }
    }
    // SAFETY: as above; the chain task->cgroups->dfl_cgrp->kn follows pointer members the
    // loader found in the BTF.
    let next_css = unsafe { load(next, offset!(task_cgroups)) };
    let (next_cgroup_id, next_slot) = if next_css == prev_css {
        (cgroup_id, slot)
    } else {
        // SAFETY: as above.
        let id = unsafe {
            let cgroup = load(next_css, offset!(css_set_dfl_cgrp));
            let kn = load(cgroup, offset!(cgroup_kn));
            load(kn, offset!(kernfs_node_id))
        };
        (id, slot_of(id))
    };
    // No clock read (bpf_ktime_get_ns alone costs ~30 ns in a VM): readers measure the slice
    // in progress by the task's own run time.
    let last_queued = offset!(last_queued);
    let note = RunningSlice {
        cgroup_id: next_cgroup_id,
        task: next,
        css_set: next_css,
        // SAFETY: as above.
        runtime_ns: unsafe { load(next, offset!(sum_exec_runtime)) },
        queued_ns: if next_slot != NO_SLOT && last_queued != 0 {
            // SAFETY: as above.
            unsafe { load(next, last_queued) }
        } else {
            0
        },
        generation,
        // SAFETY: as above (a pid_t member).
        tid: unsafe { load_u32(next, offset!(task_pid)) },
        slot: next_slot,
    };
    // SAFETY: this CPU's entry, as above.
    unsafe { *last = note };
    0
}

/// Charges `prev`'s slice, and the wait before it, to `time` (this CPU's counters of its
/// cgroup).
#[inline(always)]
fn charge(time: *mut CpuTime, prev: u64, noted: &RunningSlice) {
    // SAFETY: `prev` is the tracepoint's task pointer, offsets from the loader.
    let runtime = unsafe { load(prev, offset!(sum_exec_runtime)) };
    let (since, queued) = if noted.task == prev {
        (noted.runtime_ns, noted.queued_ns)
    } else {
        // Switched in before the program was attached: its slice as the scheduler counts it.
        // SAFETY: as above.
        (unsafe { load(prev, offset!(prev_sum_exec_runtime)) }, 0)
    };
    // SAFETY: this CPU's value of a live per-CPU array element.
    unsafe {
        (*time).on_cpu_ns += runtime.saturating_sub(since);
        (*time).switches += 1;
    }
    if queued == 0 {
        return;
    }
    // SAFETY: as above (queued is non-zero only if the kernel has sched_info).
    let arrived = unsafe { load(prev, offset!(last_arrival)) };
    if arrived > queued {
        let ns = arrived - queued;
        let bucket = runq_bucket(ns);
        // SAFETY: as above; `bucket` is below RUNQ_BUCKETS.
        unsafe {
            (*time).runq.count += 1;
            (*time).runq.total_ns += ns;
            *(*time).runq.buckets.as_mut_ptr().add(bucket) += 1;
        }
    }
}
