//! `ebrun port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports, as Docker prints them.

use anyhow::Result;
use clap::Args;

use ebrun::container::ContainerStore;
use ebrun::network::inspect::{parse_port_filter, port_lines};

use super::Context;

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container.
    container: String,
    /// Only this container port (`80` or `80/udp`).
    port: Option<String>,
}

pub fn port(ctx: &Context, a: PortArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let config = match store.lookup(&a.container) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let state = store.load_state(&config.id)?;
    let running = state.status == ebrun::container::Status::Running;
    let filter = match &a.port {
        Some(p) => match parse_port_filter(p) {
            Some(f) => Some(f),
            None => {
                eprintln!("Error: invalid port {p:?}: expected PORT or PORT/PROTO (tcp, udp)");
                return Ok(125);
            }
        },
        None => None,
    };
    let lines = if running {
        port_lines(&state.network, filter)
    } else {
        Vec::new()
    };
    if lines.is_empty() {
        if let (Some(p), Some(f)) = (&a.port, filter) {
            eprintln!("Error: No public port '{f}' published for {}", a.container);
            let _ = p;
            return Ok(1);
        }
    }
    for l in lines {
        println!("{l}");
    }
    Ok(0)
}
