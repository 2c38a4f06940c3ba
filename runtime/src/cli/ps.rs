//! `ebrun ps [-a] [-q] [--no-trunc] [-f KEY=VALUE] [--format TEMPLATE|json|table ...]`.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{json, Value};

use ebrun::container::{self, ContainerConfig, ContainerState, ContainerStore, Status};
use ebrun::format::display::{go_time, since, Table};
use ebrun::format::template::Template;

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
}

struct Row {
    config: ContainerConfig,
    state: ContainerState,
    health: Option<container::Health>,
}

fn matches_filters(row: &Row, filters: &[(String, String)]) -> bool {
    let keys: std::collections::BTreeSet<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.into_iter().all(|key| {
        filters
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(_, v)| match key {
                "status" => row.state.status.as_str() == v,
                "name" => row.config.name.contains(v.trim_start_matches('/')),
                "id" => row.config.id.starts_with(v.as_str()),
                "ancestor" => row.config.image == *v || row.config.image_id.contains(v.as_str()),
                "health" => container::health_filter_value(row.health.as_ref()) == v,
                _ => false,
            })
    })
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

fn row_json(ctx: &Context, row: &Row, no_trunc: bool, now: DateTime<Utc>) -> Value {
    let c = &row.config;
    let command = format!("\"{}\"", shell_words(&c.process.args));
    let created = DateTime::parse_from_rfc3339(&c.created)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    let _ = ctx;
    json!({
        "ID": if no_trunc { c.id.clone() } else { container::short_id(&c.id).to_string() },
        "Image": c.image,
        "Command": if no_trunc { command } else { container::ellipsis(&command, 20) },
        "CreatedAt": created.map(go_time).unwrap_or_default(),
        "RunningFor": since(created, now),
        "Ports": if running(&row.state) {
            ebrun::network::ports_column(&row.state.network)
        } else {
            String::new()
        },
        "State": row.state.status.as_str(),
        "Status": container::status_text(&row.state, row.health.as_ref(), now),
        "Names": c.name,
        "Labels": "",
        "Mounts": "",
        "Networks": "",
    })
}

pub fn ps(ctx: &Context, args: PsArgs) -> Result<i32> {
    let filters = parse_filters(&args.filter)?;
    container::reconcile(&ctx.paths)?;
    let store = ContainerStore::new(&ctx.paths);
    // Containers whose files cannot be read are not listed; the others are, with a warning.
    for broken in container::scan_broken(&ctx.paths) {
        eprintln!("{}", broken.warning());
    }
    let mut rows: Vec<Row> = store
        .list()
        .into_iter()
        .filter_map(|config| match container::observe(&ctx.paths, &config) {
            Ok(state) => Some(Row {
                health: container::current_health(&ctx.paths, &config, &state),
                config,
                state,
            }),
            Err(e) if e.is_corrupt() => None, // warned about above
            Err(e) => {
                eprintln!("WARNING: container {}: {e}", config.id);
                None
            }
        })
        .filter(|r| {
            args.all
                || !filters.is_empty()
                || matches!(
                    r.state.status,
                    Status::Running | Status::Paused | Status::Restarting
                )
        })
        .filter(|r| matches_filters(r, &filters))
        .collect();
    rows.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    let now = Utc::now();
    if args.quiet {
        for r in &rows {
            let id = if args.no_trunc {
                r.config.id.as_str()
            } else {
                container::short_id(&r.config.id)
            };
            println!("{id}");
        }
        return Ok(0);
    }
    let values: Vec<Value> = rows
        .iter()
        .map(|r| row_json(ctx, r, args.no_trunc, now))
        .collect();
    match args.format.as_deref() {
        Some("json") => {
            for v in &values {
                println!("{v}");
            }
        }
        Some(f) if !f.starts_with("table") => {
            let template =
                Template::parse(f).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            for v in &values {
                println!("{}", template.execute(v).map_err(|e| anyhow::anyhow!(e))?);
            }
        }
        format => {
            let spec = format
                .and_then(|f| f.strip_prefix("table"))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or("{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}");
            let template = Template::parse(spec)
                .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            let mut table = Table::new();
            table.row(header(spec).split('\t'));
            for v in &values {
                let line = template.execute(v).map_err(|e| anyhow::anyhow!(e))?;
                table.row(line.split('\t'));
            }
            print!("{}", table.render());
        }
    }
    Ok(0)
}

/// Column titles for a table template, as Docker names them.
fn header(spec: &str) -> String {
    let titles = [
        ("{{.ID}}", "CONTAINER ID"),
        ("{{.Image}}", "IMAGE"),
        ("{{.Command}}", "COMMAND"),
        ("{{.RunningFor}}", "CREATED"),
        ("{{.CreatedAt}}", "CREATED AT"),
        ("{{.Status}}", "STATUS"),
        ("{{.State}}", "STATE"),
        ("{{.Ports}}", "PORTS"),
        ("{{.Names}}", "NAMES"),
    ];
    spec.split('\t')
        .map(|cell| {
            titles
                .iter()
                .find(|(t, _)| *t == cell.trim())
                .map(|(_, h)| h.to_string())
                .unwrap_or_else(|| {
                    cell.trim()
                        .trim_start_matches("{{.")
                        .trim_end_matches("}}")
                        .to_uppercase()
                })
        })
        .collect::<Vec<_>>()
        .join("\t")
}

/// Arguments joined as a shell would need them typed (Docker's COMMAND column).
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Running (or paused): the network settings of the current run are live.
fn running(state: &ContainerState) -> bool {
    matches!(
        state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}
