//! `GET /containers/json`: Docker's container summaries, from the store the CLI reads.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::container::{self, ContainerConfig, ContainerState, Status};
use crate::Paths;

fn created_unix(config: &ContainerConfig) -> i64 {
    DateTime::parse_from_rfc3339(&config.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// One summary, as dockerd's `types.Container`.
fn summary(config: &ContainerConfig, state: &ContainerState, now: DateTime<Utc>) -> Value {
    let up = matches!(state.status, Status::Running | Status::Paused);
    let ports: Vec<Value> = if up {
        state
            .network
            .ports
            .iter()
            .map(|p| {
                json!({
                    "IP": p.host_ip.to_string(),
                    "PrivatePort": p.container_port,
                    "PublicPort": p.host_port,
                    "Type": p.proto.as_str(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mounts: Vec<Value> = config
        .mounts
        .iter()
        .map(|m| {
            json!({
                "Type": m.kind.as_str(),
                "Name": m.name.clone().unwrap_or_default(),
                "Source": m.source,
                "Destination": m.destination,
                "RW": !m.read_only,
            })
        })
        .collect();
    json!({
        "Id": config.id,
        "Names": [format!("/{}", config.name)],
        "Image": config.image,
        "ImageID": config.image_id,
        "Command": config.process.args.join(" "),
        "Created": created_unix(config),
        "Ports": ports,
        "Labels": {},
        "State": state.status.as_str(),
        "Status": container::status_text(state, now),
        "HostConfig": {"NetworkMode": config.network.mode.to_string()},
        "NetworkSettings": {"Networks": {}},
        "Mounts": mounts,
    })
}

/// The containers, newest first: running (and paused, restarting) ones only unless `all`.
pub fn list(paths: &Paths, all: bool) -> Value {
    let now = Utc::now();
    let mut found: Vec<(ContainerConfig, ContainerState)> = container::ContainerStore::new(paths)
        .list()
        .into_iter()
        .filter_map(|c| container::observe(paths, &c).ok().map(|s| (c, s)))
        .filter(|(_, s)| all || !matches!(s.status, Status::Created | Status::Exited))
        .collect();
    found.sort_by_key(|(c, _)| std::cmp::Reverse(created_unix(c)));
    Value::Array(found.iter().map(|(c, s)| summary(c, s, now)).collect())
}
