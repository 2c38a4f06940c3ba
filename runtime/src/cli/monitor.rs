//! The hidden `container-monitor ID` command: the monitor process of a detached container
//! (see `ebrun::container::run_monitor`).

use std::fs::File;

use anyhow::Result;
use clap::Args;

use super::Context;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The container's full id.
    id: String,
}

pub fn monitor(ctx: &Context, args: MonitorArgs) -> Result<i32> {
    // stdout is the pipe `ebrun run -d` / `start` reads "ok" or the error from: keep it as
    // the ready channel and point fd 1 at /dev/null, so nothing else lands in it and the
    // reader sees EOF as soon as the monitor closes the channel.
    let ready = nix::unistd::dup(std::io::stdout()).ok().map(File::from);
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    Ok(ebrun::container::run_monitor(&ctx.paths, &args.id, ready))
}
