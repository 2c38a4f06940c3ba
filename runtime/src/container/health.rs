//! Health checks (Docker's HEALTHCHECK): the container's config (the image's `Healthcheck`
//! overridden field by field by `--health-*` or the create body's), its state (`State.Health`
//! in inspect: status, failing streak, the last five results) and Docker's rules for both
//! (`daemon/health.go`: defaults, intervals during the start period, when a failure counts).
//!
//! The state is `<container dir>/health.json`, Docker's `State.Health` document, written
//! atomically by the one process supervising the run (the monitor, or a foreground `ebrun
//! run`; see `health_monitor`) and read by `inspect`, `ps`, the Engine API and `serve`. It
//! exists from the first start on (a created container has no health, as in Docker); each
//! start resets it to `starting` with a zero streak (the log stays); a run's end leaves it
//! `unhealthy`, as Docker leaves a stopped container's.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::{ContainerConfig, ContainerState, Status};
use super::ContainerError;
use crate::format::go_duration;
pub use crate::image::HealthConfig;
use crate::Paths;

/// Docker's defaults (`daemon/health.go`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: i64 = 3;
/// Results kept in `State.Health.Log`.
pub const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of a probe's output kept (more is cut and marked with `...`).
pub const MAX_OUTPUT_LEN: usize = 4096;
/// Docker's `container.MinimumDuration`.
const MINIMUM_DURATION_NS: i64 = 1_000_000;

/// `State.Health.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// The words in `ps`'s STATUS: `Up 3 minutes (health: starting)`, `(healthy)`.
    pub fn ps_text(self) -> &'static str {
        match self {
            HealthStatus::Starting => "health: starting",
            other => other.as_str(),
        }
    }
}

/// One probe's result (`State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    /// 0 healthy; anything else a failure; -1 when the probe timed out or could not run.
    pub exit_code: i64,
    pub output: String,
}

/// `State.Health`, as persisted in `health.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

/// The image's health config overridden by the user's, field by field (dockerd's `merge`):
/// a user's config without a test keeps the image's test, and each zero field the image's.
pub fn merge(user: Option<&HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else {
        return user.cloned();
    };
    let Some(user) = user else {
        return Some(image.clone());
    };
    let pick = |u: i64, i: i64| if u == 0 { i } else { u };
    Some(HealthConfig {
        test: if user.test.is_empty() {
            image.test.clone()
        } else {
            user.test.clone()
        },
        interval: pick(user.interval, image.interval),
        timeout: pick(user.timeout, image.timeout),
        start_period: pick(user.start_period, image.start_period),
        start_interval: pick(user.start_interval, image.start_interval),
        retries: pick(user.retries, image.retries),
    })
}

/// dockerd's checks of the health config a create asks for (`validateHealthCheck`), with
/// Docker's words; the error names the `run` flag of the field.
pub fn validate(hc: &HealthConfig) -> Result<(), ContainerError> {
    let durations = [
        ("--health-interval", "Interval", hc.interval),
        ("--health-timeout", "Timeout", hc.timeout),
        ("--health-start-period", "StartPeriod", hc.start_period),
        (
            "--health-start-interval",
            "StartInterval",
            hc.start_interval,
        ),
    ];
    for (flag, field, value) in durations {
        if value != 0 && value < MINIMUM_DURATION_NS {
            return Err(ContainerError::InvalidFlag {
                flag,
                value: go_duration::format(value),
                reason: format!(
                    "{field} in Healthcheck cannot be less than {}",
                    go_duration::format(MINIMUM_DURATION_NS)
                ),
            });
        }
    }
    if hc.retries < 0 {
        return Err(ContainerError::InvalidFlag {
            flag: "--health-retries",
            value: hc.retries.to_string(),
            reason: "Retries in Healthcheck cannot be negative".into(),
        });
    }
    Ok(())
}

/// The probe's argv: `CMD args...` as given, `CMD-SHELL cmd` through `/bin/sh -c`; None for
/// no test, `NONE`, or a kind Docker does not know (it warns and runs nothing).
pub fn probe_command(hc: &HealthConfig) -> Option<Vec<String>> {
    let (kind, rest) = hc.test.split_first()?;
    match kind.as_str() {
        "CMD" if !rest.is_empty() => Some(rest.to_vec()),
        "CMD-SHELL" if !rest.is_empty() => {
            let mut argv = vec!["/bin/sh".to_string(), "-c".to_string()];
            argv.extend(rest.iter().cloned());
            Some(argv)
        }
        "CMD" | "CMD-SHELL" | "NONE" => None,
        other => {
            tracing::warn!("Unknown healthcheck type '{other}' (expected 'CMD')");
            None
        }
    }
}

fn or_default(ns: i64, default: Duration) -> Duration {
    if ns <= 0 {
        default
    } else {
        Duration::from_nanos(ns as u64)
    }
}

/// The probe's timeout.
pub fn timeout(hc: &HealthConfig) -> Duration {
    or_default(hc.timeout, DEFAULT_TIMEOUT)
}

/// How long until the next probe (dockerd's `getInterval`): the interval; during the start
/// period the start interval while still `starting`, but never past the period's end when
/// that comes before a whole interval.
pub fn next_interval(hc: &HealthConfig, since_start: Duration, status: HealthStatus) -> Duration {
    let interval = or_default(hc.interval, DEFAULT_INTERVAL);
    let start_interval = or_default(hc.start_interval, DEFAULT_START_INTERVAL);
    let start_period = or_default(hc.start_period, DEFAULT_START_PERIOD);
    if since_start >= start_period {
        return interval;
    }
    let remaining = start_period - since_start;
    if remaining < interval {
        return remaining;
    }
    if status == HealthStatus::Starting {
        start_interval
    } else {
        interval
    }
}

impl Health {
    /// The state at the start of a run: `starting`, no failures, the earlier results kept.
    pub fn starting(previous: Option<Health>) -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: previous.map(|h| h.log).unwrap_or_default(),
        }
    }

    /// Records a probe's result (dockerd's `handleProbeResult`); the new status when it
    /// changed (Docker's `health_status: ...` event). A failure during the start period does
    /// not count while the container has never been healthy.
    pub fn record(
        &mut self,
        result: HealthResult,
        hc: &HealthConfig,
        started_at: DateTime<Utc>,
    ) -> Option<HealthStatus> {
        let retries = if hc.retries <= 0 {
            DEFAULT_RETRIES
        } else {
            hc.retries
        };
        let old = self.status;
        let probe_start = DateTime::parse_from_rfc3339(&result.start)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        let healthy = result.exit_code == 0;
        self.log.push(result);
        if self.log.len() > MAX_LOG_ENTRIES {
            let excess = self.log.len() - MAX_LOG_ENTRIES;
            self.log.drain(..excess);
        }
        if healthy {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else {
            let start_period = or_default(hc.start_period, DEFAULT_START_PERIOD);
            let in_start_period = self.status == HealthStatus::Starting
                && (probe_start - started_at)
                    .to_std()
                    .map_or(true, |since| since < start_period);
            if !in_start_period {
                self.failing_streak += 1;
                if i64::from(self.failing_streak) >= retries {
                    self.status = HealthStatus::Unhealthy;
                }
            }
        }
        (self.status != old).then_some(self.status)
    }
}

/// `<container dir>/health.json`.
pub fn health_path(paths: &Paths, id: &str) -> PathBuf {
    paths.container_dir(id).join("health.json")
}

/// The persisted health state as its writer left it; None before the first start (or when
/// unreadable).
pub fn load(paths: &Paths, id: &str) -> Option<Health> {
    crate::state::read_json(&health_path(paths, id)).ok()
}

/// Writes the health state (atomic, this boot only: a reboot's containers are not running).
pub fn save(paths: &Paths, id: &str, health: &Health) {
    if !paths.container_dir(id).exists() {
        return; // removed meanwhile
    }
    if let Err(e) = crate::state::replace_json_volatile(&health_path(paths, id), health) {
        tracing::warn!(id, error = %e, "could not record the container's health");
    }
}

/// The health Docker would show for a container whose recorded state is `state`: the
/// persisted one, `unhealthy` whenever the container is not running or is paused (Docker
/// stops checking then and says so), None when it never ran with a health check.
pub fn current(paths: &Paths, config: &ContainerConfig, state: &ContainerState) -> Option<Health> {
    config.healthcheck.as_ref()?;
    let health = load(paths, &config.id)?;
    Some(as_observed(health, state.status, state.paused))
}

/// `health` as seen with the container in `status` (and `paused`).
pub fn as_observed(mut health: Health, status: Status, paused: bool) -> Health {
    if status != Status::Running || paused {
        health.status = HealthStatus::Unhealthy;
    }
    health
}

/// The `health=` filter's value of a container: `starting`, `healthy`, `unhealthy`, or
/// `none` (no health check, or never started).
pub fn filter_value(health: Option<&Health>) -> &'static str {
    health.map_or("none", |h| h.status.as_str())
}

/// The values the `health=` filter accepts.
pub const FILTER_VALUES: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// Keeps the first [`MAX_OUTPUT_LEN`] bytes of a probe's output, as Docker's limited buffer:
/// `...` marks a cut; invalid UTF-8 becomes U+FFFD, as Go's JSON encoder makes it.
pub fn output_text(bytes: &[u8], truncated: bool) -> String {
    let kept = &bytes[..bytes.len().min(MAX_OUTPUT_LEN)];
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if truncated || bytes.len() > MAX_OUTPUT_LEN {
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn hc(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: test.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn result(start: DateTime<Utc>, code: i64) -> HealthResult {
        HealthResult {
            start: start.to_rfc3339(),
            end: start.to_rfc3339(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn user_fields_override_the_images_one_by_one() {
        let image = HealthConfig {
            test: vec!["CMD".into(), "check".into()],
            interval: 10 * SEC,
            retries: 5,
            ..Default::default()
        };
        let user = HealthConfig {
            interval: SEC,
            timeout: 2 * SEC,
            ..Default::default()
        };
        let merged = merge(Some(&user), Some(&image)).unwrap();
        assert_eq!(merged.test, ["CMD", "check"]);
        assert_eq!(
            (merged.interval, merged.timeout, merged.retries),
            (SEC, 2 * SEC, 5)
        );
        let none = hc(&["NONE"]);
        assert!(merge(Some(&none), Some(&image)).unwrap().is_disabled());
        assert_eq!(merge(None, Some(&image)), Some(image.clone()));
        assert_eq!(merge(Some(&user), None), Some(user));
        assert_eq!(merge(None, None), None);
    }

    #[test]
    fn dockerd_validation_words() {
        let bad = HealthConfig {
            interval: 500_000,
            ..Default::default()
        };
        let e = validate(&bad).unwrap_err().to_string();
        assert!(
            e.contains("--health-interval")
                && e.contains("Interval in Healthcheck cannot be less than 1ms"),
            "{e}"
        );
        let neg = HealthConfig {
            timeout: -SEC,
            ..Default::default()
        };
        assert!(validate(&neg)
            .unwrap_err()
            .to_string()
            .contains("Timeout in Healthcheck"));
        let retries = HealthConfig {
            retries: -1,
            ..Default::default()
        };
        assert!(validate(&retries)
            .unwrap_err()
            .to_string()
            .contains("Retries in Healthcheck cannot be negative"));
        assert!(validate(&HealthConfig::default()).is_ok());
    }

    #[test]
    fn probe_forms() {
        assert_eq!(
            probe_command(&hc(&["CMD-SHELL", "test -f /x"])).unwrap(),
            ["/bin/sh", "-c", "test -f /x"]
        );
        assert_eq!(
            probe_command(&hc(&["CMD", "true", "a"])).unwrap(),
            ["true", "a"]
        );
        assert!(probe_command(&hc(&["NONE"])).is_none());
        assert!(probe_command(&hc(&[])).is_none());
        assert!(probe_command(&hc(&["CMD"])).is_none());
        assert!(probe_command(&hc(&["BOGUS", "x"])).is_none());
    }

    #[test]
    fn intervals_follow_the_start_period() {
        let s = Duration::from_secs;
        let mut c = HealthConfig::default();
        assert_eq!(next_interval(&c, s(0), HealthStatus::Starting), s(30));
        c.start_period = 60 * SEC;
        c.interval = 30 * SEC;
        assert_eq!(next_interval(&c, s(0), HealthStatus::Starting), s(5));
        assert_eq!(next_interval(&c, s(0), HealthStatus::Healthy), s(30));
        // Less than an interval of the period left: its end.
        assert_eq!(next_interval(&c, s(35), HealthStatus::Starting), s(25));
        assert_eq!(next_interval(&c, s(61), HealthStatus::Starting), s(30));
    }

    #[test]
    fn status_follows_dockers_rules() {
        let started = Utc::now() - chrono::Duration::seconds(100);
        let c = HealthConfig {
            retries: 2,
            ..Default::default()
        };
        let mut h = Health::starting(None);
        assert_eq!(h.record(result(Utc::now(), 1), &c, started), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(
            h.record(result(Utc::now(), 1), &c, started),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(
            h.record(result(Utc::now(), 0), &c, started),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(h.failing_streak, 0);
        for _ in 0..4 {
            h.record(result(Utc::now(), -1), &c, started);
        }
        assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
        assert_eq!(h.log[0].exit_code, 0);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        // A new run: starting, streak reset, the log kept.
        let h = Health::starting(Some(h));
        assert_eq!(
            (h.status, h.failing_streak, h.log.len()),
            (HealthStatus::Starting, 0, 5)
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_healthy() {
        let started = Utc::now();
        let c = HealthConfig {
            retries: 1,
            start_period: 3600 * SEC,
            ..Default::default()
        };
        let mut h = Health::starting(None);
        assert_eq!(h.record(result(Utc::now(), 1), &c, started), None);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.record(result(Utc::now(), 0), &c, started);
        // Once healthy, a failure counts even inside the period.
        assert_eq!(
            h.record(result(Utc::now(), 1), &c, started),
            Some(HealthStatus::Unhealthy)
        );
    }

    #[test]
    fn output_is_cut_as_docker_cuts_it() {
        assert_eq!(output_text(b"ok\n", false), "ok\n");
        let long = vec![b'x'; MAX_OUTPUT_LEN + 10];
        let text = output_text(&long, true);
        assert_eq!(text.len(), MAX_OUTPUT_LEN + 3);
        assert!(text.ends_with("x..."));
    }

    #[test]
    fn health_json_is_dockers_document() {
        let h = Health {
            status: HealthStatus::Healthy,
            failing_streak: 0,
            log: vec![HealthResult {
                start: "s".into(),
                end: "e".into(),
                exit_code: 0,
                output: "".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            serde_json::json!({"Status": "healthy", "FailingStreak": 0,
                "Log": [{"Start": "s", "End": "e", "ExitCode": 0, "Output": ""}]})
        );
        let seen = as_observed(h, Status::Exited, false);
        assert_eq!(seen.status, HealthStatus::Unhealthy);
        assert_eq!(filter_value(Some(&seen)), "unhealthy");
        assert_eq!(filter_value(None), "none");
    }
}
