//! OOM kills from the `mark_victim` raw tracepoint: counted per container and recorded as
//! events in a ring of pinned slots.
//!
//! The tracepoint has no cgroup, and current is the task whose allocation triggered the
//! kill, not always the victim. Since Linux 6.8 the tracepoint's first argument is the
//! victim's task: its cgroup2 id is read from it (task->cgroups->dfl_cgrp->kn->id), with
//! offsets the loader takes from the kernel's BTF, so two containers OOMing at once are
//! each charged their own victim. Older kernels pass only the victim's pid; the victim is
//! then charged to the triggering task's cgroup (for a container hitting its own memory
//! limit, the victim is chosen inside that same container), and when the victim is the
//! triggering task itself its command and memory are read from current. The kernel serializes OOM kills
//! (oom_lock), so the event ring needs no atomics beyond the per-cgroup counter.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_ktime_get_boot_ns, bpf_probe_read_kernel,
    },
    macros::{map, raw_tracepoint},
    maps::{Array, HashMap},
    programs::RawTracePointContext,
};
use aya_log_ebpf::info;
use ebrun_common::oom::{
    OomEvent, OomKernel, OOM_EVENT_SLOTS, OOM_FLAG_RSS, OOM_FLAG_VICTIM_CGROUP, OOM_MODE_PID,
    OOM_MODE_TASK,
};
use ebrun_common::MAX_CGROUPS;

use crate::atomic;

#[map(name = "OOM_KILLS")]
static OOM_KILLS: HashMap<u64, u64> = HashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "OOM_EVENTS")]
static OOM_EVENTS: Array<OomEvent> = Array::with_max_entries(OOM_EVENT_SLOTS, 0);

#[map(name = "OOM_SEQ")]
static OOM_SEQ: Array<u64> = Array::with_max_entries(1, 0);

/// Set by the loader from the kernel's BTF; mode 0 keeps the program idle.
#[unsafe(no_mangle)]
static OOM_KERNEL: OomKernel = OomKernel {
    mode: 0,
    task_pid: 0,
    task_comm: 0,
    task_mm: 0,
    task_cgroups: 0,
    css_set_dfl_cgrp: 0,
    cgroup_kn: 0,
    kernfs_node_id: 0,
    mm_total_vm: 0,
    mm_rss_stat: 0,
    rss_stride: 0,
    rss_count: 0,
    rss_file: 0,
    rss_anon: 0,
    rss_shmem: 0,
    _pad: 0,
};

/// Reads a `T` at `base + offset` of kernel memory; `None` if unreadable.
#[inline(always)]
fn read<T>(base: u64, offset: u32) -> Option<T> {
    if base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel((base + offset as u64) as *const T) }.ok()
}

/// An mm counter (pages); the percpu_counter's central count may be slightly negative.
#[inline(always)]
fn rss(k: &OomKernel, mm: u64, index: u32) -> u64 {
    let offset = k.mm_rss_stat + index * k.rss_stride + k.rss_count;
    read::<i64>(mm, offset).map_or(0, |v| v.max(0) as u64)
}

/// The victim's memory (`task`'s mm counters) into `event`, if it still has an mm.
#[inline(always)]
fn read_memory(k: &OomKernel, task: u64, event: &mut OomEvent) {
    if let Some(mm) = read::<u64>(task, k.task_mm).filter(|mm| *mm != 0) {
        event.total_vm_pages = read::<u64>(mm, k.mm_total_vm).unwrap_or(0);
        event.anon_rss_pages = rss(k, mm, k.rss_anon);
        event.file_rss_pages = rss(k, mm, k.rss_file);
        event.shmem_rss_pages = rss(k, mm, k.rss_shmem);
        event.flags |= OOM_FLAG_RSS;
    }
}

#[raw_tracepoint(tracepoint = "mark_victim")]
pub fn oom_victim(ctx: RawTracePointContext) -> i32 {
    // SAFETY: a global in .rodata, set before load.
    let k = unsafe { core::ptr::read_volatile(&OOM_KERNEL) };
    // SAFETY: a helper without arguments, valid in every tracing program.
    let trigger_cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    let trigger_tid = bpf_get_current_pid_tgid() as u32;
    let mut event = OomEvent {
        trigger_cgroup_id,
        trigger_pid: trigger_tid,
        ..OomEvent::default()
    };
    if k.mode == OOM_MODE_TASK {
        let task: u64 = ctx.arg(0);
        event.pid = read::<u32>(task, k.task_pid).unwrap_or(0);
        event.comm = read::<[u8; 16]>(task, k.task_comm).unwrap_or([0; 16]);
        let cgroup_id = read::<u64>(task, k.task_cgroups)
            .and_then(|css_set| read::<u64>(css_set, k.css_set_dfl_cgrp))
            .and_then(|cgroup| read::<u64>(cgroup, k.cgroup_kn))
            .and_then(|kn| read::<u64>(kn, k.kernfs_node_id));
        match cgroup_id {
            Some(id) => {
                event.cgroup_id = id;
                event.flags |= OOM_FLAG_VICTIM_CGROUP;
            }
            None => event.cgroup_id = trigger_cgroup_id,
        }
        read_memory(&k, task, &mut event);
    } else if k.mode == OOM_MODE_PID {
        event.pid = ctx.arg::<u64>(0) as u32;
        event.cgroup_id = trigger_cgroup_id;
        if event.pid == trigger_tid {
            // The victim is current (a task killed at its own allocation): its cgroup and
            // memory are current's.
            event.comm = bpf_get_current_comm().unwrap_or([0; 16]);
            event.flags |= OOM_FLAG_VICTIM_CGROUP;
            if k.task_mm != 0 {
                // SAFETY: a helper without arguments; the result is only read through
                // bpf_probe_read_kernel.
                let task = unsafe { bpf_get_current_task() };
                read_memory(&k, task, &mut event);
            }
        }
    } else {
        return 0;
    }
    let Some(kills) = OOM_KILLS.get_ptr_mut(event.cgroup_id) else {
        return 0;
    };
    // SAFETY: a live hash entry shared between CPUs: atomic add.
    unsafe { atomic::add(kills, 1) };
    let Some(seq) = OOM_SEQ.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: the map's only slot. The kernel kills under its global oom_lock, so kills never
    // race here and a plain increment hands each its own number.
    let seq = unsafe {
        *seq += 1;
        *seq
    };
    // SAFETY: helper without arguments.
    event.boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    let Some(slot) = OOM_EVENTS.get_ptr_mut((seq % OOM_EVENT_SLOTS as u64) as u32) else {
        return 0;
    };
    // SAFETY: a live array slot. `seq` is written last, so readers skip a half-written slot.
    unsafe {
        (*slot).seq = 0;
        event.seq = 0;
        core::ptr::write_volatile(slot, event);
        core::ptr::write_volatile(&mut (*slot).seq, seq);
    }
    info!(
        &ctx,
        "oom kill {}: pid {} in cgroup {} (triggered by pid {})",
        seq,
        event.pid,
        event.cgroup_id,
        trigger_tid
    );
    0
}
