//! Moves OOM kills from the kernel's ring into the events journal while `serve` runs. The
//! first look, at start, picks up the kills that happened while no one was watching.

use std::time::Duration;

use tokio::sync::watch;

use crate::container::ContainerStore;
use crate::Paths;

/// One look: every container's cgroup id, then the kills newer than `after`.
fn look(paths: &Paths, after: u64) -> u64 {
    // The eBPF programs' log records, off the scrape path.
    crate::bpf::forward_logs(&paths.bpffs_dir());
    // Removed containers no scrape came for.
    crate::metrics::removed::release_waiting(paths, false);
    let store = ContainerStore::new(paths);
    let configs = store.list();
    let ids: Vec<(u64, &crate::container::ContainerConfig)> = configs
        .iter()
        .filter_map(|c| {
            let state = store.load_state(&c.id).ok()?;
            let id = state.cgroups.as_ref()?.cgroup_id;
            (id != 0).then_some((id, c))
        })
        .collect();
    match crate::events::drain_oom_kills(paths, &ids, after) {
        Ok((recorded, newest)) => {
            for e in &recorded {
                tracing::info!(container = %e.actor.id, "OOM kill recorded");
            }
            // Kills of containers not listed yet (a start racing this look) stay for the
            // next full look; the cursor only skips what was seen.
            if ids.is_empty() {
                after
            } else {
                newest
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "OOM ring unreadable");
            after
        }
    }
}

/// Looks every `every` until `stop`; every tenth look reads the whole ring again.
pub(super) async fn run(paths: Paths, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut after = 0u64;
    let mut n = 0u64;
    loop {
        let p = paths.clone();
        let from = if n.is_multiple_of(10) { 0 } else { after };
        after = tokio::task::spawn_blocking(move || look(&p, from))
            .await
            .unwrap_or(after);
        n += 1;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
