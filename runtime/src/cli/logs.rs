//! `ebrun logs [-f] [--tail N] [-t] CONTAINER`: the container's json-file log, stdout to
//! stdout and stderr to stderr.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use ebrun::container::{self, ContainerStore, LogEntry, LogReader, Stream};

use super::Context;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    container: String,
}

fn print(entries: &[LogEntry], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for e in entries {
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        if timestamps {
            let _ = write!(w, "{} ", e.time);
        }
        let _ = w.write_all(e.log.as_bytes());
    }
    let _ = out.flush();
}

pub fn logs(ctx: &Context, args: LogsArgs) -> Result<i32> {
    let tail = match args.tail.as_str() {
        "all" => None,
        n => Some(n.parse::<usize>().with_context(|| {
            format!("invalid value {n:?} for flag --tail: expected a number or \"all\"")
        })?),
    };
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    let path = container::log_path(&store.dir(&config.id), &config.id);
    let mut reader = loop {
        match LogReader::open(&path) {
            Ok(r) => break r,
            Err(_) if args.follow && container::running(&ctx.paths, &config)? => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return Ok(0),
        }
    };
    print(
        &container::tail_logs(reader.read_available(), tail),
        args.timestamps,
    );
    if !args.follow {
        return Ok(0);
    }
    loop {
        let running = container::running(&ctx.paths, &config)?;
        let entries = reader.read_available();
        print(&entries, args.timestamps);
        if !running {
            // One last read: lines written just before the exit was recorded.
            print(&reader.read_available(), args.timestamps);
            return Ok(0);
        }
        if entries.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
