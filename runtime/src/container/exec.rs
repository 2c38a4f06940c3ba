//! `exec` at the container level: a process joining a running container, with its config's
//! environment, user and working directory unless the flags say otherwise.

use std::path::PathBuf;

use super::config::ContainerConfig;
use super::lifecycle::running;
use super::observe::observe;
use super::ContainerError;
use crate::process::{self, ExecTarget};
use crate::Paths;

/// `exec` flags.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub args: Vec<String>,
    /// `-e`, resolved to KEY=VALUE.
    pub env: Vec<String>,
    pub workdir: Option<PathBuf>,
    pub user: Option<String>,
    pub tty: bool,
    pub interactive: bool,
}

/// Runs `spec` in the running container; returns its exit code.
pub fn exec(
    paths: &Paths,
    config: &ContainerConfig,
    spec: &ExecSpec,
) -> Result<i32, ContainerError> {
    let state = observe(paths, config)?;
    if !running(paths, config)? || state.pid <= 0 {
        return Err(ContainerError::NotRunning(config.id.clone()));
    }
    if state.paused {
        return Err(ContainerError::InvalidState(format!(
            "Container {} is paused, unpause the container before exec",
            config.id
        )));
    }
    let root = std::path::PathBuf::from(format!("/proc/{}/root", state.pid));
    let process = super::oci_translate::exec_process(config, spec, &root)?;
    let target = ExecTarget::new(state.pid, state.cgroups.iter().flat_map(|c| c.dirs()));
    match process::exec_in(&target, &process)? {
        Ok(code) => Ok(code),
        Err(failure) => Err(ContainerError::Start(failure)),
    }
}
