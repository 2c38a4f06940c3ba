//! `ebrun run`: Docker's flags, mapped one hop to [`ebrun::container::RunSpec`].

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use ebrun::container::{self, RunSpec};

use super::run_option_flags::{pull_first, CidFile};
use super::Context;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Run container in background and print container ID.
    #[arg(short = 'd', long = "detach")]
    detach: bool,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always,
    /// unless-stopped).
    #[arg(long, default_value = "no")]
    restart: String,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to copy it from this environment).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long = "hostname")]
    hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    tty: bool,
    /// Override the key sequence for detaching a container (with -d; a foreground run cannot
    /// detach: ebrun attach --detach-keys does).
    #[arg(long = "detach-keys", value_name = "SEQ")]
    detach_keys: Option<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Add Linux capabilities (e.g. NET_ADMIN, or ALL).
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities (e.g. CHOWN, or ALL).
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    privileged: bool,
    /// Security options (no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json).
    #[arg(long = "security-opt")]
    security_opt: Vec<String>,
    /// Set meta data on a container (KEY=VALUE, or KEY for an empty value).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Read in a line delimited file of labels.
    #[arg(long = "label-file", value_name = "FILE")]
    label_file: Vec<PathBuf>,
    /// User namespace to use: `host` runs without daemon.json's userns-remap.
    #[arg(long)]
    userns: Option<String>,
    /// Sysctl options (KEY=VALUE: net.* and the IPC namespace's kernel.msg*, kernel.sem,
    /// kernel.shm*, fs.mqueue.*).
    #[arg(long, value_name = "KEY=VALUE")]
    sysctl: Vec<String>,
    /// Cgroup namespace to use (host|private): 'host' runs the container in the host's
    /// cgroup namespace, 'private' in its own (default: private on cgroup v2, host on v1).
    #[arg(long)]
    cgroupns: Option<String>,
    #[command(flatten)]
    resources: super::resource_flags::ResourceFlags,
    #[command(flatten)]
    network: super::network_flags::NetworkFlags,
    #[command(flatten)]
    volumes: super::volume_flags::VolumeFlags,
    #[command(flatten)]
    health: super::health_flags::HealthFlags,
    #[command(flatten)]
    options: super::run_option_flags::RunOptionFlags,
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    platform: Option<String>,
    /// The image to run.
    image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// `-e KEY` copies KEY from ebrun's environment (and drops it if unset), as Docker does.
pub fn resolve_env(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

/// `--env-file`: one KEY=VALUE (or KEY) per line; blank lines and `#` comments skipped.
fn read_env_file(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("invalid --env-file {}: cannot read it", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(resolve_env)
        .collect())
}

impl RunArgs {
    fn into_spec(self) -> Result<RunSpec> {
        let options = self.options.to_options()?;
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(read_env_file(file)?);
        }
        env.extend(self.env.iter().filter_map(|e| resolve_env(e)));
        let mut security = ebrun::process::SecuritySpec {
            capabilities: ebrun::process::resolve_capabilities(
                self.privileged,
                &self.cap_add,
                &self.cap_drop,
            )?,
            privileged: self.privileged,
            ..Default::default()
        };
        if self.privileged {
            security.seccomp = ebrun::process::SeccompProfile::Unconfined;
        }
        for opt in &self.security_opt {
            ebrun::process::apply_security_opt(&mut security, opt)?;
        }
        let userns_host = match self.userns.as_deref() {
            None | Some("") => false,
            Some("host") => true,
            Some(other) => anyhow::bail!(
                "invalid --userns value {other:?}: only \"host\" is allowed (or nothing, for daemon.json's userns-remap)"
            ),
        };
        let mut sysctls = std::collections::BTreeMap::new();
        for entry in &self.sysctl {
            let (key, value) =
                container::sysctls::parse_sysctl(entry).map_err(anyhow::Error::msg)?;
            sysctls.insert(key, value);
        }
        let cgroupns = ebrun::cgroups::CgroupnsMode::parse(self.cgroupns.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)?;
        let platform =
            match self.platform.as_deref() {
                Some(p) => Some(ebrun::image::Platform::parse(p).map_err(|e| {
                    anyhow::anyhow!("invalid argument for \"--platform\" flag: {e}")
                })?),
                None => None,
            };
        let mut label_lines = Vec::new();
        for file in &self.label_file {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("invalid --label-file {}: cannot read it", file.display())
            })?;
            label_lines.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        label_lines.extend(self.label.iter().cloned());
        let labels = label_lines
            .iter()
            .map(|l| container::parse_label(l))
            .collect();
        Ok(RunSpec {
            image: self.image,
            platform,
            name: self.name,
            cmd: self.command,
            entrypoint: self
                .entrypoint
                .map(|e| if e.is_empty() { Vec::new() } else { vec![e] }),
            env,
            workdir: self.workdir,
            user: self.user,
            hostname: self.hostname,
            tty: self.tty,
            interactive: self.interactive,
            read_only: self.read_only,
            auto_remove: self.rm,
            detach: self.detach,
            restart: container::RestartPolicy::parse(&self.restart)?,
            security,
            userns_host,
            sysctls,
            cgroupns,
            resources: self.resources.to_resources()?,
            network: self.network.to_spec()?,
            mounts: self.volumes.to_requests()?,
            labels,
            stdin_once: false,
            console_size: None,
            healthcheck: self.health.to_config()?,
            options,
        })
    }
}

/// `--detach-keys`: a foreground run is the container's own monitor (the container's init is
/// its child and the shell waits for it), so it cannot detach and leave the container
/// running; the keys are refused there rather than ignored. With -d they are checked and,
/// as in Docker, have nothing to do; `ebrun attach --detach-keys` detaches.
fn check_detach_keys(args: &RunArgs) -> Result<()> {
    let Some(keys) = &args.detach_keys else {
        return Ok(());
    };
    container::parse_detach_keys(keys)?;
    if !args.detach {
        anyhow::bail!(
            "--detach-keys {keys:?}: a foreground ebrun run cannot detach from its container \
             (it is the container's monitor); use run -d, then ebrun attach --detach-keys"
        );
    }
    Ok(())
}

/// What `run` and `create` do before the container exists: the spec, `--cidfile`, `--pull`.
fn prepare(ctx: &Context, args: RunArgs) -> Result<(RunSpec, CidFile)> {
    let policy = args.options.pull_policy()?;
    let quiet = args.options.quiet();
    let cidfile = args.options.cidfile().map(PathBuf::from);
    let spec = args.into_spec()?;
    let cid = CidFile::create(cidfile.as_deref())?;
    if let Err(e) = pull_first(
        &ctx.paths,
        &spec.image,
        spec.platform.as_ref(),
        policy,
        quiet,
    ) {
        cid.remove();
        return Err(e);
    }
    Ok((spec, cid))
}

pub fn run(ctx: &Context, args: RunArgs) -> Result<i32> {
    check_detach_keys(&args)?;
    let (spec, cid) = prepare(ctx, args)?;
    let result = if spec.detach {
        container::run_detached_with(&ctx.paths, &spec, &mut |id| {
            let _ = cid.write(id);
        })
        .map(|id| {
            println!("{id}");
            0
        })
    } else {
        container::run_foreground_with(&ctx.paths, &spec, &mut |id| {
            let _ = cid.write(id);
        })
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            if !cid.written() {
                cid.remove();
            }
            eprintln!("ebrun: {e}");
            Ok(e.exit_code())
        }
    }
}

/// `ebrun create`: run's flags, the container made but not started; prints its id.
pub fn create(ctx: &Context, args: RunArgs) -> Result<i32> {
    let (mut spec, cid) = prepare(ctx, args)?;
    spec.detach = true;
    match container::create(&ctx.paths, &spec) {
        Ok(created) => {
            cid.write(&created.config.id)?;
            println!("{}", created.config.id);
            Ok(0)
        }
        Err(e) => {
            cid.remove();
            eprintln!("ebrun: {e}");
            Ok(e.exit_code())
        }
    }
}
