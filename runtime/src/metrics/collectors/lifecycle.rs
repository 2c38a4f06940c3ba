//! What each container is: info (for joins), state, restarts, start time, execs.

use super::{emit_nonempty, st, Collector, Family};
use crate::container::{HealthStatus, Status};
use crate::metrics::sample::Sample;

/// `ebrun_container_info`, `_state`, `_restarts_total`, `_start_time_seconds`,
/// `_finished_time_seconds`, `_execs_total`, `_health_status`, `_health_failing_streak`.
pub struct Lifecycle;

const HEALTH: [HealthStatus; 3] = [
    HealthStatus::Starting,
    HealthStatus::Healthy,
    HealthStatus::Unhealthy,
];

const STATES: [Status; 5] = [
    Status::Created,
    Status::Running,
    Status::Paused,
    Status::Restarting,
    Status::Exited,
];

impl Collector for Lifecycle {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut info = Family::gauge(
            "ebrun_container_info",
            "Always 1: a container's id, name, image and image id, for joins.",
        );
        let mut state = Family::gauge(
            "ebrun_container_state",
            "1 for the container's current state (created, running, paused, restarting, exited), 0 for the others.",
        );
        let mut restarts = Family::counter(
            "ebrun_container_restarts_total",
            "Restarts of the container by its restart policy.",
        );
        let mut started = Family::gauge(
            "ebrun_container_start_time_seconds",
            "When the container's current (or last) run started, Unix time.",
        );
        let mut finished = Family::gauge(
            "ebrun_container_finished_time_seconds",
            "When the container's last run ended, Unix time; only while it is exited (uptime is finished - start then).",
        );
        let mut execs = Family::counter(
            "ebrun_container_execs_total",
            "execve calls in the container's current run (eBPF).",
        );
        let mut health = Family::gauge(
            "ebrun_container_health_status",
            "1 for the health check's current status (starting, healthy, unhealthy), 0 for the others; containers with a health check while they run.",
        );
        let mut failing = Family::gauge(
            "ebrun_container_health_failing_streak",
            "Consecutive failed health checks (Docker's FailingStreak).",
        );
        for c in &sample.containers {
            let mut labels = vec![("image_id", c.config.image_id.clone().into())];
            labels.extend(c.info.iter().map(|(k, v)| (*k, v.clone().into())));
            info.add_container(&c.labels, &labels, 1.0);
            for s in STATES {
                let v = if s == c.status { 1.0 } else { 0.0 };
                state.add_container(&c.labels, &[("state", st(s.as_str()))], v);
            }
            restarts.add_container(&c.labels, &[], f64::from(c.state.restart_count));
            if let Some(t) = c
                .state
                .started_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                started.add_container(&c.labels, &[], t.timestamp_micros() as f64 / 1e6);
            }
            if let Some(t) = c.finished_at {
                finished.add_container(&c.labels, &[], t);
            }
            if let Some(n) = c.meters.as_ref().and_then(|m| m.execs) {
                execs.add_container(&c.labels, &[], n as f64);
            }
            if let Some(h) = c.health.as_ref().filter(|_| c.is_up()) {
                for s in HEALTH {
                    let v = if s == h.status { 1.0 } else { 0.0 };
                    health.add_container(&c.labels, &[("status", st(s.as_str()))], v);
                }
                failing.add_container(&c.labels, &[], f64::from(h.failing_streak));
            }
        }
        for f in [
            info, state, restarts, started, finished, execs, health, failing,
        ] {
            emit_nonempty(emit, f);
        }
    }
}
