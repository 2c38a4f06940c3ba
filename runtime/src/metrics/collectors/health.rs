//! ebrun's own health: build, meters and programs loaded, containers per state.

use super::{Collector, Family};
use crate::container::Status;
use crate::metrics::sample::Sample;

/// `ebrun_build_info`, `ebrun_meter_available`, `ebrun_bpf_programs_loaded`,
/// `ebrun_containers`.
pub struct Health;

impl Collector for Health {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut build = Family::gauge(
            "ebrun_build_info",
            "Always 1: the version of the ebrun serving these metrics.",
        );
        build.add(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        emit(build);
        let mut meters = Family::gauge(
            "ebrun_meter_available",
            "1 if the eBPF meter is loaded and counting on this host, 0 if it is unavailable (kernel without its hook, or not loaded yet).",
        );
        for (meter, loaded) in &sample.bpf.meters {
            meters.add(&[("meter", meter)], if *loaded { 1.0 } else { 0.0 });
        }
        emit(meters);
        let mut programs = Family::gauge(
            "ebrun_bpf_programs_loaded",
            "eBPF programs of this instance pinned under /sys/fs/bpf.",
        );
        programs.add(&[], sample.bpf.programs as f64);
        emit(programs);
        let mut containers = Family::gauge("ebrun_containers", "Containers per state.");
        for s in [
            Status::Created,
            Status::Running,
            Status::Paused,
            Status::Restarting,
            Status::Exited,
        ] {
            let n = sample.containers.iter().filter(|c| c.status == s).count();
            containers.add(&[("state", s.as_str())], n as f64);
        }
        emit(containers);
    }
}
