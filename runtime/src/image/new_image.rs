//! Images made on this host (`build`, `commit`, `import`): a config document written here and
//! at most one new layer packed from a container's changes. They enter the store through the
//! same staging as imported images (the layer is unpacked and verified against its digests,
//! then renamed into place), so a made image is indistinguishable from a pulled one.
//!
//! New layers are packed under `building/<pid>-*` inside the store (so the import links the
//! blob instead of copying it); directories of processes that are gone are swept.

use std::io::Read;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use super::digest::Digest;
use super::import::source::Source;
use super::import::{PendingImage, PendingLayer};
use super::layer_pack::PackedLayer;
use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};

const BUILDING_DIR: &str = "building";
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An image to add to the store.
#[derive(Debug)]
pub struct NewImage {
    /// The whole config document; its `rootfs.diff_ids` name the image's layers, each either
    /// in the store already or `layer`.
    pub config: serde_json::Value,
    /// The new top layer, if the step changed files.
    pub layer: Option<PackedLayer>,
    /// The image it was made from.
    pub parent: Option<String>,
    /// The build step that made it (see [`ImageRecord::build_key`]).
    pub build_key: Option<String>,
    /// Names to point at it.
    pub names: Vec<Reference>,
}

/// A scratch directory for packing layers, removed when dropped.
pub struct BuildScratch {
    dir: tempfile::TempDir,
}

impl BuildScratch {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl ImageStore {
    /// A scratch directory inside the store for new layers (sweeping those of dead builds).
    pub fn build_scratch(&self) -> Result<BuildScratch, ImageError> {
        let base = self.dir().join(BUILDING_DIR);
        std::fs::create_dir_all(&base).map_err(ImageError::io_fn("create", &base))?;
        sweep_dead(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(ImageError::io_fn("create temp dir in", &base))?;
        Ok(BuildScratch { dir })
    }

    /// Adds `image`: stages and verifies its new layer, records it and points its names at it.
    pub fn add_image(&self, image: NewImage) -> Result<ImageRecord, ImageError> {
        let config_bytes = serde_json::to_vec(&image.config)
            .map_err(|e| ImageError::malformed("new image", format!("config: {e}")))?;
        let config = super::import::parse_config(&config_bytes, "new image")?;
        let config_digest = Digest::sha256_of(&config_bytes);
        let what = |d: &str| format!("layer {}", &d[d.len().saturating_sub(64)..][..12]);
        let layers = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|diff_id| {
                let new = image
                    .layer
                    .as_ref()
                    .filter(|l| &l.diff_id.to_string() == diff_id);
                match new {
                    Some(l) => PendingLayer {
                        path: l.blob.display().to_string(),
                        blob_digest: Some(l.blob_digest.clone()),
                        blob_size: Some(l.blob_size),
                        media_type: Some(GZIP_LAYER.to_string()),
                        diff_id: diff_id.clone(),
                        what: what(diff_id),
                    },
                    None => PendingLayer {
                        path: String::new(),
                        blob_digest: None,
                        blob_size: None,
                        media_type: None,
                        diff_id: diff_id.clone(),
                        what: what(diff_id),
                    },
                }
            })
            .collect();
        let pending = PendingImage {
            config_digest,
            config_bytes,
            config,
            manifest: None,
            layers,
            names: image.names.clone(),
        };
        let _lock = self.lock()?;
        for layer in &pending.layers {
            let is_new = image
                .layer
                .as_ref()
                .is_some_and(|l| l.diff_id.to_string() == layer.diff_id);
            if !is_new && self.layer_meta(&layer.diff_id).is_none() {
                return Err(ImageError::malformed(
                    "new image",
                    format!("{} is neither in the store nor new", layer.what),
                ));
            }
        }
        let src = PackedSource {
            layer: image.layer.as_ref().map(|l| l.blob.clone()),
        };
        let mut notices = Vec::new();
        let mut record = self.import_one(&src, pending, &image.names, false, &mut notices)?;
        for n in notices {
            debug!("{n}");
        }
        if image.parent.is_some() || image.build_key.is_some() {
            record.parent = image.parent;
            record.build_key = image.build_key;
            self.write_record(&record)?;
        }
        Ok(record)
    }

    /// The image a build step already made from `parent` (`None`: from scratch), if any.
    pub fn cached_step(
        &self,
        parent: Option<&str>,
        build_key: &str,
    ) -> Result<Option<ImageRecord>, ImageError> {
        let repos = self.read_repositories()?;
        let mut found: Option<ImageRecord> = None;
        for mut record in self.records()? {
            if record.parent.as_deref() == parent && record.build_key.as_deref() == Some(build_key)
            {
                repos.attach(&mut record);
                // The newest one wins when several match (as Docker's cache picks).
                if found
                    .as_ref()
                    .is_none_or(|f| f.loaded_at < record.loaded_at)
                {
                    found = Some(record);
                }
            }
        }
        Ok(found)
    }
}

/// Where [`ImageStore::add_image`] reads its one new layer blob from.
struct PackedSource {
    layer: Option<PathBuf>,
}

impl Source for PackedSource {
    fn name(&self) -> &str {
        "new image"
    }

    fn exists(&self, path: &str) -> bool {
        self.layer.as_ref().is_some_and(|l| l.as_os_str() == path)
    }

    fn open(&self, path: &str) -> Result<(Box<dyn Read + '_>, u64), ImageError> {
        if !self.exists(path) {
            return Err(ImageError::malformed(
                "new image",
                format!("no layer {path}"),
            ));
        }
        let file = std::fs::File::open(path).map_err(ImageError::io_fn("open", Path::new(path)))?;
        let len = file
            .metadata()
            .map_err(ImageError::io_fn("stat", Path::new(path)))?
            .len();
        Ok((Box::new(file), len))
    }

    fn local_file(&self, path: &str) -> Option<PathBuf> {
        self.exists(path).then(|| PathBuf::from(path))
    }
}

/// Removes the scratch directories of builds whose process is gone.
fn sweep_dead(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let pid: Option<i32> = name.split('-').next().and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| Path::new("/proc").join(p.to_string()).exists());
        if !alive {
            debug!("removing stale {}", entry.path().display());
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                warn!("cannot remove stale {}: {e}", entry.path().display());
            }
        }
    }
}
