//! `ebrun events [--since T] [--until T] [-f KEY=VALUE]... [--format F]`: Docker's event
//! stream, read from the instance's events journal. Without `--since` only new events are
//! shown; without `--until` it keeps streaming until interrupted, as Docker does.

use std::io::Write;

use anyhow::{Context as _, Result};
use clap::Args;

use ebrun::events::{parse_time, Event, Filters};
use ebrun::format::template::Template;

use super::Context;

/// How often a follower looks for new events.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp (RFC 3339, Unix seconds, or a duration ago
    /// such as 10m).
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided (type=, event=, container=, image=,
    /// network=, volume=).
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format the output: `json`, or a Go template such as '{{.Action}} {{.Actor.ID}}'.
    #[arg(long)]
    format: Option<String>,
}

/// How to print one event.
enum Output {
    Line,
    Json,
    Template(Template),
}

impl Output {
    fn parse(format: Option<&str>) -> Result<Self> {
        Ok(match format.map(str::trim) {
            None | Some("") => Output::Line,
            Some("json") | Some("{{json .}}") => Output::Json,
            Some(t) => Output::Template(
                Template::parse(t).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?,
            ),
        })
    }

    fn render(&self, e: &Event) -> Result<String> {
        Ok(match self {
            Output::Line => e.line(),
            Output::Json => serde_json::to_string(e)?,
            Output::Template(t) => t
                .execute(&serde_json::to_value(e)?)
                .map_err(|e| anyhow::anyhow!(e))?,
        })
    }
}

pub fn events(ctx: &Context, args: EventsArgs) -> Result<i32> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let since = args
        .since
        .as_deref()
        .map(|v| parse_time(v, now))
        .transpose()
        .context("invalid value for \"--since\"")?;
    let until = args
        .until
        .as_deref()
        .map(|v| parse_time(v, now))
        .transpose()
        .context("invalid value for \"--until\"")?;
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            anyhow::bail!(
                "--since time ({}) cannot be after --until time ({})",
                args.since.unwrap_or_default(),
                args.until.unwrap_or_default()
            );
        }
    }
    let filters = Filters::parse(&args.filter)?;
    let output = Output::parse(args.format.as_deref())?;
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    ebrun::events::follow(&ctx.paths, since, until, &filters, |e| {
        let line = match output.render(e) {
            Ok(l) => l,
            Err(err) => {
                failed = Some(err);
                return false;
            }
        };
        // A closed pipe ends the stream quietly.
        writeln!(out, "{line}").is_ok() && out.flush().is_ok()
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
