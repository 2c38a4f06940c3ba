//! CPU: usage from the cgroup (user/system where known), on-CPU time and run-queue latency
//! from the scheduler tracepoints, CFS bandwidth periods and throttling.

use super::{emit_nonempty, Collector, Family, NS, US};
use crate::metrics::sample::Sample;

/// Run-queue latency bucket bounds exported, in µs: powers of 4 from 4 µs to ~4.2 s. The
/// meter's log2 buckets (`[2^i, 2^(i+1))` µs) nest in them exactly.
const RUNQ_BOUNDS_US: [u64; 11] = [
    4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304,
];

/// `ebrun_container_cpu_*` and `ebrun_container_sched_*`.
pub struct Cpu;

impl Collector for Cpu {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut usage = Family::counter(
            "ebrun_container_cpu_usage_seconds_total",
            "CPU time used by the container's tasks (cgroup cpu.stat / cpuacct.usage).",
        );
        let mut user = Family::counter(
            "ebrun_container_cpu_user_seconds_total",
            "CPU time in user mode (cgroup cpu.stat), where the host reports it.",
        );
        let mut system = Family::counter(
            "ebrun_container_cpu_system_seconds_total",
            "CPU time in kernel mode (cgroup cpu.stat), where the host reports it.",
        );
        let mut periods = Family::counter(
            "ebrun_container_cpu_cfs_periods_total",
            "CFS bandwidth enforcement periods that elapsed.",
        );
        let mut throttled_periods = Family::counter(
            "ebrun_container_cpu_cfs_throttled_periods_total",
            "CFS periods in which the container was throttled.",
        );
        let mut throttled = Family::counter(
            "ebrun_container_cpu_cfs_throttled_seconds_total",
            "Time the container was throttled by its CPU quota.",
        );
        let mut on_cpu = Family::counter(
            "ebrun_container_sched_oncpu_seconds_total",
            "Time the container's tasks spent on a CPU, from the sched_switch tracepoint (eBPF).",
        );
        let mut switches = Family::counter(
            "ebrun_container_sched_switches_total",
            "Times one of the container's tasks left a CPU (eBPF).",
        );
        let mut runq = Family::histogram(
            "ebrun_container_sched_runqueue_latency_seconds",
            "Time the container's tasks waited runnable before getting a CPU (eBPF, from sched_switch: the time since the task was queued).",
        );
        for c in &sample.containers {
            let Some(m) = &c.meters else { continue };
            let labels = &c.labels;
            if let Some(cg) = &m.cgroup_cpu {
                let add = |f: &mut Family, v: Option<u64>, scale: f64| {
                    if let Some(v) = v {
                        f.add_container(labels, &[], v as f64 * scale);
                    }
                };
                add(&mut usage, cg.usage_usec, US);
                add(&mut user, cg.user_usec, US);
                add(&mut system, cg.system_usec, US);
                add(&mut periods, cg.nr_periods, 1.0);
                add(&mut throttled_periods, cg.nr_throttled, 1.0);
                add(&mut throttled, cg.throttled_usec, US);
            }
            if let Some(cpu) = &m.cpu {
                on_cpu.add_container(labels, &[], cpu.on_cpu_ns as f64 * NS);
                switches.add_container(labels, &[], cpu.switches as f64);
                let count: u64 = cpu.runq_histogram_us.iter().map(|(_, n)| n).sum();
                let buckets: Vec<(f64, u64)> = RUNQ_BOUNDS_US
                    .iter()
                    .map(|&bound| {
                        let below: u64 = cpu
                            .runq_histogram_us
                            .iter()
                            .filter(|(b, _)| *b <= bound)
                            .map(|(_, n)| n)
                            .sum();
                        (bound as f64 * US, below)
                    })
                    .collect();
                runq.add_container_histogram(labels, buckets, count, cpu.runq_wait_ns as f64 * NS);
            }
        }
        for f in [
            usage,
            user,
            system,
            periods,
            throttled_periods,
            throttled,
            on_cpu,
            switches,
            runq,
        ] {
            emit_nonempty(emit, f);
        }
    }
}
