//! `ebrun export [-o FILE] CONTAINER`: the container's filesystem as a tar archive, to a
//! file or to stdout, never to a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ContainerStore};

use super::Context;

/// `ebrun export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<i32> {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Ok(1);
    }
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    let mut reader = match container::export(&ctx.paths, &config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("failed to export container: {e}");
                return Ok(1);
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    let copied = std::io::copy(&mut reader, &mut out).and_then(|_| out.flush());
    if let Err(e) = copied {
        eprintln!("failed to export container: {e}");
        return Ok(1);
    }
    if let Err(e) = reader.finish() {
        eprintln!("Error response from daemon: {e}");
        return Ok(1);
    }
    Ok(0)
}
