//! The OOM kill meter: `oom/mark_victim`, counted per container and kept as events in a
//! pinned ring of slots with a sequence number, so no reader has to be alive when a kill
//! happens and any number of readers can read without consuming.

/// Hash: cgroup2 id -> `u64` OOM kills. An entry present means "registered".
pub const OOM_KILLS_MAP: &str = "OOM_KILLS";
/// Array of [`OOM_EVENT_SLOTS`] [`OomEvent`]s; event `seq` lives in slot `seq % OOM_EVENT_SLOTS`.
pub const OOM_EVENTS_MAP: &str = "OOM_EVENTS";
/// Array of one `u64`: the sequence number of the newest event (0: none yet).
pub const OOM_SEQ_MAP: &str = "OOM_SEQ";
/// Global [`OomKernel`] set by the loader from the kernel's BTF.
pub const OOM_KERNEL_GLOBAL: &str = "OOM_KERNEL";
pub const OOM_VICTIM_PROG: &str = "oom_victim";
/// The raw tracepoint of the OOM killer choosing its victim.
pub const OOM_TRACEPOINT: &str = "mark_victim";
/// Recent events kept.
pub const OOM_EVENT_SLOTS: u32 = 256;

/// `mark_victim`'s first argument is the victim's `task_struct *` (Linux >= 6.8).
pub const OOM_MODE_TASK: u32 = 1;
/// `mark_victim`'s first argument is the victim's pid (older kernels): the victim is
/// attributed to the cgroup of the task that triggered the kill.
pub const OOM_MODE_PID: u32 = 2;

/// [`OomEvent::flags`]: the RSS fields were read from the victim's mm.
pub const OOM_FLAG_RSS: u32 = 1;
/// [`OomEvent::flags`]: `cgroup_id` is the victim's own (read from its task), not the
/// triggering task's.
pub const OOM_FLAG_VICTIM_CGROUP: u32 = 2;

/// Kernel structure offsets (bytes) the program needs, from the running kernel's BTF.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomKernel {
    /// [`OOM_MODE_TASK`] or [`OOM_MODE_PID`].
    pub mode: u32,
    pub task_pid: u32,
    pub task_comm: u32,
    pub task_mm: u32,
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    pub mm_total_vm: u32,
    /// Counter `i` of the mm is at `mm + rss_stat + i * rss_stride + rss_count`
    /// (an array of `percpu_counter`s since 6.2, of `atomic_long_t`s before).
    pub mm_rss_stat: u32,
    pub rss_stride: u32,
    pub rss_count: u32,
    /// Indexes of MM_FILEPAGES, MM_ANONPAGES and MM_SHMEMPAGES.
    pub rss_file: u32,
    pub rss_anon: u32,
    pub rss_shmem: u32,
    pub _pad: u32,
}

/// One OOM kill.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomEvent {
    /// Sequence number (from 1), written last: a slot whose `seq` is not the one expected
    /// is being written or was overwritten.
    pub seq: u64,
    /// When (CLOCK_BOOTTIME, ns).
    pub boot_ns: u64,
    /// The victim's cgroup2 id.
    pub cgroup_id: u64,
    /// The cgroup2 id of the task whose allocation triggered the kill.
    pub trigger_cgroup_id: u64,
    /// Victim's pid (thread id, host pid namespace).
    pub pid: u32,
    /// The triggering task's thread id.
    pub trigger_pid: u32,
    /// In pages.
    pub total_vm_pages: u64,
    pub anon_rss_pages: u64,
    pub file_rss_pages: u64,
    pub shmem_rss_pages: u64,
    /// The victim's command (NUL-padded).
    pub comm: [u8; 16],
    /// [`OOM_FLAG_RSS`], [`OOM_FLAG_VICTIM_CGROUP`].
    pub flags: u32,
    pub _pad: u32,
}

crate::user_pod!(OomKernel, OomEvent);
