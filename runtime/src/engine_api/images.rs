//! `GET /images/json`: Docker's image summaries.

use chrono::DateTime;
use serde_json::{json, Value};

use crate::Paths;

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
