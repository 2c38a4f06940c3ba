//! `ebrun top CONTAINER [ps OPTIONS]`: the container's processes, as the host's `ps` shows
//! them (Docker runs `ps -ef` and keeps the container's pids).

use std::collections::HashSet;
use std::process::Command;

use anyhow::{Context as _, Result};
use clap::Args;

use ebrun::container::{self, ContainerStore};

use super::Context;

#[derive(Debug, Args)]
pub struct TopArgs {
    container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

pub fn top(ctx: &Context, args: TopArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    let state = container::observe(&ctx.paths, &config)?;
    let Some(cgroups) = state
        .cgroups
        .filter(|_| container::running(&ctx.paths, &config).unwrap_or(false))
    else {
        eprintln!(
            "Error response from daemon: container {} is not running",
            config.id
        );
        return Ok(1);
    };
    let pids: HashSet<String> = cgroups
        .dirs()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let out = Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(1);
    };
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        if line
            .split_whitespace()
            .nth(pid_col)
            .is_some_and(|p| pids.contains(p))
        {
            println!("{line}");
        }
    }
    Ok(0)
}
