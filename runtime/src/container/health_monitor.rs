//! The health checker of a run: one thread of the process supervising the container (its
//! monitor, or a foreground `ebrun run`), started after the container's process has started
//! and stopped when it has exited. It sleeps Docker's intervals, runs each probe through the
//! hidden `container-health-probe` helper (a process of its own, which joins the container
//! as `exec` does and enforces the timeout; see `health_probe`), records the result in
//! `health.json` and journals `health_status: ...` events when the status changes.
//!
//! The helper is a child of this process; its exit status is not waited for here (the
//! supervising loop reaps every child): its result comes on its stdout.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::config::{now_rfc3339, ContainerConfig, ContainerState};
use super::health::{self, Health, HealthConfig, HealthResult, HealthStatus};
use super::store::ContainerStore;
use crate::Paths;

/// The hidden command line of the probe helper: `ebrun --root R container-health-probe ID`.
pub const PROBE_COMMAND: &str = "container-health-probe";

/// How long the helper may take beyond the probe's timeout before it is given up (dockerd
/// allows 30 s for an exec to start).
const START_ALLOWANCE: Duration = Duration::from_secs(30);

/// How often a paused container is looked at for its unpause.
const PAUSE_POLL: Duration = Duration::from_millis(200);

/// A flag the checker sleeps on; set once, when the run ends. Its pipe becomes readable
/// then too, for a wait on a probe to end at once.
struct StopFlag {
    stopped: Mutex<bool>,
    wake: Condvar,
    pipe: Option<(OwnedFd, Mutex<Option<OwnedFd>>)>,
}

impl StopFlag {
    fn new() -> Self {
        StopFlag {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            pipe: nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .ok()
                .map(|(r, w)| (r, Mutex::new(Some(w)))),
        }
    }

    fn set(&self) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = true;
        }
        self.wake.notify_all();
        // Closing the write end wakes whoever polls the read end.
        if let Some((_, w)) = &self.pipe {
            if let Ok(mut w) = w.lock() {
                w.take();
            }
        }
    }

    /// What a poll waits on to see the flag set.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|(r, _)| r.as_fd())
    }

    fn is_set(&self) -> bool {
        self.stopped.lock().map(|s| *s).unwrap_or(true)
    }

    /// Sleeps `d` unless stopped meanwhile; whether it was stopped.
    fn sleep(&self, d: Duration) -> bool {
        let Ok(guard) = self.stopped.lock() else {
            return true;
        };
        match self.wake.wait_timeout_while(guard, d, |stopped| !*stopped) {
            Ok((stopped, _)) => *stopped,
            Err(_) => true,
        }
    }
}

/// The checker of one run.
pub struct HealthMonitor {
    stop: Arc<StopFlag>,
    thread: Option<JoinHandle<()>>,
    paths: Paths,
    id: String,
}

impl HealthMonitor {
    /// Starts checking the run that `state` describes, if `config` has a health check:
    /// `health.json` says `starting` from now on.
    pub fn start(paths: &Paths, config: &ContainerConfig, state: &ContainerState) -> Option<Self> {
        let hc = config.healthcheck.clone()?;
        health::probe_command(&hc)?;
        let started_at = state
            .started_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let mut current = Health::starting(health::load(paths, &config.id));
        health::save(paths, &config.id, &current);
        let stop = Arc::new(StopFlag::new());
        let checker = Checker {
            paths: paths.clone(),
            config: config.clone(),
            hc,
            started_at,
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || checker.run(&mut current))
            .map_err(|e| tracing::warn!(error = %e, "health checks unavailable"))
            .ok()?;
        Some(HealthMonitor {
            stop,
            thread: Some(thread),
            paths: paths.clone(),
            id: config.id.clone(),
        })
    }

    /// Ends the checks when the run has ended (a probe in flight is abandoned, its result
    /// ignored, as dockerd ignores it) and leaves the status `unhealthy`, as Docker leaves a
    /// stopped container's.
    pub fn stop(mut self) {
        self.stop.set();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut h) = health::load(&self.paths, &self.id) {
            h.status = HealthStatus::Unhealthy;
            health::save(&self.paths, &self.id, &h);
        }
    }
}

struct Checker {
    paths: Paths,
    config: ContainerConfig,
    hc: HealthConfig,
    started_at: DateTime<Utc>,
    stop: Arc<StopFlag>,
}

impl Checker {
    fn since_start(&self) -> Duration {
        (Utc::now() - self.started_at).to_std().unwrap_or_default()
    }

    fn paused(&self) -> bool {
        ContainerStore::new(&self.paths)
            .load_state(&self.config.id)
            .is_ok_and(|s| s.paused)
    }

    fn run(&self, health: &mut Health) {
        let id = &self.config.id;
        loop {
            let wait = health::next_interval(&self.hc, self.since_start(), health.status);
            if self.stop.sleep(wait) {
                return;
            }
            // A paused container is not checked (dockerd stops its checker, which leaves the
            // status unhealthy); the checks resume a whole interval after the unpause.
            if self.paused() {
                if health.status != HealthStatus::Unhealthy {
                    health.status = HealthStatus::Unhealthy;
                    health::save(&self.paths, id, health);
                }
                while self.paused() {
                    if self.stop.sleep(PAUSE_POLL) {
                        return;
                    }
                }
                continue;
            }
            let start = now_rfc3339();
            let Some((exit_code, output)) = self.probe() else {
                return;
            };
            if self.stop.is_set() {
                return;
            }
            let result = HealthResult {
                start,
                end: now_rfc3339(),
                exit_code,
                output,
            };
            tracing::debug!(id, exit_code, "health check done");
            let changed = health.record(result, &self.hc, self.started_at);
            health::save(&self.paths, id, health);
            if let Some(status) = changed {
                let action = format!("health_status: {}", status.as_str());
                crate::events::container(&self.paths, &action, &self.config, &[]);
            }
        }
    }

    /// Runs one probe through the helper: its exit code and output, or None when the run
    /// ended meanwhile.
    fn probe(&self) -> Option<(i64, String)> {
        let spawned = self
            .paths
            .ebrun_command()
            .args([PROBE_COMMAND, &self.config.id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return Some((-1, format!("cannot run the health check: {e}"))),
        };
        let pid = child.id() as i32;
        let mut out = child.stdout.take().expect("piped stdout");
        let deadline = Instant::now() + health::timeout(&self.hc) + START_ALLOWANCE;
        let mut report = Vec::new();
        let ended = loop {
            if self.stop.is_set() {
                break false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            // Without the stop pipe, wake up now and then to see the flag.
            let slice = match self.stop.fd() {
                Some(_) => left,
                None => left.min(Duration::from_millis(100)),
            };
            let ms = slice.as_millis().clamp(1, u128::from(u16::MAX)) as u16;
            let mut fds = vec![PollFd::new(out.as_fd(), PollFlags::POLLIN)];
            fds.extend(self.stop.fd().map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(nix::Error::EINTR) => continue,
                Err(_) => break true,
                Ok(_) => {}
            }
            if fds[0].revents().is_none_or(|r| r.is_empty()) {
                continue; // the stop pipe: the flag is seen at the loop's top
            }
            drop(fds);
            let mut buf = [0u8; 8192];
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break true,
                Ok(n) => report.extend_from_slice(&buf[..n]),
            }
        };
        if !ended {
            // While the helper's stdout is open the helper has not exited (nothing else holds
            // that pipe), so its pid is still its own.
            let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLIN)];
            let hung_up = poll(&mut fds, PollTimeout::ZERO).is_ok()
                && fds[0]
                    .revents()
                    .is_some_and(|r| r.contains(PollFlags::POLLHUP));
            if !hung_up {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if self.stop.is_set() {
                return None;
            }
            return Some((
                -1,
                format!(
                    "timed out starting health check for container {}",
                    self.config.id
                ),
            ));
        }
        let text = String::from_utf8_lossy(&report);
        Some(match serde_json::from_str::<ProbeReport>(text.trim()) {
            Ok(r) => (r.exit_code, r.output),
            Err(_) => (
                -1,
                format!(
                    "health check of container {} failed: no result",
                    self.config.id
                ),
            ),
        })
    }
}

/// What the helper prints: the probe's exit code (-1: timed out or could not start) and its
/// output as `State.Health.Log[].Output` shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeReport {
    pub exit_code: i64,
    pub output: String,
}
