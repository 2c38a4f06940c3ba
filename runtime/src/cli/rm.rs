//! `ebrun rm [-f] CONTAINER...`

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ContainerStore};

use super::Context;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    volumes: bool,
    /// Containers to remove (name, id or unique id prefix).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(ctx: &Context, args: RmArgs) -> Result<i32> {
    container::reconcile(&ctx.paths)?;
    let store = ContainerStore::new(&ctx.paths);
    let mut code = 0;
    for key in &args.containers {
        let result = store.lookup(key).and_then(|config| {
            let running = match container::running(&ctx.paths, &config) {
                // A corrupt state: whether it runs is unknown; `-f` removes it all the same.
                Err(e) if e.is_corrupt() && args.force => false,
                other => other?,
            };
            if running {
                if !args.force {
                    eprintln!(
                        "Error response from daemon: cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                        config.name
                    );
                    return Ok(false);
                }
                if let Err(e) = container::mark_stopped(&ctx.paths, &config.id) {
                    // Unrecordable (a full disk): its monitor goes first, so that no restart
                    // policy brings the container back while it is removed.
                    tracing::info!(error = %e, "stopping a container whose stop cannot be recorded");
                    container::kill_monitor(&ctx.paths, &config.id);
                }
                container::kill_processes(&ctx.paths, &config);
                container::wait_exit(&ctx.paths, &config, Some(std::time::Duration::from_secs(10)))?;
            }
            container::remove(&ctx.paths, &config)?;
            if args.volumes {
                ebrun::volumes::remove_anonymous(&ctx.paths, &config)
                    .map_err(container::ContainerError::from)?;
            }
            Ok(true)
        });
        let result = match result {
            // Its config or state cannot be read: only a forced removal, by its id.
            Err(container::ContainerError::Unreadable { id, .. }) if args.force => {
                container::remove_unreadable(&ctx.paths, &id).map(|()| true)
            }
            other => other,
        };
        match result {
            Ok(true) => println!("{key}"),
            Ok(false) => code = 1,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
