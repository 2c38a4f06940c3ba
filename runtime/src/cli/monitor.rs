//! The hidden `container-monitor ID` command: the monitor process of a detached container
//! (see `ebrun::container::run_monitor`), and `container-health-probe ID`, one health check
//! probe its health checker runs (see `ebrun::container::run_health_probe`).

use std::fs::File;
use std::os::fd::FromRawFd;

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
    // reader sees EOF as soon as the monitor closes the channel. Close-on-exec: no process
    // the monitor starts (a health probe's helper) holds it.
    let ready = dup_cloexec(std::io::stdout()).ok();
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    Ok(ebrun::container::run_monitor(&ctx.paths, &args.id, ready))
}

#[derive(Debug, Args)]
pub struct HealthProbeArgs {
    /// The container's full id.
    id: String,
}

pub fn health_probe(ctx: &Context, args: HealthProbeArgs) -> Result<i32> {
    // stdout is the report channel the checker reads: kept (close-on-exec, so the probe never
    // holds it) while fd 1 goes to /dev/null until the probe's own output pipe replaces it.
    let report = dup_cloexec(std::io::stdout())?;
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    Ok(ebrun::container::run_health_probe(
        &ctx.paths, &args.id, report,
    ))
}

/// A close-on-exec duplicate of `fd`.
fn dup_cloexec(fd: impl std::os::fd::AsFd) -> nix::Result<File> {
    let new = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) returned a new descriptor this process owns.
    Ok(File::from(unsafe {
        std::os::fd::OwnedFd::from_raw_fd(new)
    }))
}
