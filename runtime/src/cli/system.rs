//! `ebrun system ...`: instance-wide operations.

use anyhow::Result;
use clap::Subcommand;

use ebrun::container::{self, ContainerStore};

use super::Context;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Print the prefix naming this root's host objects (cgroups, bpffs pins).
    #[command(hide = true)]
    Prefix,
    /// Remove every container of this root and every host object it created (cgroups,
    /// bpffs pins, per-boot state). Images stay. Used by the tests' clean-up.
    #[command(hide = true)]
    Teardown,
    /// Run once at boot (see contrib/systemd): record containers of the previous boot as
    /// exited and start those whose restart policy is always / unless-stopped.
    Boot,
}

pub fn system(ctx: &Context, cmd: SystemCommand) -> Result<i32> {
    match cmd {
        SystemCommand::Prefix => {
            println!("{}", ctx.paths.prefix());
            Ok(0)
        }
        SystemCommand::Teardown => teardown(ctx),
        SystemCommand::Boot => boot(ctx),
    }
}

fn teardown(ctx: &Context) -> Result<i32> {
    container::reconcile(&ctx.paths)?;
    let store = ContainerStore::new(&ctx.paths);
    let mut failures = 0;
    for config in store.list() {
        // Stopped by the user first, so no monitor restarts it (and reloads the meters)
        // while it is being removed.
        let _ = container::mark_stopped(&ctx.paths, &config.id);
        container::kill_processes(&ctx.paths, &config);
        let _ = container::wait_exit(
            &ctx.paths,
            &config,
            Some(std::time::Duration::from_secs(10)),
        );
        if let Err(e) = container::remove(&ctx.paths, &config) {
            eprintln!("ebrun: {e}");
            failures += 1;
        }
    }
    // Containers whose files cannot be read: removed by what their ids lead to.
    for broken in container::scan_broken(&ctx.paths) {
        if broken.is_container() {
            if let Err(e) = container::remove_unreadable(&ctx.paths, &broken.id) {
                eprintln!("ebrun: {e}");
                failures += 1;
            }
        }
    }
    if let Err(e) = ebrun::network::teardown(&ctx.paths) {
        eprintln!("ebrun: {e}");
        failures += 1;
    }
    for base in ebrun::cgroups::hierarchy_roots() {
        let dir = base.join(ctx.paths.prefix());
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir(&dir) {
                eprintln!("ebrun: remove {}: {e}", dir.display());
                failures += 1;
            }
        }
    }
    ebrun::bpf::unload(&ctx.paths.bpffs_dir())?;
    let _ = std::fs::remove_dir_all(ctx.paths.run_dir());
    Ok(if failures == 0 { 0 } else { 1 })
}

fn boot(ctx: &Context) -> Result<i32> {
    container::reconcile(&ctx.paths)?;
    let store = ContainerStore::new(&ctx.paths);
    let mut failures = 0;
    for config in store.list() {
        let state = match container::observe(&ctx.paths, &config) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ebrun: {}: {e}", config.name);
                failures += 1;
                continue;
            }
        };
        let stopped = !matches!(
            state.status,
            container::Status::Running | container::Status::Paused | container::Status::Restarting
        );
        if stopped
            && state.exit_code == container::EXIT_UNKNOWN
            && config.restart.restarts_at_boot(state.stopped_by_user)
        {
            match container::start_existing(&ctx.paths, &config) {
                Ok(()) => println!("{}", config.name),
                Err(e) => {
                    eprintln!("ebrun: start {}: {e}", config.name);
                    failures += 1;
                }
            }
        }
    }
    Ok(if failures == 0 { 0 } else { 1 })
}
