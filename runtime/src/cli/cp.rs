//! `ebrun cp SRC DEST` (Docker's `docker cp`: `CONTAINER:PATH` on one side, a host path or
//! `-` for a tar on stdin/stdout on the other), and the hidden `container-archive` helper
//! that does the container side confined to the container's root.

use std::fs::File;
use std::path::Path;

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ArchiveError, ContainerStore, ExtractOptions, HelperOp};

use super::Context;

/// `ebrun cp`
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH (accepted; links are copied as links).
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy.
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or `-` (a tar on stdin).
    #[arg(value_name = "SRC")]
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or `-` (a tar on stdout).
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `CONTAINER:PATH` -> Some((container, path)); a host path (absolute, or starting with
/// `.`, as Docker decides) -> None.
fn split(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty()).then_some((c, p))
}

pub fn cp(ctx: &Context, args: CpArgs) -> Result<i32> {
    let (src, dest) = (split(&args.src), split(&args.dest));
    let store = ContainerStore::new(&ctx.paths);
    let result = match (src, dest) {
        (Some(_), Some(_)) => {
            eprintln!("copying between containers is not supported");
            return Ok(1);
        }
        (None, None) => {
            eprintln!("must specify at least one container source");
            return Ok(1);
        }
        (Some((key, path)), None) => {
            let Some(config) = super::lookup_or_report(&store, key) else {
                return Ok(1);
            };
            if args.dest == "-" {
                let mut out = std::io::stdout().lock();
                container::copy_out_to_writer(&ctx.paths, &config, key, path, &mut out)
            } else {
                container::copy_out(&ctx.paths, &config, key, path, Path::new(&args.dest))
            }
        }
        (None, Some((key, path))) => {
            let Some(config) = super::lookup_or_report(&store, key) else {
                return Ok(1);
            };
            if args.src == "-" {
                let mut input = std::io::stdin().lock();
                container::copy_in_from_reader(&ctx.paths, &config, key, path, &mut input)
            } else {
                let options = ExtractOptions {
                    no_overwrite_dir_non_dir: true,
                    copy_uid_gid: args.archive,
                };
                container::copy_in(
                    &ctx.paths,
                    &config,
                    key,
                    Path::new(&args.src),
                    path,
                    options,
                )
            }
        }
    };
    match result {
        Ok(()) => Ok(0),
        Err(e @ (ArchiveError::Io { .. } | ArchiveError::BadParameter(_))) => {
            eprintln!("Error: {e}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

/// The hidden `container-archive ID OP [PATH]` command.
#[derive(Debug, Args)]
pub struct ArchiveHelperArgs {
    /// The container's full id.
    id: String,
    /// stat, get, put or export.
    op: String,
    /// The path in the container.
    path: Option<String>,
    /// get: the top entry's name instead of the path's base name.
    #[arg(long)]
    rename: Option<String>,
    #[arg(long)]
    no_overwrite_dir_non_dir: bool,
    #[arg(long)]
    copy_uid_gid: bool,
}

pub fn archive_helper(ctx: &Context, args: ArchiveHelperArgs) -> Result<i32> {
    let path = args.path.clone().unwrap_or_default();
    let op = match args.op.as_str() {
        "stat" => HelperOp::Stat { path },
        "get" => HelperOp::Get {
            path,
            rename: args.rename,
        },
        "put" => HelperOp::Put {
            dir: path,
            no_overwrite_dir_non_dir: args.no_overwrite_dir_non_dir,
            copy_uid_gid: args.copy_uid_gid,
        },
        "export" => HelperOp::Export,
        other => anyhow::bail!("unknown archive operation {other:?}"),
    };
    // The answer and tar channel: stdout, unbuffered by std (the helper buffers it).
    let out = File::from(nix::unistd::dup(std::io::stdout())?);
    Ok(container::run_archive_helper(&ctx.paths, &args.id, op, out))
}
