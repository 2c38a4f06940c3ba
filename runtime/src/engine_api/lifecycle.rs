//! A container's endpoints: inspect, start, stop, restart, kill, pause, unpause, wait,
//! delete, through the library calls the `ebrun` CLI makes.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;

use super::response::{self, Reply};
use crate::container::{self, ContainerError, ContainerStore};
use crate::Paths;

/// Docker's status code for an error of the container module.
fn status_of(e: &ContainerError) -> StatusCode {
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

fn error(e: ContainerError) -> Reply {
    response::error(status_of(&e), e)
}

/// A query parameter's value.
fn param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn flag(query: Option<&str>, name: &str) -> bool {
    matches!(param(query, name), Some("1" | "true" | "True"))
}

/// `t=` seconds, else Docker's 10.
fn grace(query: Option<&str>) -> Duration {
    Duration::from_secs(param(query, "t").and_then(|t| t.parse().ok()).unwrap_or(10))
}

/// One container operation: `action` is the path after the id (`json`, `start`, ...; empty
/// for DELETE). None: not an endpoint of this module.
pub fn handle(
    paths: &Paths,
    method: &hyper::Method,
    key: &str,
    action: &str,
    query: Option<&str>,
) -> Option<Reply> {
    use hyper::Method;
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
            let name = param(query, "signal").unwrap_or("SIGKILL");
            match crate::process::parse_signal(name) {
                Some(signal) => done(container::kill_container(paths, &config, signal)),
                None => response::error(StatusCode::BAD_REQUEST, format!("Invalid signal: {name}")),
            }
        }
        (&Method::POST, "pause") => done(container::set_paused(paths, &config, true)),
        (&Method::POST, "unpause") => done(container::set_paused(paths, &config, false)),
        (&Method::POST, "wait") => match container::wait_exit(paths, &config, None) {
            Ok(code) => response::json(
                StatusCode::OK,
                &json!({"StatusCode": code.unwrap_or(0), "Error": null}),
            ),
            Err(e) => error(e),
        },
        (&Method::DELETE, "") => done(container::remove_container(
            paths,
            &config,
            flag(query, "force"),
            flag(query, "v"),
        )),
        _ => return None,
    })
}
