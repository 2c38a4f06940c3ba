//! `ebrun ps [-a] [-q] [--no-trunc] [-f KEY=VALUE] [--format TEMPLATE|json|table ...]`.

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Args;
use serde_json::json;

use ebrun::container;
use ebrun::format::contexts;
use ebrun::format::filters::FilterArgs;
use ebrun::format::template::{ListFormat, Template};

use super::Context;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter output based on conditions provided (status=, name=, id=, ancestor=, health=).
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    format: Option<String>,
    /// Display total file sizes.
    #[arg(short, long)]
    size: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long, allow_hyphen_values = true)]
    last: Option<i64>,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    latest: bool,
}

fn parse_filters(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value)"))?;
            if !["status", "name", "id", "ancestor", "health"].contains(&k) {
                bail!("invalid filter '{k}'");
            }
            if k == "health" && !container::HEALTH_FILTER_VALUES.contains(&v) {
                bail!("Unrecognised filter value for health: {v}");
            }
            if k == "status"
                && ![
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ]
                .contains(&v)
            {
                bail!("invalid filter 'status={v}'");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

pub fn ps(ctx: &Context, args: PsArgs) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    container::reconcile(&ctx.paths)?;
    // Containers whose files cannot be read are not listed; the others are, with a warning.
    for broken in container::scan_broken(&ctx.paths) {
        eprintln!("{}", broken.warning());
    }
    // The docker CLI's choice of format: quiet, the flag, the config file's psFormat, table.
    let given = match args.format.as_deref() {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => match ebrun::format::docker_config_format("psFormat") {
            Some(f) if !args.quiet => f,
            _ => "table".to_string(),
        },
    };
    let mut size = args.size;
    if args.format.as_deref().is_some_and(|f| !f.is_empty()) {
        // As the CLI: the template is parsed, then run once on an empty context.
        let template = match Template::parse(&given) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("failed to parse template: {e}");
                return Ok(1);
            }
        };
        let empty = contexts::container(&json!({}), true, Utc::now());
        if let Err(e) = template.execute_row(&empty) {
            eprintln!("failed to execute template: {e}");
            return Ok(1);
        }
        if !args.quiet && given.contains(".Size") {
            size = true;
        }
    }
    if args.quiet && args.format.as_deref().is_some_and(|f| !f.is_empty()) {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let format = if args.quiet {
        "{{.ID}}".to_string()
    } else if given == "table" {
        let mut f = contexts::CONTAINER_TABLE.to_string();
        if size {
            f.push_str("\t{{.Size}}");
        }
        f
    } else {
        given
    };
    let list_format = match ListFormat::from_format(&format) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let mut filter_args = FilterArgs::default();
    for (k, v) in &filters {
        filter_args.add(k.as_str(), v.as_str());
    }
    let limit = if args.latest { Some(1) } else { args.last };
    let summaries =
        ebrun::engine_api::container_summaries(&ctx.paths, args.all, size, &filter_args, limit);
    let now = Utc::now();
    let rows: Vec<_> = summaries
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|c| contexts::container(c, !args.no_trunc, now))
        .collect();
    match list_format.render(&rows, contexts::CONTAINER_TITLES) {
        Ok(out) => {
            super::print_out(&out)?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}
