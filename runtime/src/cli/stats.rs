//! `ebrun stats [--all] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]`: live resource
//! usage with Docker's columns and formulas:
//!
//! - CPU %: (container CPU time delta / host CPU time delta) x online CPUs x 100, over the
//!   last interval (about one second);
//! - MEM USAGE: cgroup memory usage minus inactive file cache; LIMIT: the memory limit, or
//!   the host's RAM when there is none; MEM %: usage / limit;
//! - NET I/O: bytes received / sent on the container's interfaces (loopback excluded; 0B for
//!   a container on the host's network); BLOCK I/O: bytes read / written; PIDS: tasks.
//!
//! On a terminal the table is redrawn in place every second, like `docker stats`; otherwise
//! each refresh prints a new table. `--no-stream` prints one.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use ebrun::cgroups::host_memory;
use ebrun::container::{self, short_id, ContainerConfig, ContainerStore, StatsSample};
use ebrun::format::display::{format_g, human_size, Table};
use ebrun::format::template::ListFormat;

use super::Context;

const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Format output: `table`, `table TEMPLATE`, `json`, or a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Containers (name, id or unique id prefix); default: all running ones.
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
}

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// A container being watched: how the user named it, its config, its last sample.
struct Watched {
    key: String,
    config: ContainerConfig,
    last: Option<StatsSample>,
}

pub fn stats(ctx: &Context, args: StatsArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let (is_table, template) = match ListFormat::parse(args.format.as_deref(), DEFAULT_FORMAT) {
        Ok(f) => (f.table, f.template),
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(1);
        }
    };

    let mut watched: Vec<Watched> = Vec::new();
    let mut code = 0;
    for key in &args.containers {
        match store.lookup(key) {
            Ok(config) => watched.push(Watched {
                key: key.clone(),
                config,
                last: None,
            }),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    if !args.containers.is_empty() && watched.is_empty() {
        return Ok(code);
    }
    let follow_all = args.containers.is_empty();
    let live = !args.no_stream && std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut first_frame = true;
    loop {
        let tick = Instant::now();
        if follow_all {
            refresh_list(&store, &mut watched, args.all);
        }
        let mut rows = Vec::new();
        let first_round = watched.iter().all(|w| w.last.is_none());
        for w in watched.iter_mut() {
            let now = container::sample_stats(&ctx.paths, &w.config);
            if let Some(prev) = &w.last {
                rows.push(row_value(w, prev, &now, args.no_trunc));
            }
            w.last = Some(now);
        }
        if first_round && !watched.is_empty() {
            // CPU % needs two samples: take the second one an interval later.
            std::thread::sleep(INTERVAL.saturating_sub(tick.elapsed()));
            continue;
        }
        let mut frame = String::new();
        let render = |v: &Value| template.execute(v).map_err(|e| anyhow::anyhow!(e));
        if is_table {
            let mut table = Table::new();
            table.line(&render(&header_value())?);
            for row in &rows {
                table.line(&render(row)?);
            }
            frame.push_str(&table.render());
        } else {
            for row in &rows {
                frame.push_str(&render(row)?);
                frame.push('\n');
            }
        }
        if live {
            // Home, each line cleared to its end, then the rest of the screen cleared.
            let redrawn: String = frame.lines().map(|l| format!("{l}\x1b[K\n")).collect();
            if std::mem::take(&mut first_frame) {
                write!(out, "\x1b[2J")?;
            }
            write!(out, "\x1b[H{redrawn}\x1b[J")?;
        } else {
            write!(out, "{frame}")?;
        }
        out.flush()?;
        if args.no_stream {
            return Ok(code);
        }
        std::thread::sleep(INTERVAL.saturating_sub(tick.elapsed()));
    }
}

/// With no containers named: follow the running ones (all with `-a`) as they come and go.
fn refresh_list(store: &ContainerStore, watched: &mut Vec<Watched>, all: bool) {
    let mut configs = store.list();
    configs.sort_by(|a, b| a.created.cmp(&b.created));
    let current: Vec<ContainerConfig> = configs
        .into_iter()
        .filter(|c| {
            all || store
                .load_state(&c.id)
                .is_ok_and(|s| container::is_live(s.status))
        })
        .collect();
    watched.retain(|w| current.iter().any(|c| c.id == w.config.id));
    for c in current {
        if !watched.iter().any(|w| w.config.id == c.id) {
            watched.push(Watched {
                key: c.id.clone(),
                config: c,
                last: None,
            });
        }
    }
}

/// go-units `BytesSize`: binary units, `%.4g` (`1.5MiB`, `7.63GiB`).
fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", format_g(size, 4), UNITS[i])
}

fn row_value(w: &Watched, prev: &StatsSample, now: &StatsSample, no_trunc: bool) -> Value {
    let id = if no_trunc {
        w.config.id.clone()
    } else {
        short_id(&w.config.id).to_string()
    };
    let (mem_usage, mem_perc, net, block, pids, cpu) = if now.running {
        let c = &now.cgroup;
        let usage = if c.memory_inactive_file < c.memory_usage {
            c.memory_usage - c.memory_inactive_file
        } else {
            c.memory_usage
        };
        let limit = c.memory_limit.unwrap_or_else(host_memory);
        let perc = if limit > 0 {
            usage as f64 / limit as f64 * 100.0
        } else {
            0.0
        };
        (
            format!("{} / {}", bytes_size(usage), bytes_size(limit)),
            format!("{perc:.2}%"),
            format!("{} / {}", human_size(now.net_rx), human_size(now.net_tx)),
            format!(
                "{} / {}",
                human_size(c.blkio_read),
                human_size(c.blkio_write)
            ),
            c.pids.to_string(),
            format!("{:.2}%", now.cpu_percent(prev)),
        )
    } else {
        (
            "0B / 0B".to_string(),
            "0.00%".to_string(),
            "0B / 0B".to_string(),
            "0B / 0B".to_string(),
            "0".to_string(),
            "0.00%".to_string(),
        )
    };
    json!({
        "BlockIO": block,
        "CPUPerc": cpu,
        "Container": w.key,
        "ID": id,
        "MemPerc": mem_perc,
        "MemUsage": mem_usage,
        "Name": w.config.name,
        "NetIO": net,
        "PIDs": pids,
    })
}

fn header_value() -> Value {
    json!({
        "BlockIO": "BLOCK I/O",
        "CPUPerc": "CPU %",
        "Container": "CONTAINER",
        "ID": "CONTAINER ID",
        "MemPerc": "MEM %",
        "MemUsage": "MEM USAGE / LIMIT",
        "Name": "NAME",
        "NetIO": "NET I/O",
        "PIDs": "PIDS",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_like_go_units() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1536 * 1024), "1.5MiB");
        assert_eq!(bytes_size(64 << 20), "64MiB");
        assert_eq!(bytes_size(24_276_000_000), "22.61GiB");
    }
}
