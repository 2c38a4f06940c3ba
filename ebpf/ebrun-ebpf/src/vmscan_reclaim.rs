//! Memory reclaim per cgroup from the vmscan tracepoints: `mm_vmscan_memcg_reclaim_begin/end`
//! (the cgroup is at its memory limit and reclaims from itself) and
//! `mm_vmscan_direct_reclaim_begin/end` (the host is short of memory and the allocating
//! task reclaims). Both pairs run in the allocating task, so current's cgroup is the one
//! that waited; the end tracepoint's first argument is the number of pages reclaimed.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::{LruHashMap, PerCpuHashMap},
    programs::RawTracePointContext,
};
use ebrun_common::reclaim::{
    reclaim_start_key, ReclaimStats, MAX_RECLAIMS_IN_FLIGHT, RECLAIM_DIRECT, RECLAIM_MEMCG,
};
use ebrun_common::MAX_CGROUPS;

#[map(name = "RECLAIM")]
static RECLAIM: PerCpuHashMap<u64, ReclaimStats> = PerCpuHashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "RECLAIM_START")]
static RECLAIM_START: LruHashMap<u64, u64> =
    LruHashMap::with_max_entries(MAX_RECLAIMS_IN_FLIGHT, 0);

#[raw_tracepoint(tracepoint = "mm_vmscan_memcg_reclaim_begin")]
pub fn memcg_reclaim_begin(_ctx: RawTracePointContext) -> i32 {
    begin(RECLAIM_MEMCG)
}

#[raw_tracepoint(tracepoint = "mm_vmscan_memcg_reclaim_end")]
pub fn memcg_reclaim_end(ctx: RawTracePointContext) -> i32 {
    end(RECLAIM_MEMCG, ctx.arg(0))
}

#[raw_tracepoint(tracepoint = "mm_vmscan_direct_reclaim_begin")]
pub fn direct_reclaim_begin(_ctx: RawTracePointContext) -> i32 {
    begin(RECLAIM_DIRECT)
}

#[raw_tracepoint(tracepoint = "mm_vmscan_direct_reclaim_end")]
pub fn direct_reclaim_end(ctx: RawTracePointContext) -> i32 {
    end(RECLAIM_DIRECT, ctx.arg(0))
}

#[inline(always)]
fn begin(kind: u64) -> i32 {
    // SAFETY: helpers without arguments, valid in every tracing program.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if RECLAIM.get_ptr(cgroup_id).is_none() {
        return 0;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: as above.
    let now = unsafe { bpf_ktime_get_ns() };
    let _ = RECLAIM_START.insert(reclaim_start_key(tid, kind), now, 0);
    0
}

#[inline(always)]
fn end(kind: u64, pages: u64) -> i32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let key = reclaim_start_key(tid, kind);
    let Some(start) = RECLAIM_START.get_ptr(key) else {
        return 0;
    };
    // SAFETY: a live LRU entry of this thread, written only by this thread.
    let start = unsafe { *start };
    let _ = RECLAIM_START.remove(key);
    // SAFETY: helpers without arguments.
    let (now, cgroup_id) = unsafe { (bpf_ktime_get_ns(), bpf_get_current_cgroup_id()) };
    let Some(stats) = RECLAIM.get_ptr_mut(cgroup_id) else {
        return 0;
    };
    let ns = now.saturating_sub(start);
    // SAFETY: this CPU's slot of a live per-CPU hash entry.
    unsafe {
        if kind == RECLAIM_MEMCG {
            (*stats).memcg_count += 1;
            (*stats).memcg_ns += ns;
            (*stats).memcg_pages += pages;
        } else {
            (*stats).direct_count += 1;
            (*stats).direct_ns += ns;
            (*stats).direct_pages += pages;
        }
    }
    0
}
