//! Step timings of container operations (create, start, rm): where the time of one
//! operation went, step by step (image, cgroups, bpf attach, network, rootfs, ...).
//! `ebrun serve --otlp-endpoint` exports each as a trace: a span for the operation with a
//! child span per step.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::event::now_nanos;
use super::journal::{dir, JournalCursor, JsonLines};
use super::EventsError;
use crate::Paths;

/// One step of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
}

/// One timed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// `create`, `start` or `rm`.
    pub op: String,
    pub container_id: String,
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
    /// False when the operation failed after its last step.
    pub complete: bool,
    pub steps: Vec<Step>,
}

/// Times the steps of one operation; the trace is written when finished or dropped (an
/// operation that failed half-way is written as incomplete).
pub struct Steps {
    paths: Paths,
    op: &'static str,
    container_id: String,
    wall_start: i64,
    started: Instant,
    last: Instant,
    steps: Vec<Step>,
    written: bool,
}

impl Steps {
    /// Starts timing operation `op`.
    pub fn begin(paths: &Paths, op: &'static str) -> Self {
        let now = Instant::now();
        Steps {
            paths: paths.clone(),
            op,
            container_id: String::new(),
            wall_start: now_nanos(),
            started: now,
            last: now,
            steps: Vec::new(),
            written: false,
        }
    }

    fn offset(&self, at: Instant) -> i64 {
        self.wall_start + at.duration_since(self.started).as_nanos() as i64
    }

    /// Ends step `name`: it ran from the end of the previous step (or the start) until now.
    pub fn step(&mut self, name: &str) {
        let now = Instant::now();
        self.steps.push(Step {
            name: name.to_string(),
            start_unix_nano: self.offset(self.last),
            end_unix_nano: self.offset(now),
        });
        self.last = now;
    }

    /// Ends the operation on container `id` and writes its trace.
    pub fn finish(mut self, id: &str) {
        self.container_id = id.to_string();
        self.write(true);
    }

    fn write(&mut self, complete: bool) {
        if self.written {
            return;
        }
        self.written = true;
        let trace = Trace {
            op: self.op.to_string(),
            container_id: std::mem::take(&mut self.container_id),
            start_unix_nano: self.wall_start,
            end_unix_nano: self.offset(Instant::now()),
            complete,
            steps: std::mem::take(&mut self.steps),
        };
        if let Err(e) = TraceJournal::new(&self.paths).append(&trace) {
            tracing::debug!(error = %e, "could not record step timings");
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        self.write(false);
    }
}

/// The traces of one instance: `<root>/events/traces.jsonl`.
pub struct TraceJournal {
    lines: JsonLines<Trace>,
}

impl TraceJournal {
    pub fn new(paths: &Paths) -> Self {
        TraceJournal {
            lines: JsonLines::new(&dir(paths), "traces.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        self.lines.path()
    }

    pub fn append(&self, trace: &Trace) -> Result<(), EventsError> {
        self.lines.append(std::slice::from_ref(trace))
    }

    pub fn read_all(&self) -> Result<Vec<Trace>, EventsError> {
        self.lines.read_all()
    }

    pub fn end(&self) -> JournalCursor {
        self.lines.end()
    }

    pub fn read_new(&self, cursor: &mut JournalCursor) -> Result<Vec<Trace>, EventsError> {
        self.lines.read_new(cursor)
    }
}
