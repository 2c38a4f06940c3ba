//! `ebrun inspect CONTAINER...`: JSON shaped like Docker's container inspect, plus an
//! `Ebrun` section with the container's cgroup2 id and eBPF meters.

use anyhow::Result;
use clap::Args;

use ebrun::container::{ContainerError, ContainerStore};

use super::Context;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template (or 'json').
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Only inspect objects of this type (container or image).
    #[arg(long = "type")]
    kind: Option<String>,
    /// Containers or images (name, id or unique id prefix).
    #[arg(required = true)]
    targets: Vec<String>,
}

pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let images = ebrun::image::ImageStore::open(&ctx.paths)?;
    let want = args.kind.as_deref();
    if want.is_some_and(|k| k != "container" && k != "image") {
        anyhow::bail!(
            "\"{}\" is not a valid value for --type",
            want.unwrap_or_default()
        );
    }
    let mut out = Vec::new();
    let mut code = 0;
    for key in &args.targets {
        match (want != Some("image")).then(|| store.lookup(key)) {
            Some(Ok(config)) => {
                match ebrun::container::observe(&ctx.paths, &config) {
                    Ok(state) => out.push(ebrun::container::inspect_document(
                        &ctx.paths, &config, &state,
                    )),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
                continue;
            }
            Some(Err(e @ ContainerError::Unreadable { .. })) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
                continue;
            }
            _ => {}
        }
        let image = (want != Some("container"))
            .then(|| images.resolve(key).ok())
            .flatten();
        match image {
            Some(record) => out.push(serde_json::to_value(ebrun::image::inspect::inspect(
                &images, &record,
            ))?),
            None => {
                eprintln!("Error: No such object: {key}");
                code = 1;
            }
        }
    }
    match ebrun::format::template::inspect_output(args.format.as_deref(), &out) {
        Ok((text, errors)) => {
            super::print_out(&text)?;
            for e in &errors {
                eprintln!("{e}");
            }
            Ok(if errors.is_empty() { code } else { 1 })
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(64)
        }
    }
}
