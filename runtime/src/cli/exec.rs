//! `ebrun exec [-i] [-t] [-e] [-w] [-u] CONTAINER COMMAND [ARG...]`

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ContainerError, ContainerStore, ExecSpec};

use super::Context;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn exec(ctx: &Context, args: ExecArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    let spec = ExecSpec {
        args: args.command,
        env: args
            .env
            .iter()
            .filter_map(|e| super::run::resolve_env(e))
            .collect(),
        workdir: args.workdir,
        user: args.user,
        tty: args.tty,
        interactive: args.interactive,
    };
    match container::exec(&ctx.paths, &config, &spec) {
        Ok(code) => Ok(code),
        Err(ContainerError::Start(f)) => {
            eprintln!("OCI runtime exec failed: {}", f.message);
            Ok(f.exit_code)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}
