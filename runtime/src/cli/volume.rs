//! `ebrun volume create|ls|inspect|rm|prune`: thin front ends over [`ebrun::volumes`],
//! printing what Docker prints.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

use ebrun::container::ContainerStore;
use ebrun::format::display::{human_size, Table};
use ebrun::format::template::Template;
use ebrun::volumes::inspect::volume_json;
use ebrun::volumes::{VolumeError, VolumeRecord, VolumeStore};

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
    /// Set driver specific options (none are supported).
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
    /// Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE]).
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

fn labels(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn create(store: &VolumeStore, args: CreateArgs) -> Result<i32> {
    if args.driver != "local" {
        bail!(
            "invalid argument \"{}\" for \"--driver\" flag: only the \"local\" driver is supported",
            args.driver
        );
    }
    if let Some(o) = args.opt.first() {
        bail!(
            "invalid argument \"{o}\" for \"--opt\" flag: the local driver here takes no options"
        );
    }
    let v = store.create(args.name.as_deref(), labels(&args.label))?;
    println!("{}", v.name);
    Ok(0)
}

/// A label filter: `KEY` or `KEY=VALUE`.
fn label_matches(v: &VolumeRecord, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
        None => v.labels.contains_key(want),
    }
}

fn ls(ctx: &Context, store: &VolumeStore, args: LsArgs) -> Result<i32> {
    let containers = ContainerStore::new(&ctx.paths).list();
    let mut volumes = store.list();
    for f in &args.filter {
        let Some((key, value)) = f.split_once('=') else {
            bail!("invalid argument \"{f}\" for \"--filter\" flag: bad format of filter (expected name=value)");
        };
        match key {
            "dangling" => {
                let want = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={value}': expected true or false"),
                };
                volumes.retain(|v| store.users(&v.name, &containers).is_empty() == want);
            }
            "name" => volumes.retain(|v| v.name.contains(value)),
            "label" => volumes.retain(|v| label_matches(v, value)),
            "driver" => volumes.retain(|_| value == "local"),
            _ => bail!("invalid filter '{key}' (allowed: dangling, name, label, driver)"),
        }
    }
    if args.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    match args.format.as_deref() {
        None | Some("table") => {
            let mut t = Table::new();
            t.row(["DRIVER", "VOLUME NAME"]);
            for v in &volumes {
                t.row(["local", v.name.as_str()]);
            }
            print!("{}", t.render());
        }
        Some(format) => {
            let (table, template) = match format.strip_prefix("table ") {
                Some(rest) => (true, rest),
                None => (false, format),
            };
            let docs: Vec<Value> = volumes
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "Name": v.name, "Driver": "local", "Scope": "local",
                        "Mountpoint": store.data_dir(&v.name),
                        "Labels": v.labels.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(","),
                        "Links": store.users(&v.name, &containers).len(),
                        "Size": "N/A",
                    })
                })
                .collect();
            if template == "json" {
                for d in &docs {
                    println!("{}", serde_json::to_string(d)?);
                }
                return Ok(0);
            }
            let template = Template::parse(template)
                .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            let mut t = Table::new();
            for d in &docs {
                let line = template.execute(d).map_err(|e| anyhow::anyhow!(e))?;
                if table {
                    t.line(&line);
                } else {
                    println!("{line}");
                }
            }
            if table {
                print!("{}", t.render());
            }
        }
    }
    Ok(0)
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
    let mut keep_if: Vec<(bool, String)> = Vec::new();
    for f in &args.filter {
        if let Some(v) = f.strip_prefix("label!=") {
            keep_if.push((true, v.to_string()));
        } else if let Some(v) = f.strip_prefix("label=") {
            keep_if.push((false, v.to_string()));
        } else {
            bail!("invalid filter '{f}' (allowed: label=KEY[=VALUE], label!=KEY[=VALUE])");
        }
    }
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
    let (removed, freed) = store.prune(args.all, |v| {
        keep_if
            .iter()
            .any(|(negate, l)| label_matches(v, l) == *negate)
    })?;
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
