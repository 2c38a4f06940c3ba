//! A container's endpoints: inspect, start, stop, restart, kill, pause, unpause, wait,
//! delete, through the library calls the `ebrun` CLI makes.

use hyper::StatusCode;
use serde_json::json;

use super::request::Query;
use super::response::{self, Reply};
use super::router::Call;
use crate::container::{self, ContainerError, ContainerStore};

/// Docker's status code for an error of the container module.
pub(super) fn status_of(e: &ContainerError) -> StatusCode {
    match e {
        ContainerError::NotFound(_) => StatusCode::NOT_FOUND,
        ContainerError::NameInUse { .. }
        | ContainerError::RunningNotRemoved(_)
        | ContainerError::NotRunning(_)
        | ContainerError::InvalidState(_) => StatusCode::CONFLICT,
        ContainerError::Ambiguous(_) | ContainerError::InvalidFlag { .. } => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) fn error(e: ContainerError) -> Reply {
    response::error(status_of(&e), e)
}

/// `t=` seconds, else Docker's 10.
/// `t=`: seconds before SIGKILL; none: the container's StopTimeout (else 10).
fn grace(query: &Query) -> Option<i64> {
    query.get("t").and_then(|t| t.parse().ok())
}

/// One container operation: `action` is the path after the id (`json`, `start`, ...; empty
/// for DELETE). None: not an endpoint of this module.
pub fn handle(call: &Call, key: &str, action: &str) -> Option<Reply> {
    use hyper::Method;
    let (paths, method, query) = (&call.paths, &call.method, &call.query);
    let config = match ContainerStore::new(paths).lookup(key) {
        Ok(c) => c,
        Err(e) => return Some(error(e)),
    };
    let done = |r: Result<(), ContainerError>| match r {
        Ok(()) => response::empty(StatusCode::NO_CONTENT),
        Err(e) => error(e),
    };
    let running = || container::running(paths, &config).unwrap_or(false);
    Some(match (method, action) {
        (&Method::GET, "json") => match container::observe(paths, &config) {
            Ok(state) => response::json(
                StatusCode::OK,
                &container::inspect_document(paths, &config, &state),
            ),
            Err(e) => error(e),
        },
        // Docker answers 304 when there is nothing to do.
        (&Method::POST, "start") if running() => response::empty(StatusCode::NOT_MODIFIED),
        (&Method::POST, "start") => done(container::start_existing(paths, &config)),
        (&Method::POST, "stop") if !running() => response::empty(StatusCode::NOT_MODIFIED),
        (&Method::POST, "stop") => done(container::stop(paths, &config, grace(query))),
        (&Method::POST, "restart") => done(
            container::stop(paths, &config, grace(query))
                .and_then(|()| container::start_existing(paths, &config)),
        ),
        (&Method::POST, "kill") => {
            let name = query.get("signal").unwrap_or("SIGKILL");
            match crate::process::parse_signal(name) {
                Some(signal) => done(container::kill_container(paths, &config, signal)),
                None => response::error(StatusCode::BAD_REQUEST, format!("Invalid signal: {name}")),
            }
        }
        (&Method::POST, "pause") => done(container::set_paused(paths, &config, true)),
        (&Method::POST, "unpause") => done(container::set_paused(paths, &config, false)),
        (&Method::POST, "wait") => wait(paths, config.clone(), query),
        (&Method::POST, "exec") => super::exec::create(call, key),
        (&Method::GET, "stats") => super::stats::stats(paths, config.clone(), query),
        (&Method::GET, "changes") => response::json(
            StatusCode::OK,
            &serde_json::json!(container::changes(paths, &config)),
        ),
        (&Method::GET, "top") => {
            let ps_args: Vec<String> = query
                .get("ps_args")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            match container::top(paths, &config, &ps_args) {
                Ok(top) => response::json(
                    StatusCode::OK,
                    &json!({"Titles": top.titles(), "Processes": top.processes()}),
                ),
                Err(e) => error(e),
            }
        }
        (&Method::POST, "update") => update(call, &config),
        (&Method::GET, "logs") => super::logs::logs(paths, config.clone(), query),
        (&Method::POST, "resize") => {
            let (h, w) = match query.terminal_size() {
                Ok(size) => size,
                Err(r) => return Some(r),
            };
            match container::resize_tty(paths, &config, h, w) {
                Ok(()) => response::empty(StatusCode::OK),
                Err(e) => error(e),
            }
        }
        (&Method::POST, "rename") => match query.get("name").filter(|n| !n.is_empty()) {
            Some(name) => done(container::rename(paths, &config, name)),
            None => response::error(StatusCode::BAD_REQUEST, "name cannot be empty"),
        },
        (&Method::DELETE, "") => done(container::remove_container(
            paths,
            &config,
            query.flag("force"),
            query.flag("v"),
        )),
        (&Method::HEAD | &Method::GET | &Method::PUT, "archive") | (&Method::GET, "export") => {
            return super::archive::handle(call, key, action)
        }
        _ => return None,
    })
}

/// `POST /containers/{id}/wait?condition=`: the headers at once (the docker CLI waits for
/// them before it starts the container), the status when the condition is met.
fn wait(paths: &crate::Paths, config: container::ContainerConfig, query: &Query) -> Reply {
    let name = query.get("condition").unwrap_or("");
    let Some(condition) = container::WaitCondition::parse(name) else {
        return response::error(
            StatusCode::BAD_REQUEST,
            format!("invalid condition: {name:?} (allowed: not-running, next-exit, removed)"),
        );
    };
    let paths = paths.clone();
    response::streamed("application/json", move |out| {
        let body = match container::wait_for(&paths, &config, condition) {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
        };
        out.send_json(&body);
    })
}

/// `POST /containers/{id}/update`: new limits (checked merged with the current ones, by the
/// rules `ebrun update` uses) and restart policy.
fn update(call: &Call, config: &container::ContainerConfig) -> Reply {
    let hc: super::create_body::HostConfig = match super::request::json_body(&call.body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let given = match super::create::requested_resources(&hc) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let mut merged = config.resources.clone();
    merged.merge(&given);
    let (merged, warnings) = match crate::cgroups::check_limits(
        merged,
        &crate::cgroups::GivenText::of_values(&given),
        &crate::cgroups::HostCaps::detect(),
        true,
    ) {
        Ok(r) => r,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
    };
    if !hc.restart_policy.name.is_empty() {
        let policy = match super::create::restart_policy(&hc) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        if let Err(e) =
            container::set_restart_policy(&ContainerStore::new(&call.paths), &config.id, policy)
        {
            return error(e);
        }
    }
    if !given.is_empty() {
        if let Err(e) = container::update_resources(&call.paths, config, &given, &merged) {
            return error(e);
        }
    }
    response::json(StatusCode::OK, &json!({"Warnings": warnings}))
}
