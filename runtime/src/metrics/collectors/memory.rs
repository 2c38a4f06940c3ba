//! Memory: usage, working set, limit and reservation (cgroup files), reclaim (eBPF), OOM
//! kills (eBPF).

use super::{emit_nonempty, st, Collector, Family, NS};
use crate::metrics::sample::Sample;

/// `ebrun_container_memory_*` and `ebrun_container_oom_kills_total`.
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
            "Processes of the container killed by the OOM killer in its current run (eBPF).",
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
            if let Some(o) = &m.oom {
                ooms.add_container(labels, &[], o.kills as f64);
            }
        }
        for f in [
            usage,
            working_set,
            limit,
            reservation,
            reclaims,
            reclaim_seconds,
            reclaimed,
            ooms,
        ] {
            emit_nonempty(emit, f);
        }
    }
}
