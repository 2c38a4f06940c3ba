//! A container's persisted config (what it is: written once at create) and state (what it
//! is doing: rewritten on every transition), as JSON files in its directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::{ContainerCgroups, Resources};
use crate::network::{NetworkSpec, NetworkState};
use crate::process::SecuritySpec;

use super::restart_policy::RestartPolicy;
use crate::undo::HostChange;

/// `containers/<id>/config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// The image as the user typed it.
    pub image: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// RFC 3339 with nanoseconds, as Docker's `Created`.
    pub created: String,
    /// The resolved process: image config merged with the command line.
    pub process: ProcessConfig,
    /// The entrypoint and cmd as Docker's inspect shows them separately.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub read_only: bool,
    pub auto_remove: bool,
    /// Resource limits (`-m`, `--cpus`, ...).
    #[serde(default)]
    pub resources: Resources,
    /// `--sysctl`: the user's, applied on top of Docker's defaults at each start.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--cgroupns`, resolved at create as dockerd does (private on cgroup v2, the host's on
    /// v1 and hybrid hosts unless given).
    #[serde(default)]
    pub cgroupns: crate::cgroups::CgroupnsMode,
    /// Networking (`--net`, `-p`, `--dns`, ...).
    #[serde(default)]
    pub network: NetworkSpec,
    /// `--restart`
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Volumes, bind mounts and tmpfs mounts (`-v`, `--mount`, ...).
    #[serde(default)]
    pub mounts: Vec<crate::volumes::Mount>,
    /// Image layer directories, bottom first.
    pub layers: Vec<PathBuf>,
    /// daemon.json's `userns-remap` when the container was made (unless `--userns=host`):
    /// its root is this range's first id on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns: Option<crate::userns::Remap>,
    /// `--label`: the image's labels and the user's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Docker's `Config.Healthcheck`: the image's HEALTHCHECK overridden field by field by
    /// `--health-*` (`--no-healthcheck`: `["NONE"]`); see the health module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::image::HealthConfig>,
    /// `--init`, `--ulimit`, `--shm-size`, `--stop-signal`, `--group-add`, ... (see
    /// run_options).
    #[serde(default)]
    pub options: super::RunOptions,
    /// Host changes that live as long as the container; `rm` undoes them.
    pub changes: Vec<HostChange>,
}

/// The container's process as Docker describes it (`Config` in inspect): what the OCI
/// translation turns into the spec's `process`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// argv; `args[0]` is looked up in the container's PATH.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory inside the container (created if missing, as Docker does).
    pub cwd: PathBuf,
    /// `USER[:GROUP]` (names or numbers); empty means root.
    pub user: String,
    pub hostname: String,
    /// `-t`: a pseudo-terminal as stdin/stdout/stderr.
    pub tty: bool,
    /// `-i`: keep stdin open (otherwise /dev/null).
    pub interactive: bool,
    /// The terminal's first size (rows, columns): Docker's `ConsoleSize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<(u16, u16)>,
    /// Docker's `StdinOnce`: the container's stdin closes when the attached client that
    /// gave it closes its input (`docker run -i` with piped input).
    #[serde(default)]
    pub stdin_once: bool,
    /// Capabilities, no_new_privs, seccomp.
    #[serde(default)]
    pub security: SecuritySpec,
}

/// Lifecycle status, with Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
}

/// `containers/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    /// Why the process could not start, if it could not (Docker's `State.Error`).
    #[serde(default)]
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The cgroups of the current (or last) run.
    pub cgroups: Option<ContainerCgroups>,
    /// Host changes of the current run (cgroups, BPF map entries), undone at exit (cgroups)
    /// or at `rm` (counters stay readable until the container is removed).
    #[serde(default)]
    pub run_changes: Vec<HostChange>,
    /// What the network set-up made for the current run (addresses, ports).
    #[serde(default)]
    pub network: NetworkState,
    /// The detached container's monitor process (0 for a foreground run).
    #[serde(default)]
    pub monitor_pid: i32,
    /// Start time of `pid` (field 22 of /proc/PID/stat), to tell it from a reused pid.
    #[serde(default)]
    pub pid_start_time: u64,
    /// The boot the container was started in (/proc/sys/kernel/random/boot_id).
    #[serde(default)]
    pub boot_id: String,
    /// Restarts made by the restart policy.
    #[serde(default)]
    pub restart_count: u32,
    /// Set by `stop`/`kill`: the restart policy does not bring the container back.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Frozen by `pause`.
    #[serde(default)]
    pub paused: bool,
    /// The memory controller killed a process of the last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// The last run's final cgroup readings and OOM count, taken as it exited (until the
    /// next start or `rm`), for the exporter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_reading: Option<crate::metrics::ExitReading>,
    /// OOM kills of the runs before the current (or last) one: the exported OOM counter
    /// counts over the container's life, so a kill right after a restart still shows.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub oom_kills_before: u64,
    /// When the last OOM kill of an earlier run happened, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_oom_before: Option<f64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: None,
            finished_at: None,
            cgroups: None,
            run_changes: Vec::new(),
            network: NetworkState::default(),
            monitor_pid: 0,
            pid_start_time: 0,
            boot_id: String::new(),
            restart_count: 0,
            stopped_by_user: false,
            paused: false,
            oom_killed: false,
            exit_reading: None,
            oom_kills_before: 0,
            last_oom_before: None,
        }
    }
}

/// Now, formatted as Docker formats its timestamps.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// This boot's id: a container recorded as running under another boot is not running.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Start time of a live process in clock ticks since boot; 0 if it does not exist or has
/// exited (a zombie not yet reaped: a monitor's parent is init, which may reap late).
pub fn process_start_time(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command may contain spaces and parentheses: fields start after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return 0;
    }
    fields.nth(18).and_then(|t| t.parse().ok()).unwrap_or(0)
}
