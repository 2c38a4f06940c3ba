//! `ebrun save [-o FILE] IMAGE...` (also `ebrun image save`): Docker's `docker save`
//! archive to a file or to stdout, never to a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use ebrun::image::ImageStore;

use super::Context;

/// `ebrun save`
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Images to save: NAME (every tag), NAME:TAG, NAME@DIGEST, or an id.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Saves; failures print Docker's wording and exit 1, as `docker save` does.
pub fn save(ctx: &Context, args: SaveArgs) -> Result<i32> {
    let store = match ImageStore::open(&ctx.paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let result = match &args.output {
        Some(path) => {
            // Docker's CLI checks the path before asking for the archive.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.exists() {
                    eprintln!(
                        "failed to save image: invalid output path: directory {:?} does not exist",
                        dir.display().to_string()
                    );
                    return Ok(1);
                }
            }
            store.save_to_file(&args.images, path)
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
                return Ok(1);
            }
            // The archive flushes its writer when it is complete.
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            store.save(&args.images, &mut out)
        }
    };
    match result {
        Ok(_) => Ok(0),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
