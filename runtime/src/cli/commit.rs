//! `ebrun commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: a container's changes as a new
//! image, printed as `sha256:<id>` as Docker prints it.

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, CommitOptions, ContainerStore};
use ebrun::image::Reference;

use super::Context;

/// `ebrun commit`
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit.
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub name: Option<String>,
}

pub fn commit(ctx: &Context, args: CommitArgs) -> Result<i32> {
    let name = match &args.name {
        Some(n) => match Reference::parse_with_default_tag(n) {
            Ok(r) if r.digest().is_none() => Some(r),
            Ok(_) => {
                eprintln!(
                    "Error response from daemon: invalid reference format: {n} holds a digest"
                );
                return Ok(1);
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                return Ok(1);
            }
        },
        None => None,
    };
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    let image_config = container::container_image_config(&ctx.paths, &config);
    let image_config = match ebrun::build::apply_changes(image_config, &args.change) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let options = CommitOptions {
        comment: args.message.clone(),
        author: args.author.clone(),
        pause: args.pause,
        name,
    };
    match container::commit(&ctx.paths, &config, image_config, options) {
        Ok(image) => {
            println!("{}", image.id);
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
