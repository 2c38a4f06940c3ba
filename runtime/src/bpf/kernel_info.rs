//! What the programs need to know about the running kernel, read from its BTF at load time
//! (aya's Rust programs have no CO-RE): tracepoint argument layouts and struct offsets.

use ebrun_common::oom::{OomKernel, OOM_MODE_PID, OOM_MODE_TASK};
use ebrun_common::sched::SchedKernel;

use super::btf::{Btf, TpArg};

/// The scheduler program's view of the kernel: field offsets from its BTF. `Err` says why
/// the CPU meter cannot work (the program loads these fields directly, so all but
/// `sched_info`, which only the run-queue latency needs, are required).
pub(super) fn sched_kernel(btf: Option<&Btf>) -> Result<SchedKernel, String> {
    let btf = btf.ok_or("the kernel has no BTF (/sys/kernel/btf/vmlinux)")?;
    let member = |s: &str, f: &str| {
        btf.member(s, f)
            .map(|m| m.offset)
            .ok_or_else(|| format!("BTF has no {s}.{f}"))
    };
    let se = member("task_struct", "se")?;
    // Without CONFIG_SCHED_INFO: no run-queue latency (offsets 0), CPU time still counted.
    let sched_info = |f: &str| {
        Some(btf.member("task_struct", "sched_info")?.offset + btf.member("sched_info", f)?.offset)
    };
    let (last_arrival, last_queued) = match (sched_info("last_arrival"), sched_info("last_queued"))
    {
        (Some(a), Some(q)) => (a, q),
        _ => {
            tracing::warn!("the kernel has no task_struct.sched_info (CONFIG_SCHED_INFO): run-queue latency is not measured");
            (0, 0)
        }
    };
    Ok(SchedKernel {
        sum_exec_runtime: se + member("sched_entity", "sum_exec_runtime")?,
        prev_sum_exec_runtime: se + member("sched_entity", "prev_sum_exec_runtime")?,
        last_arrival,
        last_queued,
        task_cgroups: member("task_struct", "cgroups")?,
        css_set_dfl_cgrp: member("css_set", "dfl_cgrp")?,
        cgroup_kn: member("cgroup", "kn")?,
        kernfs_node_id: member("kernfs_node", "id")?,
        task_pid: member("task_struct", "pid")?,
        _pad: 0,
    })
}

/// The OOM program's view of the kernel; `Err` says why the OOM meter cannot work.
pub(super) fn oom_kernel(btf: Option<&Btf>) -> Result<OomKernel, String> {
    let btf = btf.ok_or("the kernel has no BTF (/sys/kernel/btf/vmlinux)")?;
    let args = btf
        .raw_tracepoint_args("mark_victim")
        .ok_or("the kernel has no oom/mark_victim tracepoint")?;
    match args.first() {
        Some(TpArg::StructPtr(s)) if s == "task_struct" => task_mode(btf),
        // The victim's pid only (before 6.8): the offsets still serve for the victim's
        // memory when it is the task that triggered the kill (read from current).
        Some(TpArg::Value) => Ok(OomKernel {
            mode: OOM_MODE_PID,
            ..task_mode(btf).unwrap_or_default()
        }),
        other => Err(format!("unexpected mark_victim argument {other:?}")),
    }
}

fn task_mode(btf: &Btf) -> Result<OomKernel, String> {
    let member = |s: &str, f: &str| {
        btf.member(s, f)
            .ok_or_else(|| format!("BTF has no {s}.{f}"))
    };
    let rss = member("mm_struct", "rss_stat")?;
    // Since 6.2 an array of percpu_counter (read its central `count`); before, a struct
    // holding `atomic_long_t count[NR_MM_COUNTERS]`.
    let (rss_stat, rss_stride, rss_count) = match btf.array_elem(rss.type_id) {
        Some(elem) => {
            let stride = btf.size_of(elem).ok_or("percpu_counter has no size")?;
            let count = btf
                .member_of(elem, "count")
                .ok_or("percpu_counter has no count")?;
            (rss.offset, stride, count.offset)
        }
        None => {
            let count = btf
                .member_of(rss.type_id, "count")
                .ok_or("mm_rss_stat has no count")?;
            (rss.offset + count.offset, 8, 0)
        }
    };
    let index = |name: &str| {
        btf.enum_value(name)
            .map(|v| v as u32)
            .ok_or_else(|| format!("BTF has no {name}"))
    };
    Ok(OomKernel {
        mode: OOM_MODE_TASK,
        task_pid: member("task_struct", "pid")?.offset,
        task_comm: member("task_struct", "comm")?.offset,
        task_mm: member("task_struct", "mm")?.offset,
        task_cgroups: member("task_struct", "cgroups")?.offset,
        css_set_dfl_cgrp: member("css_set", "dfl_cgrp")?.offset,
        cgroup_kn: member("cgroup", "kn")?.offset,
        kernfs_node_id: member("kernfs_node", "id")?.offset,
        mm_total_vm: member("mm_struct", "total_vm")?.offset,
        mm_rss_stat: rss_stat,
        rss_stride,
        rss_count,
        rss_file: index("MM_FILEPAGES")?,
        rss_anon: index("MM_ANONPAGES")?,
        rss_shmem: index("MM_SHMEMPAGES")?,
        _pad: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_btf_the_cpu_and_oom_meters_say_why() {
        assert!(sched_kernel(None).unwrap_err().contains("no BTF"));
        assert!(oom_kernel(None).unwrap_err().contains("no BTF"));
    }

    #[test]
    fn this_kernel_is_understood() {
        let Ok(btf) = Btf::vmlinux() else { return };
        let k = oom_kernel(Some(&btf)).unwrap();
        assert!(k.mode == OOM_MODE_TASK || k.mode == OOM_MODE_PID);
        if k.mode == OOM_MODE_TASK {
            assert!(k.task_pid > 0 && k.task_cgroups > 0 && k.rss_stride >= 8);
        }
        let sched = sched_kernel(Some(&btf)).unwrap();
        assert!(sched.sum_exec_runtime > 0 && sched.prev_sum_exec_runtime > sched.sum_exec_runtime);
        assert!(sched.last_queued > sched.last_arrival && sched.last_arrival > 0);
        assert!(sched.task_cgroups > 0 && sched.kernfs_node_id > 0);
    }
}
