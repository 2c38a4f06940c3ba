//! `ebrun oci` (also the binary run as `ebrun-oci`): runc's command line over the OCI
//! executor, for containerd's runc shim and other callers of a runc-compatible runtime.
//! Errors go to stderr and, with `--log`, to the log file as JSON lines
//! (`{"level":"error","msg":...}`) that the shim reads; the exit code is 1.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use ebrun::oci::{self, CreateOptions, ExecOptions, OciStatus, OciStore};

/// runc's global flags, then the operation.
#[derive(Debug, Parser)]
#[command(
    name = "ebrun-oci",
    version,
    about = "ebrun's OCI runtime (runc's command line)"
)]
pub struct OciCli {
    /// Where container state lives (gone with the boot).
    #[arg(long, default_value = "/run/ebrun-oci")]
    pub root: PathBuf,
    /// Also write errors (and with --debug, steps) to this file.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// text or json (containerd reads JSON lines).
    #[arg(long = "log-format", default_value = "text")]
    pub log_format: String,
    /// cgroupsPath is `slice:prefix:name`.
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    #[arg(long)]
    pub debug: bool,
    /// Accepted for runc compatibility (no checkpoint/restore here).
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    #[arg(long, hide = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: OciCommand,
}

#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start { id: String },
    /// Create and start a container, and wait for it (or return at once with --detach).
    Run(RunArgs),
    /// Print a container's state (runtime-spec JSON).
    State { id: String },
    /// Send a signal to a container's init (or all its processes).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (stopped, or any with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// List a container's processes.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
    },
    /// Freeze a container's processes.
    Pause { id: String },
    /// Thaw a container's processes.
    Resume { id: String },
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// Set new resource limits (`linux.resources` JSON from FILE, or - for stdin).
    Update {
        #[arg(short, long)]
        resources: PathBuf,
        id: String,
    },
    /// Print a container's resource usage (runc's JSON), once or every --interval.
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Print what this runtime supports (runtime-spec features.md JSON).
    Features,
    /// Write a default config.json to the bundle.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short, long)]
    pub detach: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// A `process` JSON object (config.md) instead of ARGS.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Whether this invocation is the OCI runtime: `ebrun-oci ...` or `ebrun oci ...`. Returns
/// the arguments for [`OciCli`].
pub fn oci_args() -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args().collect();
    let name = Path::new(args.first()?)
        .file_name()?
        .to_string_lossy()
        .to_string();
    if name == "ebrun-oci" {
        return Some(args);
    }
    (args.get(1).map(String::as_str) == Some("oci")).then(|| {
        let mut rest = vec!["ebrun oci".to_string()];
        rest.extend(args[2..].iter().cloned());
        rest
    })
}

/// Runs the OCI runtime; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let cli = match OciCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    init_logging(&cli);
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let message = crate::render(&e);
            eprintln!("ebrun-oci: {message}");
            log_error(&cli, &message);
            1
        }
    }
}

/// Logs go to `--log` (a created container's init keeps this process's stdout and stderr:
/// what it printed would land in the container's output), else to stderr.
fn init_logging(cli: &OciCli) {
    let level = if cli.debug { "debug" } else { "warn" };
    let Some(path) = &cli.log else {
        crate::init_logging(level);
        return;
    };
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        crate::init_logging(level);
        return;
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false);
    if cli.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn log_error(cli: &OciCli, message: &str) {
    let Some(path) = &cli.log else { return };
    let line = if cli.log_format == "json" {
        serde_json::json!({
            "level": "error",
            "msg": message,
            "time": ebrun::container::now_rfc3339(),
        })
        .to_string()
    } else {
        format!("level=error msg={message:?}")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The ebrun instance whose pinned meters count these containers (`EBRUN_ROOT`, else the
/// default), so `ebrun serve` shows them.
fn meters() -> ebrun::Paths {
    let root = std::env::var_os("EBRUN_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(ebrun::paths::DEFAULT_ROOT));
    ebrun::Paths::new(&root)
}

fn parse_signal(text: &str) -> Result<nix::sys::signal::Signal> {
    ebrun::process::parse_signal(text).with_context(|| format!("invalid signal {text}"))
}

fn create_options(args: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        preserve_fds: args.preserve_fds,
        meters: Some(meters()),
    }
}

fn dispatch(cli: &OciCli) -> Result<i32> {
    let store = OciStore::mirrored(&cli.root, &meters());
    match &cli.command {
        OciCommand::Create(args) => {
            oci::create(&store, &args.id, &create_options(args), cli.systemd_cgroup)?;
            Ok(0)
        }
        OciCommand::Start { id } => {
            oci::start(&store, id)?;
            Ok(0)
        }
        OciCommand::Run(args) => run(&store, cli, args),
        OciCommand::State { id } => {
            let state = store.load(id)?;
            println!("{}", serde_json::to_string_pretty(&state.to_json())?);
            Ok(0)
        }
        OciCommand::Kill { all, id, signal } => {
            oci::kill(&store, id, parse_signal(signal)?, *all)?;
            Ok(0)
        }
        OciCommand::Delete { force, id } => {
            oci::delete(&store, id, *force)?;
            Ok(0)
        }
        OciCommand::List { format, quiet } => list(&store, format, *quiet),
        OciCommand::Ps { format, id } => {
            let state = store.load(id)?;
            let pids = oci::processes(&state);
            if format == "json" {
                println!("{}", serde_json::to_string(&pids)?);
            } else {
                println!("PID");
                for pid in pids {
                    println!("{pid}");
                }
            }
            Ok(0)
        }
        OciCommand::Pause { id } => {
            oci::set_paused(&store, id, true)?;
            Ok(0)
        }
        OciCommand::Resume { id } => {
            oci::set_paused(&store, id, false)?;
            Ok(0)
        }
        OciCommand::Exec(args) => exec(&store, args),
        OciCommand::Update { resources, id } => {
            let text = if resources == Path::new("-") {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                buf
            } else {
                std::fs::read(resources).with_context(|| format!("read {}", resources.display()))?
            };
            let mut de = serde_json::Deserializer::from_slice(&text);
            let parsed: oci_spec::runtime::LinuxResources =
                serde_path_to_error::deserialize(&mut de)
                    .map_err(|e| anyhow::anyhow!("--resources: {}: {}", e.path(), e.inner()))?;
            oci::update(&store, id, &parsed)?;
            Ok(0)
        }
        OciCommand::Events {
            stats,
            interval,
            id,
        } => events(&store, id, *stats, interval),
        OciCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
        OciCommand::Spec { bundle } => {
            let path = bundle.join(oci::CONFIG_FILE);
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            oci::write_spec(&path, &oci::Spec::default())?;
            Ok(0)
        }
    }
}

/// `run`: create + start; without --detach, waits for the init (this process is its
/// parent) and deletes the container, returning its exit code.
fn run(store: &OciStore, cli: &OciCli, args: &RunArgs) -> Result<i32> {
    let id = &args.create.id;
    let state = oci::create(store, id, &create_options(&args.create), cli.systemd_cgroup)?;
    if let Err(e) = oci::start(store, id) {
        let _ = oci::delete(store, id, true);
        return Err(e.into());
    }
    if args.detach {
        return Ok(0);
    }
    let pid = nix::unistd::Pid::from_raw(state.pid);
    let status = ebrun::process::supervise(pid, None)?;
    oci::delete(store, id, true)?;
    Ok(status.code())
}

fn list(store: &OciStore, format: &str, quiet: bool) -> Result<i32> {
    let all = store.list();
    if quiet {
        for s in &all {
            println!("{}", s.id);
        }
    } else if format == "json" {
        let items: Vec<serde_json::Value> = all.iter().map(|s| s.to_json()).collect();
        println!("{}", serde_json::to_string(&items)?);
    } else {
        println!(
            "{:<12} {:<8} {:<10} {:<40} {:<30} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for s in &all {
            let status = s.status();
            let pid = if status == OciStatus::Stopped {
                0
            } else {
                s.pid
            };
            println!(
                "{:<12} {:<8} {:<10} {:<40} {:<30} root",
                s.id,
                pid,
                status.as_str(),
                s.bundle.display(),
                s.created
            );
        }
    }
    Ok(0)
}

fn exec(store: &OciStore, args: &ExecArgs) -> Result<i32> {
    let process: oci::ProcessObject = match &args.process {
        Some(file) => {
            let text = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
            let mut de = serde_json::Deserializer::from_slice(&text);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", file.display(), e.path(), e.inner()))?
        }
        None => {
            if args.args.is_empty() {
                bail!("exec: no command: give ARGS or --process FILE");
            }
            let state = store.load(&args.id)?;
            let spec = oci::load_spec(&state.bundle.join(oci::CONFIG_FILE))?;
            let mut p = spec
                .process()
                .clone()
                .context("the container's spec has no process")?;
            p.set_args(Some(args.args.clone()));
            p.set_terminal(Some(args.tty));
            if let Some(cwd) = &args.cwd {
                p.set_cwd(cwd.clone());
            }
            let mut env = p.env().clone().unwrap_or_default();
            env.extend(args.env.iter().cloned());
            p.set_env(Some(env));
            if let Some(user) = &args.user {
                let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
                p.user_mut()
                    .set_uid(uid.parse().context("--user: expected UID[:GID]")?);
                p.user_mut()
                    .set_gid(gid.parse().context("--user: expected UID[:GID]")?);
            }
            p
        }
    };
    let opts = ExecOptions {
        detach: args.detach,
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
    };
    Ok(oci::exec(store, &args.id, &process, &opts)?)
}

/// What this runtime supports, in the shape of runtime-spec's features.md.
fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": [],
        "mountOptions": [
            "bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "sync", "async", "dirsync", "remount", "mand", "nomand", "atime", "noatime",
            "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
            "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
            "runbindable", "rro", "tmpcopyup", "copyup"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                            "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
        "annotations": {"io.ebrun.executor": "ebrun"},
    })
}

/// `events`: runc's stats event for the container, once with `--stats`, else every
/// `--interval` until it stops.
fn events(store: &OciStore, id: &str, once: bool, interval: &str) -> Result<i32> {
    let every = super::serve::parse_interval(interval).with_context(|| {
        format!("invalid --interval {interval:?}: must be a positive duration such as 5s or 500ms")
    })?;
    loop {
        let state = store.load(id)?;
        if state.status() == OciStatus::Stopped {
            bail!("container {id} is not running");
        }
        let stats = state
            .cgroups
            .as_ref()
            .map(|c| c.stats())
            .unwrap_or_default();
        let event = serde_json::json!({
            "type": "stats",
            "id": id,
            "data": {
                "cpu": {"usage": {"total": stats.cpu_usage_ns}},
                "memory": {
                    "usage": {"usage": stats.memory_usage, "limit": stats.memory_limit.unwrap_or(0)},
                    "stats": {"inactive_file": stats.memory_inactive_file},
                },
                "pids": {"current": stats.pids},
                "blkio": {"read": stats.blkio_read, "write": stats.blkio_write},
            },
        });
        println!("{event}");
        if once {
            return Ok(0);
        }
        std::thread::sleep(every);
    }
}
