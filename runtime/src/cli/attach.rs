//! `ebrun attach CONTAINER`: the running container's output live, and this terminal's input
//! to its stdin, through its monitor's attach socket. Ends with the container's exit code.

use std::io::Read;
use std::os::unix::net::UnixStream;

use anyhow::Result;
use clap::Args;

use ebrun::container::{self, ContainerStore};

use super::Context;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    container: String,
}

pub fn attach(ctx: &Context, args: AttachArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    if !container::running(&ctx.paths, &config)? {
        eprintln!("You cannot attach to a stopped container, start it first");
        return Ok(1);
    }
    let mut socket =
        match UnixStream::connect(container::attach_socket_path(&ctx.paths, &config.id)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "Error response from daemon: cannot attach to {}: {e}",
                    config.name
                );
                return Ok(1);
            }
        };
    if !args.no_stdin && config.process.interactive {
        let mut to_container = socket.try_clone()?;
        // Input runs beside the output; it ends with this process.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin();
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || std::io::Write::write_all(&mut to_container, &buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    container::copy_frames_to_stdio(&mut socket)?;
    Ok(container::wait_exit(
        &ctx.paths,
        &config,
        Some(std::time::Duration::from_secs(10)),
    )?
    .unwrap_or(0))
}
