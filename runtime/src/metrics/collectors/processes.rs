//! Tasks in each container and its pids limit.

use super::{Collector, Family};
use crate::metrics::sample::Sample;

/// `ebrun_container_pids` and `ebrun_container_pids_limit`.
pub struct Processes;

impl Collector for Processes {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut current = Family::gauge(
            "ebrun_container_pids",
            "Tasks (processes and threads) in the container's cgroup.",
        );
        let mut limit = Family::gauge(
            "ebrun_container_pids_limit",
            "The container's --pids-limit; absent when unlimited.",
        );
        for c in &sample.containers {
            if let Some(s) = &c.cgroup {
                current.add_container(&c.labels, &[], s.pids as f64);
            }
            if let Some(l) = c.config.resources.pids_limit.filter(|l| *l > 0) {
                limit.add_container(&c.labels, &[], l as f64);
            }
        }
        super::emit_nonempty(emit, current);
        super::emit_nonempty(emit, limit);
    }
}
