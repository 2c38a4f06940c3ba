//! Containers: the spec a user asks for, its persisted config and state, creation as a
//! sequence of undoable host changes, the foreground run, and removal.

mod archive;
mod archive_copy;
mod archive_helper;
mod archive_tar;
mod attach;
mod attach_keys;
mod broken;
mod changes;
mod commit;
mod config;
mod create;
mod exec;
mod health;
mod health_monitor;
mod health_probe;
mod id;
mod inspect;
mod kill;
mod lifecycle;
mod logs;
mod logs_relay;
mod monitor;
mod names;
mod observe;
mod oci_translate;
mod reconcile;
mod remove;
mod restart_policy;
mod restart_update;
mod run;
pub mod run_options;
mod spec;
mod start;
mod stats;
mod status_text;
mod store;
pub mod sysctls;
mod top;
mod update;
mod userns_dirs;
mod wait;

pub use archive::{
    archive_path, export, extract_to, stat_path, ArchiveError, ArchiveReader, ExtractOptions,
    PathStat,
};
pub use archive_copy::{copy_in, copy_in_from_reader, copy_out, copy_out_to_writer};
pub use archive_helper::{run_archive_helper, HelperOp};
pub use attach::{
    clear_pending as clear_pending_attach, copy_frames_to_stdio,
    mark_pending as mark_pending_attach, read_frame, socket_path as attach_socket_path,
};
pub use attach_keys::{parse_detach_keys, Escape, EscapeDetector, DEFAULT_DETACH_KEYS};
pub use broken::{kill_monitor, scan as scan_broken, Broken};
pub use changes::{changes, Change};
pub use commit::{commit, container_image_config, CommitOptions};
pub use config::{
    now_rfc3339, process_start_time, ContainerConfig, ContainerState, ProcessConfig, Status,
};
pub use create::{create, Created};
pub use exec::{exec, ExecSpec};
pub use health::{
    as_observed as health_as_observed, current as current_health,
    filter_value as health_filter_value, Health, HealthResult, HealthStatus,
    FILTER_VALUES as HEALTH_FILTER_VALUES,
};
pub use health_monitor::PROBE_COMMAND as HEALTH_PROBE_COMMAND;
pub use health_probe::run_health_probe;
pub use id::{new_id, short as short_id};
pub use inspect::inspect_document;
pub use kill::kill_processes;
pub use lifecycle::{
    kill_container, mark_stopped, rename, resize_tty, running, set_paused, start_existing, stop,
    wait_exit,
};
pub use logs::{log_path, tail as tail_logs, LogEntry, LogReader, Stream};
pub use monitor::{run_monitor, spawn_monitor, MONITOR_COMMAND};
pub use observe::{observe, EXIT_UNKNOWN};
pub(crate) use oci_translate::read_in_layers;
pub use reconcile::reconcile;
pub use remove::{remove, remove_container, remove_unreadable};
pub use restart_policy::RestartPolicy;
pub use restart_update::set_restart_policy;
pub use run::{run_created, run_detached, run_detached_with, run_foreground, run_foreground_with};
pub use run_options::{RunOptions, Ulimit};
pub use spec::{parse_label, RunSpec};
pub(crate) use start::attach_meters;
pub use stats::{is_live, sample_stats, system_cpu, StatsSample};
pub use status_text::{ellipsis, status_text};
pub use store::ContainerStore;
pub use top::{top, Top};
pub use update::update_resources;
pub use wait::{wait_for, WaitCondition};

/// Errors of the container module.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("cannot enforce the device allowlist (no v1 devices controller, and the eBPF device program is unavailable: {0}); use --privileged to run without it")]
    Devices(String),
    #[error("{0}")]
    Image(#[from] crate::image::ImageError),
    #[error("{0}")]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("{0}")]
    Bpf(#[from] crate::bpf::BpfError),
    #[error("{0}")]
    Process(#[from] crate::process::ProcessError),
    #[error("{0}")]
    Network(#[from] crate::network::NetworkError),
    #[error("{0}")]
    Userns(#[from] crate::userns::UsernsError),
    #[error("{op} {}: {}", path.display(), crate::state::describe(source))]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("Multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    /// The container's config or state file cannot be read; only `rm -f` works on it.
    #[error("container {id} is unreadable: {reason}; `ebrun rm -f {id}` removes it")]
    Unreadable { id: String, reason: String },
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("cannot remove container \"/{0}\": container is running: stop the container before removing or force remove")]
    RunningNotRemoved(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("No command specified")]
    NoCommand,
    #[error("invalid {flag} value {value:?}: {reason}")]
    InvalidFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("could not remove container {id}: {message}")]
    Remove { id: String, message: String },
    /// The container's process could not be started (exit code 125, 126 or 127).
    #[error("{0}")]
    Start(crate::process::StartFailure),
}

impl ContainerError {
    /// The message on one line (for pipes between ebrun processes).
    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', " ")
    }

    /// Whether a state file of the container is corrupt.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            ContainerError::Unreadable { .. }
                | ContainerError::State(crate::state::StateError::Corrupt { .. })
        )
    }

    /// The exit code Docker uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Start(f) => f.exit_code,
            _ => 125,
        }
    }
}

fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> ContainerError {
    let path = path.to_path_buf();
    move |source| ContainerError::Io { op, path, source }
}
