//! `ebrun pull NAME[:TAG|@DIGEST]`: Docker's output (stdout), exit 1 on failure.

use anyhow::Result;
use clap::Args;

use ebrun::image::pull::{self, Output};

use super::Context;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// Download all tagged images in the repository (not supported).
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Platform (only the host's own, os/arch).
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
    if let Some(p) = &args.platform {
        let host = format!("linux/{}", host_arch());
        if p != &host {
            anyhow::bail!("invalid argument \"{p}\" for \"--platform\" flag: only the host platform ({host}) is supported");
        }
    }
    let output = if args.quiet {
        Output::Quiet
    } else {
        Output::Stdout
    };
    match pull::pull(&ctx.paths, &args.image, output) {
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

/// The host architecture in GOARCH terms.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
