//! Memory: usage, working set, highest usage, limit, limit hits and reservation (cgroup
//! files; for an exited container, as they were when it exited), reclaim (eBPF), OOM kills
//! (eBPF, over the container's life) and when the last one happened.

use super::{emit_nonempty, st, Collector, Family, NS};
use crate::metrics::sample::Sample;

/// `ebrun_container_memory_*`, `ebrun_container_oom_kills_total` and
/// `ebrun_container_last_oom_timestamp_seconds`.
pub struct Memory;

fn page_size() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096.0, |v| v as f64)
}

impl Collector for Memory {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut usage = Family::gauge(
            "ebrun_container_memory_usage_bytes",
            "Memory charged to the container's cgroup, page cache included.",
        );
        let mut working_set = Family::gauge(
            "ebrun_container_memory_working_set_bytes",
            "Memory usage minus inactive file cache (what docker stats shows, and what the OOM killer weighs).",
        );
        let mut limit = Family::gauge(
            "ebrun_container_memory_limit_bytes",
            "The container's memory limit (-m); absent when unlimited.",
        );
        let mut max_usage = Family::gauge(
            "ebrun_container_memory_max_usage_bytes",
            "The highest memory usage of the container's current (or last) run.",
        );
        let mut limit_hits = Family::counter(
            "ebrun_container_memory_limit_hits_total",
            "Times the container's memory usage hit its limit in its current (or last) run (v1 memory.failcnt, v2 memory.events max).",
        );
        let mut reservation = Family::gauge(
            "ebrun_container_memory_reservation_bytes",
            "The container's memory reservation (--memory-reservation); absent when unset.",
        );
        let mut reclaims = Family::counter(
            "ebrun_container_memory_reclaims_total",
            "Memory reclaims done by the container's tasks (eBPF); kind memcg = at its limit, direct = the host short of memory.",
        );
        let mut reclaim_seconds = Family::counter(
            "ebrun_container_memory_reclaim_seconds_total",
            "Time the container's tasks spent reclaiming memory (eBPF).",
        );
        let mut reclaimed = Family::counter(
            "ebrun_container_memory_reclaimed_bytes_total",
            "Memory those reclaims freed (eBPF).",
        );
        let mut ooms = Family::counter(
            "ebrun_container_oom_kills_total",
            "Processes of the container killed by the OOM killer, over all its runs (eBPF).",
        );
        let mut last_oom = Family::gauge(
            "ebrun_container_last_oom_timestamp_seconds",
            "When the OOM killer last killed a process of the container, Unix time; absent if it never did.",
        );
        let page = page_size();
        for c in &sample.containers {
            let labels = &c.labels;
            if let Some(s) = &c.cgroup {
                usage.add_container(labels, &[], s.memory_usage as f64);
                working_set.add_container(
                    labels,
                    &[],
                    s.memory_usage.saturating_sub(s.memory_inactive_file) as f64,
                );
                if let Some(l) = s.memory_limit {
                    limit.add_container(labels, &[], l as f64);
                }
                if let Some(m) = s.memory_max_usage {
                    max_usage.add_container(labels, &[], m as f64);
                }
                if let Some(n) = s.memory_limit_hits {
                    limit_hits.add_container(labels, &[], n as f64);
                }
            }
            if let Some(n) = c.oom_kills {
                ooms.add_container(labels, &[], n as f64);
            }
            if let Some(t) = c.last_oom_at {
                last_oom.add_container(labels, &[], t);
            }
            if let Some(r) = c.config.resources.memory_reservation.filter(|r| *r > 0) {
                reservation.add_container(labels, &[], r as f64);
            }
            let Some(m) = &c.meters else { continue };
            if let Some(r) = &m.reclaim {
                for (kind, n, ns, pages) in [
                    (
                        "memcg",
                        r.memcg_reclaims,
                        r.memcg_reclaim_ns,
                        r.memcg_reclaimed_pages,
                    ),
                    (
                        "direct",
                        r.direct_reclaims,
                        r.direct_reclaim_ns,
                        r.direct_reclaimed_pages,
                    ),
                ] {
                    let l = [("kind", st(kind))];
                    reclaims.add_container(labels, &l, n as f64);
                    reclaim_seconds.add_container(labels, &l, ns as f64 * NS);
                    reclaimed.add_container(labels, &l, pages as f64 * page);
                }
            }
        }
        for f in [
            usage,
            working_set,
            max_usage,
            limit,
            limit_hits,
            reservation,
            reclaims,
            reclaim_seconds,
            reclaimed,
            ooms,
            last_oom,
        ] {
            emit_nonempty(emit, f);
        }
    }
}
