//! `top`: a running container's processes as the host's `ps` shows them (Docker runs `ps`
//! with the user's options and keeps the rows of the container's pids).

use std::collections::HashSet;
use std::process::Command;

use super::config::ContainerConfig;
use super::lifecycle::running;
use super::observe::observe;
use super::ContainerError;
use crate::Paths;

/// `ps`'s header and the container's rows, as printed.
pub struct Top {
    pub header: String,
    pub rows: Vec<String>,
}

impl Top {
    /// The header's titles.
    pub fn titles(&self) -> Vec<String> {
        self.header.split_whitespace().map(str::to_string).collect()
    }

    /// Each row cut into the titles' columns, the last one keeping its spaces (a command
    /// line), as dockerd cuts them.
    pub fn processes(&self) -> Vec<Vec<String>> {
        let n = self.titles().len().max(1);
        self.rows
            .iter()
            .map(|row| {
                let mut fields: Vec<String> = Vec::new();
                let mut rest = row.trim_start();
                while fields.len() + 1 < n {
                    match rest.split_once(char::is_whitespace) {
                        Some((field, tail)) => {
                            fields.push(field.to_string());
                            rest = tail.trim_start();
                        }
                        None => break,
                    }
                }
                fields.push(rest.to_string());
                fields
            })
            .collect()
    }
}

/// Runs `ps ps_args` (`-ef` when empty) and keeps the container's processes.
pub fn top(
    paths: &Paths,
    config: &ContainerConfig,
    ps_args: &[String],
) -> Result<Top, ContainerError> {
    let state = observe(paths, config)?;
    let Some(cgroups) = state
        .cgroups
        .filter(|_| running(paths, config).unwrap_or(false))
    else {
        return Err(ContainerError::NotRunning(config.id.clone()));
    };
    let pids: HashSet<String> = cgroups
        .dirs()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let out = Command::new("ps")
        .args(args)
        .output()
        .map_err(|source| ContainerError::Io {
            op: "run ps",
            path: "ps".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let Some(pid_col) = header.split_whitespace().position(|h| h == "PID") else {
        return Err(ContainerError::InvalidState(format!(
            "Couldn't find PID field in ps output (ps {})",
            args.join(" ")
        )));
    };
    let rows = lines
        .filter(|line| {
            line.split_whitespace()
                .nth(pid_col)
                .is_some_and(|p| pids.contains(p))
        })
        .map(str::to_string)
        .collect();
    Ok(Top { header, rows })
}
