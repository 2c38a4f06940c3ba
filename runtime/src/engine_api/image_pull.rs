//! `POST /images/create?fromImage=&tag=&platform=`: a pull, with the JSON progress stream
//! `docker pull` renders, credentials from the client's `X-Registry-Auth`. An error before
//! any progress is an HTTP error (404 for an image the registry does not have), as dockerd
//! answers; a later one ends the stream with Docker's `errorDetail` message.

use std::sync::mpsc;
use std::sync::Arc;

use base64::Engine as _;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::response::{self, Reply};
use super::router::Call;
use crate::image::pull::{self, Credentials, Output, PullError};

/// `X-Registry-Auth`: base64url JSON with `username` and `password` (`e30=`, `{}`, is none).
pub(super) fn credentials(call: &Call) -> Result<Option<Credentials>, Reply> {
    let Some(header) = call.headers.get("X-Registry-Auth") else {
        return Ok(None);
    };
    let text = header.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || response::error(StatusCode::BAD_REQUEST, "invalid X-Registry-Auth header");
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(text.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
        })
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let field = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials { username, password }))
}

/// `NAME` and `TAG` (or a digest) as one reference.
fn reference(image: &str, tag: &str) -> String {
    match tag {
        "" => image.to_string(),
        t if t.contains(':') => format!("{image}@{t}"),
        t => format!("{image}:{t}"),
    }
}

fn status_of(e: &PullError) -> StatusCode {
    match e {
        PullError::Manifest { .. } | PullError::NoPlatform(_) => StatusCode::NOT_FOUND,
        PullError::Status { status: 404, .. } => StatusCode::NOT_FOUND,
        PullError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        PullError::Store(crate::image::ImageError::InvalidReference { .. }) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// One message of the stream, or the pull's end.
enum Event {
    Progress(Value),
    Done(Result<String, PullError>),
}

pub fn create(call: &Call) -> Reply {
    let q = &call.query;
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        return import(call, src);
    }
    let Some(image) = q.get("fromImage").filter(|i| !i.is_empty()) else {
        return response::error(
            StatusCode::BAD_REQUEST,
            "give fromImage to pull or fromSrc to import",
        );
    };
    let reference = reference(image, q.get("tag").unwrap_or(""));
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => match crate::image::Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
        },
        None => None,
    };
    let creds = match credentials(call) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let (tx, rx) = mpsc::sync_channel::<Event>(64);
    let progress_tx = tx.clone();
    let sink: pull::progress::JsonSink = Arc::new(move |v| {
        let _ = progress_tx.send(Event::Progress(v));
    });
    let paths = call.paths.clone();
    std::thread::spawn(move || {
        let result = pull::pull_as(
            &paths,
            &reference,
            Output::Json(sink),
            platform.as_ref(),
            creds,
        )
        .map(|p| p.full_name);
        let _ = tx.send(Event::Done(result));
    });
    let first = match rx.recv() {
        Ok(Event::Done(Err(e))) => return response::error(status_of(&e), e),
        Ok(first) => first,
        Err(_) => {
            return response::error(StatusCode::INTERNAL_SERVER_ERROR, "the pull ended early")
        }
    };
    response::streamed("application/json", move |out| {
        let mut next = Some(first);
        while let Some(event) = next.take().or_else(|| rx.recv().ok()) {
            let message = match event {
                Event::Progress(v) => v,
                Event::Done(Ok(_)) => return,
                Event::Done(Err(e)) => {
                    json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()})
                }
            };
            if !out.send_json(&message) {
                return;
            }
        }
    })
}

/// `POST /images/create?fromSrc=-` (`docker import`): the body is a root filesystem tarball.
fn import(call: &Call, src: &str) -> Reply {
    let q = &call.query;
    if src != "-" {
        return response::error(
            StatusCode::BAD_REQUEST,
            "importing from a URL is not supported: send the tarball as the request body (fromSrc=-)",
        );
    }
    let name = match q.get("repo").filter(|r| !r.is_empty()) {
        Some(repo) => match crate::image::Reference::parse_with_default_tag(&reference(
            repo,
            q.get("tag").unwrap_or(""),
        )) {
            Ok(r) => Some(r),
            Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
        },
        None => None,
    };
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => match crate::image::Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
        },
        None => None,
    };
    let changes: Vec<String> = q.all("changes").map(str::to_string).collect();
    let config = match crate::build::apply_changes(serde_json::json!({}), &changes) {
        Ok(c) => c,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
    };
    let Some(body) = call.take_body_stream() else {
        return response::error(StatusCode::BAD_REQUEST, "no tarball in the request body");
    };
    let import = crate::image::import_rootfs::RootfsImport {
        source: "-".into(),
        config,
        message: q
            .get("message")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        platform,
        name,
    };
    let paths = call.paths.clone();
    response::streamed("application/json", move |out| {
        let made =
            crate::image::ImageStore::open(&paths).and_then(|s| s.import_rootfs(body, import));
        match made {
            Ok(image) => {
                out.send_json(&serde_json::json!({ "status": image.id }));
            }
            Err(e) => {
                let message = e.to_string();
                out.send_json(
                    &serde_json::json!({"errorDetail": {"message": message}, "error": message}),
                );
            }
        }
    })
}
