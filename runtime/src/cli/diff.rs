//! `ebrun diff CONTAINER`: the files the container changed (`C`), added (`A`) or deleted
//! (`D`) in its image's filesystem, as `docker diff` lists them.

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ContainerStore};

use super::Context;

/// `ebrun diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn diff(ctx: &Context, args: DiffArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    for change in container::changes(&ctx.paths, &config) {
        println!("{}", change.line());
    }
    Ok(0)
}
