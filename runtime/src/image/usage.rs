//! Which container uses an image. An image a container was made from is never deleted: its
//! layers are the container's lowerdirs. `rmi` and `prune` (CLI and Engine API alike) ask
//! [`container_using`] through the closure [`ImageStore::remove`](super::ImageStore::remove)
//! takes.

use serde_json::Value;

use crate::container::ContainerConfig;
use crate::Paths;

/// A container using an image, as Docker's conflict messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// The container's full id.
    pub container: String,
    /// Whether it runs (Docker says "running container" or "stopped container").
    pub running: bool,
}

/// A container of this instance made from image `image_id` (a running one first).
///
/// Each `containers/*/config.json` is read only for its `image_id` and `id`, so a container
/// whose config this ebrun cannot read whole (an older format, a create killed half-way)
/// still keeps its image.
pub fn container_using(paths: &Paths, image_id: &str) -> Option<ImageUser> {
    let entries = std::fs::read_dir(paths.containers_dir()).ok()?;
    let mut stopped = None;
    for entry in entries.flatten() {
        let Ok(bytes) = std::fs::read(entry.path().join("config.json")) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if doc.get("image_id").and_then(Value::as_str) != Some(image_id) {
            continue;
        }
        let container = doc
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| entry.file_name().to_string_lossy().into_owned());
        let running = serde_json::from_value::<ContainerConfig>(doc)
            .ok()
            .is_some_and(|c| crate::container::running(paths, &c).unwrap_or(false));
        if running {
            return Some(ImageUser { container, running });
        }
        stopped.get_or_insert(ImageUser { container, running });
    }
    stopped
}
