//! `GET /images/json`: Docker's image summaries.

use chrono::DateTime;
use serde_json::{json, Value};

use hyper::{Method, StatusCode};

use super::response::{self, Reply};
use super::router::Call;
use crate::Paths;

/// Every `/images` endpoint; None: not one of them.
pub fn handle(call: &Call) -> Option<Reply> {
    let segments = call.segments("/images/");
    Some(match (&call.method, segments.as_slice()) {
        (&Method::GET, ["json"]) => match list(&call.paths) {
            Ok(list) => response::json(StatusCode::OK, &list),
            Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        (&Method::POST, ["create"]) => super::image_pull::create(call),
        _ => return None,
    })
}

/// Every image of the store.
pub fn list(paths: &Paths) -> Result<Value, crate::image::ImageError> {
    let store = crate::image::ImageStore::open(paths)?;
    let images = store.list()?;
    Ok(Value::Array(
        images
            .iter()
            .map(|i| {
                let created = i
                    .created
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                json!({
                    "Id": i.id,
                    "ParentId": "",
                    "RepoTags": i.repo_tags,
                    "RepoDigests": i.repo_digests,
                    "Created": created,
                    "Size": i.size,
                    "SharedSize": -1,
                    "VirtualSize": i.size,
                    "Labels": {},
                    "Containers": -1,
                })
            })
            .collect(),
    ))
}
