//! `ebrun volume create|ls|inspect|rm|prune`: thin front ends over [`ebrun::volumes`],
//! printing what Docker prints.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

use ebrun::container::ContainerStore;
use ebrun::format::contexts;
use ebrun::format::display::human_size;
use ebrun::format::template::{ListFormat, Template};
use ebrun::network::FilterArgs;
use ebrun::volumes::inspect::volume_json;
use ebrun::volumes::{VolumeError, VolumeFilter, VolumePruneFilter, VolumeStore};

use super::Context;

/// `ebrun volume ...`
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The volume's name (random if omitted).
    name: Option<String>,
    /// Specify volume driver name (only "local").
    #[arg(short = 'd', long = "driver", default_value = "local")]
    driver: String,
    /// Set metadata for a volume (KEY=VALUE).
    #[arg(long = "label")]
    label: Vec<String>,
    /// Set driver specific options (KEY=VALUE; none are supported).
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display volume names.
    #[arg(short, long)]
    quiet: bool,
    /// Provide filter values (dangling=true|false, name=TEXT, label=KEY[=VALUE], driver=local).
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template (or `json`).
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template (or `json`).
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    volumes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not report missing volumes.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    volumes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE], all=true).
    #[arg(long = "filter")]
    filter: Vec<String>,
}

pub fn volume(ctx: &Context, cmd: VolumeCommand) -> Result<i32> {
    let store = VolumeStore::new(&ctx.paths);
    match cmd {
        VolumeCommand::Create(args) => create(&store, args),
        VolumeCommand::Ls(args) => ls(ctx, &store, args),
        VolumeCommand::Inspect(args) => inspect(&store, args),
        VolumeCommand::Rm(args) => rm(&store, args),
        VolumeCommand::Prune(args) => prune(&store, args),
    }
}

fn key_values(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn create(store: &VolumeStore, args: CreateArgs) -> Result<i32> {
    let v = store.create_with(
        args.name.as_deref(),
        &args.driver,
        &key_values(&args.opt),
        key_values(&args.label),
        false,
    )?;
    println!("{}", v.name);
    Ok(0)
}

fn ls(ctx: &Context, store: &VolumeStore, args: LsArgs) -> Result<i32> {
    let containers = ContainerStore::new(&ctx.paths).list();
    let filter = FilterArgs::from_flags(&args.filter).map_err(|e| anyhow!(e))?;
    let volumes = match VolumeFilter::new(filter) {
        Ok(f) => f.apply(store, &containers),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let given = match args.format.as_deref() {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => ebrun::format::docker_config_format("volumesFormat").unwrap_or_else(|| "table".into()),
    };
    let format = if args.quiet {
        "{{.Name}}".to_string()
    } else if given == "table" {
        contexts::VOLUME_TABLE.to_string()
    } else {
        given
    };
    let rows: Vec<_> = volumes
        .iter()
        .map(|v| contexts::volume(&ebrun::volumes::inspect::volume_json(store, v)))
        .collect();
    let out =
        ListFormat::from_format(&format).and_then(|f| f.render(&rows, contexts::VOLUME_TITLES));
    match out {
        Ok(text) => {
            super::print_out(&text)?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

fn inspect(store: &VolumeStore, args: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for name in &args.volumes {
        match store.get(name) {
            Ok(v) => out.push(volume_json(store, &v)),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    match args.format.as_deref() {
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
        Some("json") => println!("{}", serde_json::to_string(&Value::Array(out))?),
        Some(template) => {
            let template = Template::parse(template)
                .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            for v in &out {
                println!("{}", template.execute(v).map_err(|e| anyhow::anyhow!(e))?);
            }
        }
    }
    Ok(code)
}

fn rm(store: &VolumeStore, args: RmArgs) -> Result<i32> {
    let mut code = 0;
    for name in &args.volumes {
        match store.remove(name) {
            Ok(()) => println!("{name}"),
            Err(VolumeError::NotFound(_)) if args.force => {}
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn prune(store: &VolumeStore, args: PruneArgs) -> Result<i32> {
    let mut filter = FilterArgs::from_flags(&args.filter).map_err(|e| anyhow!(e))?;
    if args.all {
        filter.add("all", "true");
    }
    let filter = match VolumePruneFilter::new(filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    if !args.force {
        let what = if args.all {
            "all local volumes not used by at least one container"
        } else {
            "anonymous local volumes not used by at least one container"
        };
        print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!();
            return Ok(0);
        }
    }
    let (removed, freed) = filter.prune(store)?;
    if !removed.is_empty() {
        println!("Deleted Volumes:");
        for name in &removed {
            println!("{name}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(freed));
    Ok(0)
}
