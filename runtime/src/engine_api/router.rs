//! The router: `/vX.Y/` prefixes checked against the versions served, the body read (up
//! to a limit), then each endpoint's module; blocking store work runs off the async
//! runtime, hijacked connections (attach, exec) on it.

use std::convert::Infallible;

use hyper::body::{Bytes, Incoming};
use hyper::{HeaderMap, Method, Request, StatusCode};

use super::request::{self, Query};
use super::response::{self, Reply};
use crate::Paths;

/// One request, as the endpoint modules see it.
pub struct Call {
    pub paths: Paths,
    pub method: Method,
    /// The endpoint, without the `/vX.Y` prefix: `/containers/abc/json`.
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    /// The body, read whole (JSON bodies, up to [`request::MAX_JSON_BODY`]); empty for
    /// the streamed ones.
    pub body: Bytes,
    /// The body as it arrives, for the endpoints that take a stream ([`streams_body`]).
    pub body_stream: std::sync::Mutex<Option<super::body_reader::BodyReader>>,
    /// The API version the client asked for (the newest when it named none).
    pub version: (u32, u32),
}

impl Call {
    /// The path's segments after `prefix` (`/containers/`): `["abc", "json"]`.
    pub fn segments(&self, prefix: &str) -> Vec<&str> {
        self.path
            .strip_prefix(prefix)
            .map(|rest| rest.split('/').collect())
            .unwrap_or_default()
    }
}

/// `1.47` as (1, 47).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn newest() -> (u32, u32) {
    parse_version(super::API_VERSION).expect("a version")
}

/// The version and endpoint of `/v1.47/containers/json`; an unsupported version is refused
/// with Docker's message (a 400).
fn route(path: &str) -> Result<((u32, u32), &str), String> {
    let unversioned = Ok((newest(), path));
    let Some(rest) = path.strip_prefix("/v") else {
        return unversioned;
    };
    let Some((version, endpoint)) = rest.split_once('/') else {
        return unversioned;
    };
    let Some(asked) = parse_version(version) else {
        return unversioned;
    };
    let min = parse_version(super::MIN_API_VERSION).expect("a version");
    if asked < min {
        return Err(format!(
            "client version {version} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            super::MIN_API_VERSION
        ));
    }
    if asked > newest() {
        return Err(format!(
            "client version {version} is too new. Maximum supported API version is {}",
            super::API_VERSION
        ));
    }
    Ok((asked, &path[path.len() - endpoint.len() - 1..]))
}

/// Runs `work` (blocking store I/O) off the async runtime.
async fn blocking(work: impl FnOnce() -> Reply + Send + 'static) -> Reply {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("handler failed: {e}"),
        )
    })
}

fn not_found() -> Reply {
    response::error(StatusCode::NOT_FOUND, "page not found")
}

/// Endpoints whose body is a stream (a tar of any size), read as it arrives.
fn streams_body(method: &Method, path: &str) -> bool {
    (method == Method::POST
        && (path == "/images/load" || path == "/build" || path == "/images/create"))
        || (method == Method::PUT && path.starts_with("/containers/") && path.ends_with("/archive"))
}

impl Call {
    /// The streamed body (once).
    pub fn take_body_stream(&self) -> Option<super::body_reader::BodyReader> {
        self.body_stream.lock().ok()?.take()
    }
}

/// Hijacked endpoints: the connection becomes the container's (or exec's) stdio.
fn hijacked(method: &Method, path: &str) -> bool {
    method == Method::POST
        && ((path.starts_with("/containers/") && path.ends_with("/attach"))
            || (path.starts_with("/exec/") && path.ends_with("/start")))
}

pub async fn handle(mut req: Request<Incoming>, paths: Paths) -> Result<Reply, Infallible> {
    let (version, endpoint) = match route(req.uri().path()) {
        Ok((v, e)) => (v, e.to_string()),
        Err(message) => return Ok(response::error(StatusCode::BAD_REQUEST, message)),
    };
    let method = req.method().clone();
    let upgrade = hijacked(&method, &endpoint).then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let (body, body_stream) = if streams_body(&method, &endpoint) {
        (
            Bytes::new(),
            Some(super::body_reader::BodyReader::spawn(body)),
        )
    } else {
        match request::read_body(body, request::MAX_JSON_BODY).await {
            Ok(b) => (b, None),
            Err(reply) => return Ok(reply),
        }
    };
    let call = Call {
        paths,
        method,
        path: endpoint,
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body,
        body_stream: std::sync::Mutex::new(body_stream),
        version,
    };
    let (method, path) = (call.method.clone(), call.path.clone());
    let reply = match upgrade {
        Some(upgrade) => super::hijack::handle(call, upgrade).await,
        None => blocking(move || dispatch(&call).unwrap_or_else(not_found)).await,
    };
    tracing::debug!(%method, %path, status = reply.status().as_u16(), "API request");
    Ok(reply)
}

/// The endpoint modules, by path.
fn dispatch(call: &Call) -> Option<Reply> {
    let path = call.path.as_str();
    match (&call.method, path) {
        (&Method::GET | &Method::HEAD, "/_ping") => Some(response::text(StatusCode::OK, "OK")),
        (&Method::GET, "/version") => {
            Some(response::json(StatusCode::OK, &super::system::version()))
        }
        (&Method::GET, "/info") => Some(response::json(
            StatusCode::OK,
            &super::system::info(&call.paths),
        )),
        (&Method::GET, "/events") => Some(super::events::events(call)),
        (&Method::POST, "/auth") => Some(super::image_push::auth(call)),
        (&Method::POST, "/build") => Some(super::build::build(call)),
        (&Method::POST, "/commit") => Some(super::build::commit(call)),
        (&Method::GET, "/system/df") => Some(response::json(
            StatusCode::OK,
            &super::system::df(&call.paths),
        )),
        _ if path.starts_with("/containers/") || path == "/containers" => {
            super::containers::handle(call)
        }
        _ if path.starts_with("/exec/") => super::exec::handle(call),
        _ if path.starts_with("/images/") => super::images::handle(call),
        _ if path.starts_with("/networks") => super::networks::handle(call),
        _ if path.starts_with("/volumes") => super::volumes::handle(call),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked_in_the_prefix() {
        assert_eq!(
            route("/v1.47/containers/json").ok(),
            Some(((1, 47), "/containers/json"))
        );
        assert_eq!(route("/_ping").ok().map(|r| r.1), Some("/_ping"));
        assert!(route("/v1.12/info").is_err());
        assert!(route("/v9.0/info").is_err());
    }
}
