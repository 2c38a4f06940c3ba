//! `run`/`create` flags of [`ebrun::container::RunOptions`] (`--init`, `--ulimit`,
//! `--shm-size`, `--stop-signal`, ...) and those of the command itself (`--cidfile`,
//! `--pull`, `--quiet`), with Docker's words for bad values (exit 125).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use ebrun::container::{RunOptions, Ulimit};

#[derive(Debug, Args)]
pub struct RunOptionFlags {
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// Ulimit options (name=soft[:hard], e.g. nofile=1024:2048).
    #[arg(long, value_name = "ulimit", allow_hyphen_values = true)]
    ulimit: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long = "shm-size", value_name = "bytes")]
    shm_size: Option<String>,
    /// Write the container ID to the file.
    #[arg(long, value_name = "string")]
    cidfile: Option<PathBuf>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal", value_name = "string")]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(
        long = "stop-timeout",
        value_name = "int",
        allow_negative_numbers = true
    )]
    stop_timeout: Option<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add", value_name = "list")]
    group_add: Vec<String>,
    /// Container NIS domain name.
    #[arg(long, value_name = "string")]
    domainname: Option<String>,
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, value_name = "string", default_value = "missing")]
    pull: String,
    /// Suppress the pull output.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Add an annotation to the container (passed through to the OCI runtime).
    #[arg(long, value_name = "map")]
    annotation: Vec<String>,
    /// Runtime to use for this container (ebrun is its own: ebrun, runc).
    #[arg(long, value_name = "string")]
    runtime: Option<String>,
    /// GPU devices to add to the container (not supported by ebrun: refused).
    #[arg(long, value_name = "gpu-request")]
    gpus: Option<String>,
    /// Container isolation technology (only "default" on Linux).
    #[arg(long, value_name = "string")]
    isolation: Option<String>,
    /// Skip image verification (ebrun does not verify signatures: only true is accepted).
    #[arg(
        long = "disable-content-trust",
        value_name = "bool",
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true
    )]
    disable_content_trust: Option<String>,
}

/// `--pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

fn invalid(value: &str, flag: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: {why}")
}

impl RunOptionFlags {
    /// The container's options, checked as the docker CLI checks them.
    pub fn to_options(&self) -> Result<RunOptions> {
        if let Some(g) = &self.gpus {
            anyhow::bail!(
                "--gpus {g:?}: GPU device requests are not supported by ebrun (it has no NVIDIA container toolkit hook); use --device for a device node"
            );
        }
        if let Some(i) = &self.isolation {
            if !matches!(i.as_str(), "" | "default") {
                anyhow::bail!(
                    "invalid isolation: {i}: on Linux only \"default\" is supported (hyperv and process are Windows isolations)"
                );
            }
        }
        if let Some(v) = &self.disable_content_trust {
            match v.as_str() {
                "true" | "1" | "t" | "T" | "TRUE" | "True" => {}
                "false" | "0" | "f" | "F" | "FALSE" | "False" => anyhow::bail!(
                    "--disable-content-trust=false: ebrun does not verify image signatures (Docker Content Trust / Notary v1 is not implemented); pull by digest to pin an image"
                ),
                other => {
                    return Err(invalid(
                        other,
                        "--disable-content-trust",
                        format!("strconv.ParseBool: parsing {other:?}: invalid syntax"),
                    ))
                }
            }
        }
        let mut ulimits = Vec::new();
        for u in &self.ulimit {
            ulimits.push(Ulimit::parse(u).map_err(|e| invalid(u, "--ulimit", e))?);
        }
        let shm_size = match &self.shm_size {
            Some(v) => {
                let bytes = super::resource_flags::ram("--shm-size", v)?;
                (bytes > 0).then_some(bytes as u64)
            }
            None => None,
        };
        let stop_timeout = match &self.stop_timeout {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                invalid(
                    v,
                    "--stop-timeout",
                    format!("strconv.ParseInt: parsing {v:?}: invalid syntax"),
                )
            })?),
            None => None,
        };
        let mut annotations = std::collections::BTreeMap::new();
        for a in &self.annotation {
            let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
            if k.is_empty() {
                return Err(invalid(a, "--annotation", "invalid key"));
            }
            annotations.insert(k.to_string(), v.to_string());
        }
        let options = RunOptions {
            init: self.init,
            ulimits,
            shm_size,
            stop_signal: self.stop_signal.clone().filter(|s| !s.is_empty()),
            stop_timeout,
            group_add: self.group_add.clone(),
            domainname: self.domainname.clone().unwrap_or_default(),
            annotations,
            runtime: self.runtime.clone().unwrap_or_default(),
        };
        options.validate()?;
        Ok(options)
    }

    pub fn pull_policy(&self) -> Result<PullPolicy> {
        match self.pull.as_str() {
            "always" => Ok(PullPolicy::Always),
            "missing" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            other => anyhow::bail!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            ),
        }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    pub fn cidfile(&self) -> Option<&Path> {
        self.cidfile.as_deref()
    }
}

/// `--cidfile`: made (empty) before the container, as the docker CLI does; an existing file
/// is refused. The id is written once the container exists; a failed create removes it.
pub struct CidFile(Option<PathBuf>, std::cell::Cell<bool>);

impl CidFile {
    pub fn create(path: Option<&Path>) -> Result<CidFile> {
        let Some(path) = path else {
            return Ok(CidFile(None, Default::default()));
        };
        if path.exists() {
            anyhow::bail!(
                "container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            );
        }
        std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("failed to create the container ID file: {e}"))?;
        Ok(CidFile(Some(path.to_path_buf()), Default::default()))
    }

    pub fn write(&self, id: &str) -> Result<()> {
        if let Some(path) = &self.0 {
            std::fs::write(path, id).map_err(|e| {
                anyhow::anyhow!("failed to write the container ID to the file: {e}")
            })?;
            self.1.set(true);
        }
        Ok(())
    }

    /// Whether the container was made (its id written).
    pub fn written(&self) -> bool {
        self.1.get()
    }

    /// The create failed: the file goes.
    pub fn remove(&self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `--pull always|missing|never` (and `--quiet`) before the container is created: the
/// create itself pulls a missing image with Docker's notice and progress on stderr.
pub fn pull_first(
    paths: &ebrun::Paths,
    image: &str,
    platform: Option<&ebrun::image::Platform>,
    policy: PullPolicy,
    quiet: bool,
) -> Result<()> {
    use ebrun::image::pull::{pull_platform, Output};
    let present = || {
        ebrun::image::ImageStore::open(paths)
            .and_then(|s| s.resolve(image))
            .is_ok_and(|found| platform.is_none_or(|p| p.matches(&found.platform())))
    };
    let output = if quiet { Output::Quiet } else { Output::Stderr };
    match policy {
        PullPolicy::Always => {
            pull_platform(paths, image, output, platform)?;
        }
        PullPolicy::Missing if quiet && !present() => {
            pull_platform(paths, image, output, platform)?;
        }
        PullPolicy::Missing => {}
        PullPolicy::Never if present() => {}
        PullPolicy::Never => {
            let reference = ebrun::image::Reference::parse(image)
                .map(|r| r.with_default_tag().familiar())
                .unwrap_or_else(|_| image.to_string());
            anyhow::bail!("Error response from daemon: No such image: {reference}");
        }
    }
    Ok(())
}
