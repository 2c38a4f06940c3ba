//! `docker history`: an image's build steps from its config's `history`, newest first, each
//! with the size of the layer it made (moby `daemon/images/image_history.go`). The newest
//! step carries the image id and tags, the steps below it the ids of its parents (the images
//! a local `build` or `commit` made it from) as far as the store has them; older ones are
//! `<missing>`, as Docker shows them.

use chrono::{DateTime, Utc};

use super::{ImageRecord, ImageStore};

/// Docker's id of a step whose image is not in the store.
pub const MISSING: &str = "<missing>";

/// One row of `docker history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The image id (newest step) or [`MISSING`].
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub created_by: String,
    /// The image's tags (newest step only).
    pub tags: Vec<String>,
    /// Bytes of the layer the step made (0 for steps that made none).
    pub size: u64,
    pub comment: String,
}

/// The history of `image`, newest step first.
pub fn history(image: &ImageRecord, store: &ImageStore) -> Vec<HistoryItem> {
    let mut layers = image.layer_sizes.iter();
    let mut items: Vec<HistoryItem> = image
        .config
        .history()
        .iter()
        .flatten()
        .map(|h| HistoryItem {
            id: MISSING.to_string(),
            created: h
                .created()
                .as_deref()
                .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                .map(|t| t.with_timezone(&Utc)),
            created_by: h.created_by().clone().unwrap_or_default(),
            tags: Vec::new(),
            size: if h.empty_layer().unwrap_or(false) {
                0
            } else {
                layers.next().copied().unwrap_or(0)
            },
            comment: h.comment().clone().unwrap_or_default(),
        })
        .collect();
    items.reverse();
    let mut step = Some(image.clone());
    for item in items.iter_mut() {
        let Some(img) = step.take() else { break };
        item.id = img.id.clone();
        item.tags = img.repo_tags.clone();
        step = img.parent.as_deref().and_then(|p| store.resolve(p).ok());
    }
    items
}
