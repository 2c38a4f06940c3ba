//! `GET /containers/{id}/stats?stream=&one-shot=`: the JSON `docker stats` computes its
//! columns from (CPU % from `cpu_stats` against `precpu_stats`, memory usage less the
//! inactive file cache), from the samples `ebrun stats` takes.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Value};

use super::request::Query;
use super::response::{self, Reply};
use crate::container::{self, ContainerConfig, StatsSample};
use crate::Paths;

/// How often a stream sends (dockerd's collector interval).
const INTERVAL: Duration = Duration::from_secs(1);

fn cpu_json(s: &StatsSample) -> Value {
    json!({
        "cpu_usage": {
            "total_usage": s.cgroup.cpu_usage_ns,
            "usage_in_kernelmode": 0,
            "usage_in_usermode": 0,
        },
        "system_cpu_usage": s.system_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// One stats document: `now`, with `prev` as its `precpu_stats` (zeros for a one-shot).
fn document(
    config: &ContainerConfig,
    prev: Option<(&StatsSample, &str)>,
    now: &StatsSample,
    read: &str,
) -> Value {
    let limit = now
        .cgroup
        .memory_limit
        .unwrap_or_else(crate::cgroups::host_memory);
    let blk = |op: &str, value: u64| json!({"major": 0, "minor": 0, "op": op, "value": value});
    json!({
        "name": format!("/{}", config.name),
        "id": config.id,
        "read": read,
        "preread": prev.map(|p| p.1).unwrap_or("0001-01-01T00:00:00Z"),
        "pids_stats": {"current": now.cgroup.pids},
        "num_procs": 0,
        "cpu_stats": cpu_json(now),
        "precpu_stats": prev.map(|p| cpu_json(p.0)).unwrap_or_else(|| json!({
            "cpu_usage": {"total_usage": 0}, "throttling_data": {}
        })),
        "memory_stats": if now.running {
            json!({
                "usage": now.cgroup.memory_usage,
                "limit": limit,
                "stats": {"inactive_file": now.cgroup.memory_inactive_file},
            })
        } else {
            json!({})
        },
        "blkio_stats": {"io_service_bytes_recursive": if now.running {
            json!([blk("read", now.cgroup.blkio_read), blk("write", now.cgroup.blkio_write)])
        } else {
            Value::Null
        }},
        "networks": if now.running {
            json!({"eth0": {"rx_bytes": now.net_rx, "tx_bytes": now.net_tx,
                "rx_packets": 0, "tx_packets": 0, "rx_errors": 0, "tx_errors": 0,
                "rx_dropped": 0, "tx_dropped": 0}})
        } else {
            Value::Null
        },
    })
}

pub fn stats(paths: &Paths, config: ContainerConfig, query: &Query) -> Reply {
    let stream = !matches!(query.get("stream"), Some("0" | "false" | "False"));
    let one_shot = query.flag("one-shot");
    if one_shot && stream {
        return response::error(
            StatusCode::BAD_REQUEST,
            "cannot have stream=true and one-shot=true",
        );
    }
    let paths = paths.clone();
    response::streamed("application/json", move |out| {
        let mut prev: Option<(StatsSample, String)> = None;
        if !one_shot {
            // The CPU % needs two samples: the first document already has both.
            prev = Some((
                container::sample_stats(&paths, &config),
                container::now_rfc3339(),
            ));
            std::thread::sleep(if stream { INTERVAL } else { INTERVAL / 2 });
        }
        loop {
            let now = container::sample_stats(&paths, &config);
            let read = container::now_rfc3339();
            let doc = document(
                &config,
                prev.as_ref().map(|(s, t)| (s, t.as_str())),
                &now,
                &read,
            );
            if !out.send_json(&doc) || !stream || !now.running {
                return;
            }
            prev = Some((now, read));
            std::thread::sleep(INTERVAL);
        }
    })
}
