//! `ebrun top CONTAINER [ps OPTIONS]`: the container's processes, as the host's `ps` shows
//! them (Docker runs `ps -ef` and keeps the container's pids).

use anyhow::Result;
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
    match container::top(&ctx.paths, &config, &args.ps_args) {
        Ok(top) => {
            println!("{}", top.header);
            for row in &top.rows {
                println!("{row}");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
