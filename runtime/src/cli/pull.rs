//! `ebrun pull NAME[:TAG|@DIGEST]`: Docker's output (stdout), exit 1 on failure.

use anyhow::Result;
use clap::Args;

use ebrun::image::pull::{self, Output};
use ebrun::image::Platform;

use super::Context;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// Download all tagged images in the repository (not supported).
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long)]
    platform: Option<String>,
    /// NAME[:TAG|@DIGEST]
    image: String,
}

pub fn pull(ctx: &Context, args: PullArgs) -> Result<i32> {
    if args.all_tags {
        anyhow::bail!(
            "invalid argument for \"--all-tags\" flag: pulling all tags is not supported"
        );
    }
    let platform = match args.platform.as_deref().map(Platform::parse).transpose() {
        Ok(p) => p,
        Err(e) => anyhow::bail!("invalid argument for \"--platform\" flag: {e}"),
    };
    let output = if args.quiet {
        Output::Quiet
    } else {
        Output::Stdout
    };
    match pull::pull_platform(&ctx.paths, &args.image, output, platform.as_ref()) {
        Ok(pulled) => {
            println!("{}", pulled.full_name);
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
