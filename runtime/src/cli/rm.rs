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
            match container::remove_container(&ctx.paths, &config, args.force, args.volumes) {
                Err(e @ container::ContainerError::RunningNotRemoved(_)) => {
                    eprintln!("Error response from daemon: {e}");
                    Ok(false)
                }
                other => other.map(|()| true),
            }
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
