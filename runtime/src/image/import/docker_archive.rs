//! Reading a `docker save` archive: `manifest.json` at the top lists, per image, the config
//! file, the `RepoTags` and the layer tars, either legacy (`<id>.json`, `<id>/layer.tar`) or
//! Docker 25+'s OCI-inside form (`blobs/sha256/<hex>`). A file named by its digest is checked
//! against it; every layer is checked against the config's diff ids.

use serde::Deserialize;
use tracing::warn;

use super::source::Source;
use super::{parse_config, PendingImage, PendingLayer};
use crate::image::digest::{is_lower_hex, Digest};
use crate::image::reference::Reference;
use crate::image::ImageError;

/// The file that marks a `docker save` archive.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// The images of the `docker save` archive in `src`.
pub(crate) fn read(src: &dyn Source) -> Result<Vec<PendingImage>, ImageError> {
    let what = format!("{}: {MANIFEST_FILE}", src.name());
    let bytes = src.read_all(MANIFEST_FILE, MANIFEST_FILE)?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::malformed(&what, e))?;
    if items.is_empty() {
        return Err(ImageError::malformed(&what, "lists no images"));
    }
    let mut images: Vec<PendingImage> = Vec::new();
    for item in items {
        let config_what = format!("{}: config {}", src.name(), item.config);
        let config_bytes = src.read_all(&item.config, "image config")?;
        let config_digest = Digest::sha256_of(&config_bytes);
        if let Some(expected) = digest_from_path(&item.config) {
            let actual = Digest::of(expected.algorithm(), &config_bytes);
            if actual != expected {
                return Err(ImageError::DigestMismatch {
                    what: config_what,
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let config = parse_config(&config_bytes, &config_what)?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != item.layers.len() {
            return Err(ImageError::malformed(
                &what,
                format!(
                    "image {} has {} layers but its config lists {} diff ids",
                    item.config,
                    item.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let layers = item
            .layers
            .iter()
            .zip(diff_ids)
            .enumerate()
            .map(|(i, (path, diff_id))| PendingLayer {
                path: path.clone(),
                blob_digest: digest_from_path(path),
                blob_size: None,
                media_type: None,
                diff_id: diff_id.clone(),
                what: format!(
                    "{}: layer {}/{} ({path})",
                    src.name(),
                    i + 1,
                    diff_ids.len()
                ),
            })
            .collect();
        let names = item
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| match Reference::parse_with_default_tag(t) {
                Ok(r) => Some(r),
                Err(e) => {
                    warn!("ignoring RepoTag {t:?}: {e}");
                    None
                }
            })
            .collect();
        let image = PendingImage {
            config_digest,
            config_bytes,
            config,
            manifest: None,
            layers,
            names,
        };
        match images
            .iter_mut()
            .find(|i| i.config_digest == image.config_digest)
        {
            Some(existing) => existing.names.extend(image.names),
            None => images.push(image),
        }
    }
    Ok(images)
}

/// The digest a file's name claims: `blobs/<alg>/<hex>` or legacy `<hex>.json`.
fn digest_from_path(path: &str) -> Option<Digest> {
    let path = super::source::normalize(path)?;
    if let Some(rest) = path.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    let hex = path.strip_suffix(".json")?;
    (hex.len() == 64 && is_lower_hex(hex)).then(|| Digest::parse(&format!("sha256:{hex}")).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_from_paths() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_from_path(&format!("blobs/sha256/{hex}"))
                .unwrap()
                .hex(),
            hex
        );
        assert_eq!(digest_from_path(&format!("{hex}.json")).unwrap().hex(), hex);
        assert!(digest_from_path("abc/layer.tar").is_none());
        assert!(digest_from_path("config.json").is_none());
    }
}
