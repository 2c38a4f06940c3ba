//! Pressure stall information of each container's cgroup2 directory.

use super::{st, Collector, Family, US};
use crate::metrics::sample::Sample;

/// `ebrun_container_pressure_stall_seconds_total{resource, kind}`.
pub struct Pressure;

impl Collector for Pressure {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut stall = Family::counter(
            "ebrun_container_pressure_stall_seconds_total",
            "PSI stall time of the container's cgroup: kind some = at least one task stalled on the resource, full = all of them.",
        );
        for c in &sample.containers {
            let Some(p) = c.meters.as_ref().and_then(|m| m.pressure.as_ref()) else {
                continue;
            };
            for (resource, psi) in [("cpu", &p.cpu), ("memory", &p.memory), ("io", &p.io)] {
                let Some(psi) = psi else { continue };
                stall.add_container(
                    &c.labels,
                    &[("resource", st(resource)), ("kind", st("some"))],
                    psi.some_total_us as f64 * US,
                );
                if let Some(full) = psi.full_total_us {
                    stall.add_container(
                        &c.labels,
                        &[("resource", st(resource)), ("kind", st("full"))],
                        full as f64 * US,
                    );
                }
            }
        }
        super::emit_nonempty(emit, stall);
    }
}
