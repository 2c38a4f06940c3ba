//! `/containers/...`: the list (Docker's summaries, filtered), create, and each
//! container's endpoints, from the store the CLI reads.

use chrono::{DateTime, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::request::check_filters;
use super::response::{self, Reply};
use super::router::Call;
use crate::container::{self, ContainerConfig, ContainerState, Status};
use crate::format::filters::FilterArgs;
use crate::Paths;

/// Every `/containers` endpoint; None: not one of them.
pub fn handle(call: &Call) -> Option<Reply> {
    let segments = call.segments("/containers/");
    Some(match (&call.method, segments.as_slice()) {
        (&Method::GET, ["json"]) => {
            let filters = match call.query.filters() {
                Ok(f) => f,
                Err(reply) => return Some(reply),
            };
            if let Err(reply) = check_filters(&filters, FILTERS) {
                return Some(reply);
            }
            if let Some(v) = filters
                .values("health")
                .iter()
                .find(|v| !container::HEALTH_FILTER_VALUES.contains(&v.as_str()))
            {
                return Some(response::error(
                    StatusCode::BAD_REQUEST,
                    format!("Unrecognised filter value for health: {v}"),
                ));
            }
            let limit = call.query.number::<i64>("limit").ok().flatten();
            response::json(
                StatusCode::OK,
                &list(
                    &call.paths,
                    call.query.flag("all"),
                    call.query.flag("size"),
                    &filters,
                    limit,
                ),
            )
        }
        (&Method::POST, ["create"]) => super::create::create(call),
        (&Method::POST, ["prune"]) => prune(call),
        (_, [key]) => super::lifecycle::handle(call, key, "")?,
        (_, [key, action]) => super::lifecycle::handle(call, key, action)?,
        _ => return None,
    })
}

/// The filters `containers/json` understands.
const FILTERS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "network", "volume", "before", "since",
    "health", "publish", "expose", "is-task",
];

fn matches(
    c: &ContainerConfig,
    s: &ContainerState,
    health: Option<&container::Health>,
    f: &FilterArgs,
) -> bool {
    let any = |name: &str, ok: &dyn Fn(&str) -> bool| {
        let wanted = f.values(name);
        wanted.is_empty() || wanted.iter().any(|w| ok(w))
    };
    any("id", &|w| c.id.starts_with(w))
        && any("name", &|w| c.name.contains(w.trim_start_matches('/')))
        && f.labels_match("label", &c.labels)
        && any("status", &|w| w == s.status.as_str())
        && any("exited", &|w| {
            s.status == Status::Exited && w.parse() == Ok(s.exit_code)
        })
        && any("ancestor", &|w| c.image == w || c.image_id.contains(w))
        && any("health", &|w| container::health_filter_value(health) == w)
        && any("network", &|w| {
            c.network.mode.to_string() == w
                || s.network
                    .attachments
                    .iter()
                    .any(|a| a.network_name == w || a.network_id.starts_with(w))
        })
        && any("volume", &|w| {
            c.mounts.iter().any(|m| {
                m.name.as_deref() == Some(w)
                    || m.destination == std::path::Path::new(w)
                    || m.source == std::path::Path::new(w)
            })
        })
}

fn created_unix(config: &ContainerConfig) -> i64 {
    DateTime::parse_from_rfc3339(&config.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// One summary, as dockerd's `types.Container`.
fn summary(
    config: &ContainerConfig,
    state: &ContainerState,
    health: Option<&container::Health>,
    now: DateTime<Utc>,
) -> Value {
    let empty_network = Default::default();
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
            let volume = m.kind.as_str() == "volume";
            json!({
                "Type": m.kind.as_str(),
                "Name": m.name.clone().unwrap_or_default(),
                "Source": m.source,
                "Destination": m.destination,
                "Driver": if volume { "local" } else { "" },
                "Mode": "",
                "RW": !m.read_only,
                "Propagation": "",
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
        "Labels": config.labels,
        "State": state.status.as_str(),
        "Status": container::status_text(state, health, now),
        "HostConfig": {"NetworkMode": config.network.mode.to_string()},
        "NetworkSettings": {"Networks": crate::network::inspect_settings(
            &config.network,
            if up { &state.network } else { &empty_network },
            &config.id,
        )["Networks"].clone()},
        "Mounts": mounts,
    })
}

/// The containers, newest first: running (and paused, restarting) ones only unless `all`
/// (or a filter on the status asks for others), at most `limit` (all with `-1`).
pub fn list(
    paths: &Paths,
    all: bool,
    size: bool,
    filters: &FilterArgs,
    limit: Option<i64>,
) -> Value {
    let all = all
        || limit.is_some_and(|l| l > 0)
        || !filters.values("status").is_empty()
        || !filters.values("exited").is_empty();
    let now = Utc::now();
    type Found = (ContainerConfig, ContainerState, Option<container::Health>);
    let mut found: Vec<Found> = container::ContainerStore::new(paths)
        .list()
        .into_iter()
        .filter_map(|c| container::observe(paths, &c).ok().map(|s| (c, s)))
        .filter(|(_, s)| all || !matches!(s.status, Status::Created | Status::Exited))
        .map(|(c, s)| {
            let h = container::current_health(paths, &c, &s);
            (c, s, h)
        })
        .filter(|(c, s, h)| matches(c, s, h.as_ref(), filters))
        .collect();
    // Newest first, to the nanosecond (containers made in the same second keep their order).
    found.sort_by(|(a, _, _), (b, _, _)| {
        let at = |c: &ContainerConfig| DateTime::parse_from_rfc3339(&c.created).ok();
        at(b).cmp(&at(a))
    });
    if let Some(n) = limit.filter(|l| *l > 0) {
        found.truncate(n as usize);
    }
    Value::Array(
        found
            .iter()
            .map(|(c, s, h)| {
                let mut v = summary(c, s, h.as_ref(), now);
                if size {
                    v["SizeRw"] = json!(crate::volumes::store::disk_usage(
                        &paths.container_dir(&c.id).join("upper")
                    ));
                }
                v
            })
            .collect(),
    )
}

/// `POST /containers/prune?filters=`: removes the stopped containers (labels and `until`
/// filter which).
fn prune(call: &Call) -> Reply {
    let filters = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_filters(&filters, &["label", "until"]) {
        return reply;
    }
    let until = match filters.until() {
        Ok(u) => u.map(|t| t / 1_000_000_000),
        Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
    };
    let mut deleted = Vec::new();
    for c in container::ContainerStore::new(&call.paths).list() {
        let Ok(state) = container::observe(&call.paths, &c) else {
            continue;
        };
        let stopped = matches!(state.status, Status::Created | Status::Exited);
        if !stopped
            || !filters.labels_match("label", &c.labels)
            || until.is_some_and(|u| created_unix(&c) > u)
        {
            continue;
        }
        if container::remove_container(&call.paths, &c, false, false).is_ok() {
            deleted.push(c.id);
        }
    }
    response::json(
        StatusCode::OK,
        &json!({"ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": 0}),
    )
}
