//! What the programs need to know about the running kernel, read from its BTF at load time
//! (aya's Rust programs have no CO-RE): tracepoint argument layouts and struct offsets.

use ebrun_common::oom::{OomKernel, OOM_MODE_PID, OOM_MODE_TASK};
use ebrun_common::sched::SchedKernel;

use super::btf::{Btf, TpArg};

/// Whether `sched_switch` passes `prev_state` (its fourth argument, Linux >= 5.18).
fn switch_has_prev_state(btf: Option<&Btf>) -> bool {
    btf.and_then(|b| b.raw_tracepoint_args("sched_switch"))
        .is_some_and(|args| args.len() >= 4)
}

/// The scheduler programs' view of the kernel (zeros where BTF does not tell).
pub(super) fn sched_kernel(btf: Option<&Btf>) -> SchedKernel {
    let runtime = |field: &str| {
        let se = btf?.member("task_struct", "se")?;
        Some(se.offset + btf?.member("sched_entity", field)?.offset)
    };
    let (sum, prev) = match (
        runtime("sum_exec_runtime"),
        runtime("prev_sum_exec_runtime"),
    ) {
        (Some(s), Some(p)) => (s, p),
        _ => (0, 0),
    };
    SchedKernel {
        has_prev_state: u32::from(switch_has_prev_state(btf)),
        sum_exec_runtime: sum,
        prev_sum_exec_runtime: prev,
        _pad: 0,
    }
}

/// The OOM program's view of the kernel; `Err` says why the OOM meter cannot work.
pub(super) fn oom_kernel(btf: Option<&Btf>) -> Result<OomKernel, String> {
    let btf = btf.ok_or("the kernel has no BTF (/sys/kernel/btf/vmlinux)")?;
    let args = btf
        .raw_tracepoint_args("mark_victim")
        .ok_or("the kernel has no oom/mark_victim tracepoint")?;
    match args.first() {
        Some(TpArg::StructPtr(s)) if s == "task_struct" => task_mode(btf),
        Some(TpArg::Value) => Ok(OomKernel {
            mode: OOM_MODE_PID,
            ..OomKernel::default()
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
    fn this_kernel_is_understood() {
        let Ok(btf) = Btf::vmlinux() else { return };
        let k = oom_kernel(Some(&btf)).unwrap();
        assert!(k.mode == OOM_MODE_TASK || k.mode == OOM_MODE_PID);
        if k.mode == OOM_MODE_TASK {
            assert!(k.task_pid > 0 && k.task_cgroups > 0 && k.rss_stride >= 8);
        }
        let sched = sched_kernel(Some(&btf));
        assert_eq!(sched.has_prev_state, 1);
        assert!(sched.sum_exec_runtime > 0 && sched.prev_sum_exec_runtime > sched.sum_exec_runtime);
    }
}
