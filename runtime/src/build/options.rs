//! What `ebrun build` (and the Engine API's `POST /build`) asks of the builder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::image::{Platform, Reference};

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A path relative to the context (`-f sub/Dockerfile`; default `Dockerfile`).
    InContext(String),
    /// A file outside the context (`-f /path/Dockerfile`).
    File(PathBuf),
    /// The text itself (`-f -`).
    Text(String),
}

/// A build's options: Docker's `build` flags.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The context directory (a context tar is unpacked into one first).
    pub context: PathBuf,
    pub dockerfile: DockerfileSource,
    /// `-t`
    pub tags: Vec<Reference>,
    /// `--build-arg K=V` (a bare `K` already resolved from the caller's environment).
    pub build_args: BTreeMap<String, String>,
    /// `--target`
    pub target: Option<String>,
    /// `--no-cache`
    pub no_cache: bool,
    /// `--pull`: pull base images even when they are in the store.
    pub pull: bool,
    /// `--network` of `RUN` steps (`bridge` by default, `none`, `host`).
    pub network: Option<String>,
    /// `--label`
    pub labels: BTreeMap<String, String>,
    /// `--platform`
    pub platform: Option<Platform>,
    /// `-q`
    pub quiet: bool,
}

impl BuildOptions {
    /// Options for building `context` with its `Dockerfile` and nothing else.
    pub fn new(context: impl Into<PathBuf>) -> BuildOptions {
        BuildOptions {
            context: context.into(),
            dockerfile: DockerfileSource::InContext("Dockerfile".into()),
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            network: None,
            labels: BTreeMap::new(),
            platform: None,
            quiet: false,
        }
    }
}

/// Build args Docker lets through without an `ARG` (proxies), never in the image's history.
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];
