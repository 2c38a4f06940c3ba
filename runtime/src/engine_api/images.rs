//! `/images` endpoints as dockerd serves them, through the library calls the `ebrun image`
//! commands make: list (`GET /images/json`), inspect, history, tag, remove and prune here;
//! pull in [`super::image_pull`]; save and load in [`super::image_archive`]; push and
//! `POST /auth` in [`super::image_push`].
//!
//! Image names hold slashes and colons (`127.0.0.1:5000/team/bb:latest`): the name is all
//! of the path between `/images/` and the endpoint's last segment (`/json`, `/history`,
//! `/tag`, `/push`, `/get`), or the whole rest for `DELETE`.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::response::{self, Reply};
use super::router::Call;
use crate::image::filter::{ListFilter, PruneFilter};
use crate::image::history::history;
use crate::image::usage::container_using;
use crate::image::{inspect, ImageError, ImageRecord, ImageStore};

/// Docker's status for an image library error.
pub(super) fn status_of(e: &ImageError) -> StatusCode {
    match e {
        ImageError::NotFound { .. } => StatusCode::NOT_FOUND,
        ImageError::Conflict { .. } => StatusCode::CONFLICT,
        ImageError::InvalidReference { .. }
        | ImageError::InvalidArgument { .. }
        | ImageError::InvalidPlatform { .. }
        | ImageError::AmbiguousId { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Docker's error answer for an image library error (`No such image: X` for a missing one).
pub(super) fn error(e: ImageError) -> Reply {
    let e = e.no_such();
    response::error(status_of(&e), e)
}

fn open(call: &Call) -> Result<ImageStore, Reply> {
    ImageStore::open(&call.paths).map_err(error)
}

/// `%2F` and friends in a path segment (clients may escape a name's slashes and colons).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every `/images` endpoint; None: not one of them.
pub fn handle(call: &Call) -> Option<Reply> {
    let rest = call.path.strip_prefix("/images/")?;
    let method = &call.method;
    // Endpoints without a name first: `json`, `get`, `load`, ... are not image names there.
    let fixed = match (method, rest) {
        (&Method::GET, "json") => Some(list(call)),
        (&Method::GET, "get") => Some(super::image_archive::save(call, None)),
        (&Method::GET, "search") => Some(response::error(
            StatusCode::NOT_IMPLEMENTED,
            "searching registries is not supported by ebrun",
        )),
        (&Method::POST, "create") => Some(super::image_pull::create(call)),
        (&Method::POST, "load") => Some(super::image_archive::load(call)),
        (&Method::POST, "prune") => Some(prune(call)),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if method == Method::DELETE {
        return (!rest.is_empty()).then(|| delete(call, &unescape(rest)));
    }
    let (name, endpoint) = rest.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    let name = unescape(name);
    Some(match (method, endpoint) {
        (&Method::GET, "json") => inspect_image(call, &name),
        (&Method::GET, "history") => image_history(call, &name),
        (&Method::GET, "get") => super::image_archive::save(call, Some(&name)),
        (&Method::POST, "tag") => tag(call, &name),
        (&Method::POST, "push") => super::image_push::push(call, &name),
        _ => return None,
    })
}

/// Unix seconds of an image's creation (0 when unknown).
fn created_unix(image: &ImageRecord) -> i64 {
    image.created_at().map(|t| t.timestamp()).unwrap_or(0)
}

/// `GET /images/json?all=&filters=&digests=&shared-size=`: Docker's image summaries, newest
/// first.
fn list(call: &Call) -> Reply {
    let store = match open(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let mut args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    // Before 1.41, `filter` was a reference pattern.
    if call.version < (1, 41) {
        if let Some(pattern) = call.query.get("filter").filter(|p| !p.is_empty()) {
            args.add("reference", pattern);
        }
    }
    let images = match ListFilter::new(&store, args).and_then(|f| Ok(f.apply(store.list()?))) {
        Ok(images) if call.query.flag("all") => images,
        Ok(images) => crate::image::filter::top_level(images),
        Err(e) => return error(e),
    };
    let summaries: Vec<Value> = images
        .iter()
        .map(|image| summary(image, call.version))
        .collect();
    response::json(StatusCode::OK, &Value::Array(summaries))
}

/// One `ImageSummary`, in the shape of the client's API version.
fn summary(image: &ImageRecord, version: (u32, u32)) -> Value {
    let labels = crate::image::filter::labels_of(image);
    let (mut tags, mut digests) = (image.repo_tags.clone(), image.repo_digests.clone());
    if version < (1, 43) && tags.is_empty() && digests.is_empty() {
        tags.push("<none>:<none>".into());
        digests.push("<none>@<none>".into());
    }
    let mut v = json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": created_unix(image),
        "Size": image.size,
        "SharedSize": -1,
        "Labels": if labels.is_empty() { Value::Null } else { json!(labels) },
        "Containers": -1,
    });
    if version < (1, 44) {
        v["VirtualSize"] = json!(image.size);
    }
    v
}

/// `GET /images/{name}/json`: `docker image inspect`'s document, the one `ebrun image
/// inspect` prints.
fn inspect_image(call: &Call, name: &str) -> Reply {
    let store = match open(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let image = match store.resolve(name) {
        Ok(i) => i,
        Err(e) => return error(e),
    };
    let mut v = match serde_json::to_value(inspect::inspect(&store, &image)) {
        Ok(v) => v,
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if call.version < (1, 44) {
        v["VirtualSize"] = json!(image.size);
    }
    if call.version < (1, 45) {
        v["Container"] = json!("");
        v["ContainerConfig"] = v["Config"].clone();
    }
    response::json(StatusCode::OK, &v)
}

/// `GET /images/{name}/history`: the build steps, newest first.
fn image_history(call: &Call, name: &str) -> Reply {
    let store = match open(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let image = match store.resolve(name) {
        Ok(i) => i,
        Err(e) => return error(e),
    };
    let rows: Vec<Value> = history(&image, &store)
        .into_iter()
        .map(|h| {
            json!({
                "Id": h.id,
                "Created": h.created.map(|t| t.timestamp()).unwrap_or(0),
                "CreatedBy": h.created_by,
                "Tags": if h.tags.is_empty() { Value::Null } else { json!(h.tags) },
                "Size": h.size,
                "Comment": h.comment,
            })
        })
        .collect();
    response::json(StatusCode::OK, &Value::Array(rows))
}

/// `POST /images/{name}/tag?repo=&tag=`: 201 with no body.
fn tag(call: &Call, name: &str) -> Reply {
    let repo = call.query.get("repo").unwrap_or("");
    if repo.is_empty() {
        return response::error(StatusCode::BAD_REQUEST, "repository name is required");
    }
    let target = match crate::image::repo_tag(repo, call.query.get("tag").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    match open(call).and_then(|s| s.tag(name, &target).map_err(error)) {
        Ok(_) => response::empty(StatusCode::CREATED),
        Err(reply) => reply,
    }
}

/// `DELETE /images/{name}?force=&noprune=`: `[{"Untagged": ...}, {"Deleted": ...}]`.
fn delete(call: &Call, name: &str) -> Reply {
    let store = match open(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let in_use = |id: &str| container_using(&call.paths, id);
    match store.remove(name, call.query.flag("force"), &in_use) {
        Ok(deleted) => response::json(StatusCode::OK, &json!(deleted)),
        Err(e) => error(e),
    }
}

/// `POST /images/prune?filters=`: `{"ImagesDeleted": [...] (null when none),
/// "SpaceReclaimed": N}`.
fn prune(call: &Call) -> Reply {
    let args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let store = match open(call) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let in_use = |id: &str| container_using(&call.paths, id);
    match PruneFilter::new(args).and_then(|f| store.prune(&f, &in_use)) {
        Ok(report) => response::json(
            StatusCode::OK,
            &json!({
                "ImagesDeleted": if report.deleted.is_empty() { Value::Null } else { json!(report.deleted) },
                "SpaceReclaimed": report.reclaimed,
            }),
        ),
        Err(e) => error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_names() {
        assert_eq!(
            unescape("127.0.0.1%3A5000%2Fteam%2Fbb"),
            "127.0.0.1:5000/team/bb"
        );
        assert_eq!(unescape("busybox:latest"), "busybox:latest");
        assert_eq!(unescape("bad%2"), "bad%2");
        assert_eq!(unescape("%"), "%");
    }
}
