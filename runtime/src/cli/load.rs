//! `ebrun load [-i FILE] [-q]` (also `ebrun image load`): a `docker save` archive (or an OCI
//! archive) from a file or stdin, through the store's import. Docker's output and exit 1 on
//! failure; a failed load leaves no image and no layer.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use ebrun::image::{ImageStore, ImportOutcome};

use super::Context;

/// `ebrun load`
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Docker's `load` output: notices, then `Loaded image: NAME` per name (or the id).
pub fn print_loaded(outcome: &ImportOutcome) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for line in outcome.messages() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn load(ctx: &Context, args: LoadArgs) -> Result<i32> {
    if args.input.is_none() && std::io::stdin().is_terminal() {
        eprintln!("requested load from stdin, but stdin is empty");
        return Ok(1);
    }
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let result = ImageStore::open(&ctx.paths).and_then(|store| match &args.input {
        Some(path) => store.import_all(path, None, progress),
        None => store.import_reader(std::io::stdin().lock(), None, progress),
    });
    match result {
        Ok(outcome) => {
            print_loaded(&outcome)?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
