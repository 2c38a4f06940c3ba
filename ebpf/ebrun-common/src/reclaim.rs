//! The memory reclaim meter: memcg reclaim (the cgroup hit its limit) and global direct
//! reclaim, from the vmscan begin/end tracepoints, which run in the allocating task.

/// Per-CPU hash: cgroup2 id -> [`ReclaimStats`]. An entry present means "registered".
pub const RECLAIM_MAP: &str = "RECLAIM";
/// LRU hash: [`reclaim_start_key`] -> start time (ns) of a reclaim in progress.
pub const RECLAIM_START_MAP: &str = "RECLAIM_START";

pub const MEMCG_RECLAIM_BEGIN_PROG: &str = "memcg_reclaim_begin";
pub const MEMCG_RECLAIM_END_PROG: &str = "memcg_reclaim_end";
pub const DIRECT_RECLAIM_BEGIN_PROG: &str = "direct_reclaim_begin";
pub const DIRECT_RECLAIM_END_PROG: &str = "direct_reclaim_end";

/// Reclaims in flight followed at once.
pub const MAX_RECLAIMS_IN_FLIGHT: u32 = 8192;

/// Which reclaim a start time belongs to.
pub const RECLAIM_MEMCG: u64 = 0;
pub const RECLAIM_DIRECT: u64 = 1;

/// Key of [`RECLAIM_START_MAP`]: the thread id and the kind of reclaim.
#[inline(always)]
pub fn reclaim_start_key(tid: u32, kind: u64) -> u64 {
    ((tid as u64) << 1) | kind
}

/// Reclaim done by one cgroup's tasks, on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReclaimStats {
    /// memcg reclaims (the cgroup at or above its memory limit).
    pub memcg_count: u64,
    pub memcg_ns: u64,
    pub memcg_pages: u64,
    /// Global direct reclaims (the whole host short of memory).
    pub direct_count: u64,
    pub direct_ns: u64,
    pub direct_pages: u64,
}

crate::user_pod!(ReclaimStats);
