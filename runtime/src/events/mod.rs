//! The events journal: what happened to containers, networks and volumes, in Docker's event
//! shape (`ebrun events`), plus the step timings of create/start/rm (exported as trace spans
//! by `ebrun serve --otlp-endpoint`).
//!
//! There is no daemon to keep events in memory (ARCHITECTURE.md point 1): every ebrun
//! process that changes something appends a line to a per-root journal under a file lock,
//! `<root>/events/events.jsonl`. OOM kills come from the kernel: the eBPF OOM meter keeps
//! them in a pinned ring, and whoever looks next (the container's monitor when the container
//! dies, `rm`, or `ebrun serve`) moves them into the journal, each exactly once
//! ([`drain_oom_kills`]). So a kill that happens while `serve` is down is not lost.
//!
//! ```text
//! <root>/events/events.jsonl      one Event per line, appended under .lock
//! <root>/events/events.jsonl.1    the previous file after rotation (16 MiB)
//! <root>/events/traces.jsonl      one Trace per line (step timings)
//! <root>/events/oom-seen.json     OOM kills already in the journal (dedup)
//! ```

mod event;
mod filter;
mod follow;
mod hooks;
mod journal;
mod oom;
mod steps;
mod time;

pub use event::{Actor, Event, EventType};
pub use filter::Filters;
pub use follow::follow;
pub use hooks::{
    container, container_died, container_started, image, network, remove_started, volume,
};
pub use journal::{EventJournal, JournalCursor};
pub use oom::drain_oom_kills;
pub use steps::{Step, Steps, Trace, TraceJournal};
pub use time::parse_time;

/// Errors of the events module.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Bpf(#[from] crate::bpf::BpfError),
    #[error("invalid filter '{0}'")]
    InvalidFilter(String),
    #[error("failed to parse value as time or duration: \"{0}\"")]
    InvalidTime(String),
}

fn io_err(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> EventsError {
    let path = path.to_path_buf();
    move |source| EventsError::Io { op, path, source }
}

/// Appends `event` to the instance's journal. Recording is best effort: a failure is logged
/// and never fails the operation that produced the event.
pub fn record(paths: &crate::Paths, event: Event) {
    if let Err(e) = EventJournal::new(paths).append(&[event]) {
        tracing::warn!(error = %e, "could not record an event");
    }
}
