//! `GET /containers/{id}/logs`: the container's json-file log (the one `ebrun logs`
//! reads), filtered by `since`/`until`/`tail`, with `timestamps`, framed as Docker frames it
//! (multiplexed without a terminal), and followed until the container stops.

use std::time::Duration;

use chrono::DateTime;
use hyper::StatusCode;

use super::request::Query;
use super::response::{self, Reply};
use super::stdio_frames::{self, Wanted};
use crate::container::{self, ContainerConfig, LogEntry, LogReader};
use crate::Paths;

/// `since`/`until`; `0` is no bound, as dockerd reads it for logs.
fn bound(query: &Query, name: &str) -> Result<Option<i64>, Reply> {
    match query.get(name) {
        Some("0") => Ok(None),
        _ => query.time(name),
    }
}

fn entry_nanos(e: &LogEntry) -> i64 {
    DateTime::parse_from_rfc3339(&e.time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// The logs of `config`.
pub fn logs(paths: &Paths, config: ContainerConfig, query: &Query) -> Reply {
    let wanted = Wanted {
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
    };
    if !wanted.stdout && !wanted.stderr {
        return response::error(
            StatusCode::BAD_REQUEST,
            "Bad parameters: you must choose at least one stream",
        );
    }
    let (since, until) = match (bound(query, "since"), bound(query, "until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let tail = match query.get("tail") {
        None | Some("" | "all") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => {
                return response::error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid value for tail: {n:?} (a number or \"all\")"),
                )
            }
        },
    };
    let follow = query.flag("follow");
    let timestamps = query.flag("timestamps");
    let tty = config.process.tty;
    let paths = paths.clone();
    response::streamed(stdio_frames::content_type(tty), move |out| {
        let keep = |e: &LogEntry| {
            let t = entry_nanos(e);
            wanted.wants(e.stream) && since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
        };
        let send = |entries: Vec<LogEntry>| -> bool {
            entries.iter().filter(|e| keep(e)).all(|e| {
                let text = if timestamps {
                    format!("{} {}", e.time, e.log)
                } else {
                    e.log.clone()
                };
                out.send(stdio_frames::frame(e.stream, text.as_bytes(), tty))
            })
        };
        let path = container::log_path(&paths.container_dir(&config.id), &config.id);
        let running = || container::running(&paths, &config).unwrap_or(false);
        let mut reader = loop {
            match LogReader::open(&path) {
                Ok(r) => break r,
                Err(_) if follow && running() && !out.is_closed() => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return,
            }
        };
        let first: Vec<LogEntry> = reader.read_available().into_iter().filter(keep).collect();
        if !send(container::tail_logs(first, tail)) || !follow {
            return;
        }
        loop {
            let still = running();
            let entries = reader.read_available();
            let idle = entries.is_empty();
            if !send(entries) || out.is_closed() {
                return;
            }
            if !still {
                send(reader.read_available());
                return;
            }
            if until.is_some_and(|u| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) > u) {
                return;
            }
            if idle {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}
