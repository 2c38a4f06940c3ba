//! Forwards the programs' aya-log records into ebrun's tracing logs.
//!
//! The records wait in the instance's pinned ring buffer (no reader has to be alive when a
//! program logs); whichever ebrun process touches the meters drains them (records are
//! consumed once). aya-log logs through the `log` crate, which tracing-subscriber bridges.

use std::path::Path;

use aya::programs::links::PinnedLink;

use super::pins::link_pin;

/// Drains the pending log records of the instance at `pin_dir` into the log. Best effort.
pub fn forward_logs(pin_dir: &Path) {
    // Any pinned program of the object shares the log map; find one through its link.
    let program_id = ["oom_victim", "sched_switch", "exec_count"]
        .iter()
        .map(|name| link_pin(pin_dir, name))
        .filter(|p| p.exists())
        .find_map(|p| {
            let link: aya::programs::links::FdLink = PinnedLink::from_pin(&p).ok()?.into();
            link.info().ok().map(|i| i.program_id())
        });
    let Some(program_id) = program_id else {
        return;
    };
    match aya_log::EbpfLogger::init_from_id(program_id) {
        Ok(mut logger) => logger.flush(),
        Err(e) => tracing::debug!(error = %e, "no eBPF log map"),
    }
}
