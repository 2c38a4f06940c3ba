//! `ebrun start|stop|restart|kill|wait|pause|unpause|rename`: one container operation each,
//! applied to every named container, printing what Docker prints.

use anyhow::Result;
use clap::Args;
use nix::sys::signal::Signal;

use ebrun::container::{self, ContainerConfig, ContainerError, ContainerStore};

use super::Context;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Containers to start.
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: the container's
    /// --stop-timeout, else 10).
    #[arg(short = 't', long = "time", allow_negative_numbers = true)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainersArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

/// Runs `op` for each container; prints `key` for each success (as Docker does) and
/// `Error response from daemon: ...` for each failure; exit 1 if any failed.
fn each(
    ctx: &Context,
    keys: &[String],
    print_key: bool,
    mut op: impl FnMut(&ContainerConfig) -> Result<Option<String>, ContainerError>,
) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let mut code = 0;
    for key in keys {
        match store.lookup(key).and_then(|c| op(&c)) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) if print_key => println!("{key}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn start(ctx: &Context, args: StartArgs) -> Result<i32> {
    container::reconcile(&ctx.paths)?;
    each(ctx, &args.containers, true, |c| {
        container::start_existing(&ctx.paths, c).map(|()| None)
    })
}

pub fn stop(ctx: &Context, args: StopArgs) -> Result<i32> {
    let grace = args.time;
    each(ctx, &args.containers, true, |c| {
        container::stop(&ctx.paths, c, grace).map(|()| None)
    })
}

pub fn restart(ctx: &Context, args: StopArgs) -> Result<i32> {
    let grace = args.time;
    each(ctx, &args.containers, true, |c| {
        container::stop(&ctx.paths, c, grace)?;
        container::start_existing(&ctx.paths, c).map(|()| None)
    })
}

/// Docker accepts `KILL`, `SIGKILL` and `9`.
pub fn parse_signal(value: &str) -> Result<Signal> {
    ebrun::process::parse_signal(value).ok_or_else(|| anyhow::anyhow!("invalid signal: {value}"))
}

pub fn kill(ctx: &Context, args: KillArgs) -> Result<i32> {
    let signal = parse_signal(&args.signal)?;
    each(ctx, &args.containers, true, |c| {
        container::kill_container(&ctx.paths, c, signal).map(|()| None)
    })
}

pub fn wait(ctx: &Context, args: ContainersArgs) -> Result<i32> {
    each(ctx, &args.containers, false, |c| {
        container::wait_exit(&ctx.paths, c, None).map(|code| code.map(|c| c.to_string()))
    })
}

pub fn pause(ctx: &Context, args: ContainersArgs) -> Result<i32> {
    each(ctx, &args.containers, true, |c| {
        container::set_paused(&ctx.paths, c, true).map(|()| None)
    })
}

pub fn unpause(ctx: &Context, args: ContainersArgs) -> Result<i32> {
    each(ctx, &args.containers, true, |c| {
        container::set_paused(&ctx.paths, c, false).map(|()| None)
    })
}

pub fn rename(ctx: &Context, args: RenameArgs) -> Result<i32> {
    let code = each(ctx, std::slice::from_ref(&args.container), false, |c| {
        container::rename(&ctx.paths, c, &args.new_name).map(|()| None)
    })?;
    Ok(code)
}
