//! `ebrun update [OPTIONS] CONTAINER...`: changes the resource limits of containers. The new
//! limits are validated together with the ones the container already has, written into the
//! running container's cgroups, and saved in its config for its next start. `--restart`
//! changes the restart policy (a running container's monitor follows it from its next exit).

use anyhow::{bail, Result};
use clap::Args;

use ebrun::container::{self, ContainerStore, RestartPolicy};

use super::resource_flags::ResourceFlags;
use super::Context;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    resources: ResourceFlags,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always,
    /// unless-stopped).
    #[arg(long)]
    restart: Option<String>,
    /// Containers to update (name, id or unique id prefix).
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn update(ctx: &Context, args: UpdateArgs) -> Result<i32> {
    args.resources.check_syntax()?;
    let restart: Option<RestartPolicy> = args
        .restart
        .as_deref()
        .map(RestartPolicy::parse)
        .transpose()?;
    if args.resources.is_empty() && restart.is_none() {
        bail!("You must provide one or more flags when using this command.");
    }
    let store = ContainerStore::new(&ctx.paths);
    let mut code = 0;
    for key in &args.containers {
        let config = match store.lookup(key) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
                continue;
            }
        };
        // Flag errors stop here, before any container is changed (exit 125).
        let resources = if args.resources.is_empty() {
            None
        } else {
            Some(args.resources.to_update(&config.resources)?)
        };
        let result = (|| -> Result<()> {
            if let Some(policy) = restart {
                container::set_restart_policy(&store, &config.id, policy)?;
            }
            let Some((given, merged)) = resources else {
                return Ok(());
            };
            container::update_resources(&ctx.paths, &config, &given, &merged)?;
            Ok(())
        })();
        match result {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!(
                    "Error response from daemon: Cannot update container {key}: {}",
                    crate::render(&e)
                );
                code = 1;
            }
        }
    }
    Ok(code)
}
