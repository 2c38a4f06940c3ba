//! `exec` at the container level: a process joining a running container, with its config's
//! environment, user and working directory unless the flags say otherwise.

use std::path::PathBuf;

use super::config::ContainerConfig;
use super::lifecycle::running;
use super::observe::observe;
use super::ContainerError;
use crate::process::{self, ExecTarget, ProcessSpec};
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
    let mut env = config.process.env.clone();
    for e in &spec.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if spec.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let process = ProcessSpec {
        args: spec.args.clone(),
        env,
        cwd: spec
            .workdir
            .clone()
            .unwrap_or_else(|| config.process.cwd.clone()),
        user: spec
            .user
            .clone()
            .unwrap_or_else(|| config.process.user.clone()),
        hostname: config.process.hostname.clone(),
        tty: spec.tty,
        interactive: spec.interactive,
        security: config.process.security.clone(),
    };
    let target = ExecTarget {
        init_pid: state.pid,
        cgroup_dirs: state
            .cgroups
            .as_ref()
            .map(|c| c.dirs().map(PathBuf::from).collect())
            .unwrap_or_default(),
    };
    match process::exec_in(&target, &process)? {
        Ok(code) => Ok(code),
        Err(failure) => Err(ContainerError::Start(failure)),
    }
}
