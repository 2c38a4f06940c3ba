//! The store on disk, lookups and garbage collection.
//!
//! ```text
//! <root>/image/
//!   lock                    flock held by every mutation (import, rmi)
//!   repositories.json       names -> ids, Docker's layout: {"Repositories": {"busybox":
//!                           {"busybox:latest": "sha256:..", "busybox@sha256:..": "sha256:.."}}}
//!   images/<hex>.json       one ImageRecord per image (hex = sha256 of the config blob)
//!   blobs/sha256/<hex>      config and manifest blobs, byte for byte
//!   layers/<hex>/diff/      an unpacked layer (hex = its diff id): an overlayfs lowerdir
//!   layers/<hex>/layer.json {diff_id, size, blob_digest, compression, tar_size, ...}
//!   layers/<hex>/blob       the layer blob as imported or pulled (gzip, zstd or plain tar),
//!                           byte for byte: decompressed, it is the diff id's tar (`save`)
//!   layers/.tmp-*           layers being unpacked (renamed into place once verified)
//!   tmp/                    scratch (decompressed archives)
//! ```
//! Every file is written atomically; every mutation holds the lock; readers take no lock
//! (they see the state before or after any mutation). Stale temporary entries left by a
//! killed import are swept by the next mutation.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::digest::is_lower_hex;
use super::reference::Reference;
use super::{ImageError, ImageRecord};
use crate::state::{self, StateLock};
use crate::Paths;

pub(crate) const LOCK_FILE: &str = "lock";
pub(crate) const REPOSITORIES_FILE: &str = "repositories.json";
pub(crate) const IMAGES_DIR: &str = "images";
pub(crate) const LAYERS_DIR: &str = "layers";
pub(crate) const BLOBS_DIR: &str = "blobs/sha256";
pub(crate) const TMP_DIR: &str = "tmp";
/// Prefix of in-progress (and being-deleted) entries under `layers/`.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";
/// The unpacked content inside a layer directory.
pub(crate) const LAYER_DIFF: &str = "diff";
pub(crate) const LAYER_META: &str = "layer.json";
/// The original layer blob inside a layer directory.
pub(crate) const LAYER_BLOB: &str = "blob";

/// The image store of one ebrun instance.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
    /// The instance whose events journal hears of tags, deletions, loads and imports (none
    /// for a store opened by directory alone).
    events: Option<Paths>,
}

/// `repositories.json`: familiar repository name -> familiar reference -> image id.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Repositories {
    #[serde(rename = "Repositories", default)]
    pub repositories: BTreeMap<String, BTreeMap<String, String>>,
}

impl Repositories {
    /// The image a reference points at.
    pub fn get(&self, r: &Reference) -> Option<&String> {
        self.repositories
            .get(&r.familiar_name())?
            .get(&r.familiar())
    }

    /// Points `r` at `id`; returns the id it pointed at before, if different.
    pub fn set(&mut self, r: &Reference, id: &str) -> Option<String> {
        let old = self
            .repositories
            .entry(r.familiar_name())
            .or_default()
            .insert(r.familiar(), id.to_string());
        old.filter(|o| o != id)
    }

    /// Removes `r`; returns whether it existed.
    pub fn remove(&mut self, r: &Reference) -> bool {
        let name = r.familiar_name();
        let Some(repo) = self.repositories.get_mut(&name) else {
            return false;
        };
        let removed = repo.remove(&r.familiar()).is_some();
        if repo.is_empty() {
            self.repositories.remove(&name);
        }
        removed
    }

    /// Every reference pointing at `id`, sorted.
    pub fn refs_of(&self, id: &str) -> Vec<Reference> {
        let mut refs: Vec<Reference> = self
            .repositories
            .values()
            .flat_map(|repo| repo.iter())
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect();
        refs.sort_by_key(|r| r.familiar());
        refs
    }

    /// Fills `record.repo_tags` / `repo_digests` from the references pointing at it.
    pub fn attach(&self, record: &mut ImageRecord) {
        record.repo_tags.clear();
        record.repo_digests.clear();
        for r in self.refs_of(&record.id) {
            if r.digest().is_some() {
                record.repo_digests.push(r.familiar());
            } else {
                record.repo_tags.push(r.familiar());
            }
        }
    }
}

/// How a reference matched an image (Docker treats the two differently in `rmi`).
#[derive(Debug, Clone)]
pub(crate) enum Matched {
    /// Through a tag or digest reference (normalized, with default tag).
    Name(Reference),
    /// Through the id or an id prefix.
    Id,
}

/// `layers/<hex>/layer.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerMeta {
    pub diff_id: String,
    pub size: u64,
    #[serde(default)]
    pub blob_digest: Option<String>,
    #[serde(default)]
    pub compression: Option<String>,
    /// Bytes of the blob kept as `layers/<hex>/blob` (absent for layers imported before
    /// ebrun kept blobs).
    #[serde(default)]
    pub blob_size: Option<u64>,
    /// Bytes of the uncompressed layer tar (what hashes to the diff id).
    #[serde(default)]
    pub tar_size: Option<u64>,
}

impl ImageStore {
    /// Opens (creating as needed) the store at `paths.images_dir()`.
    pub fn open(paths: &Paths) -> Result<ImageStore, ImageError> {
        let mut store = Self::open_dir(paths.images_dir())?;
        store.events = Some(paths.clone());
        Ok(store)
    }

    /// The same store, recording no events (a pull's import is a `pull`, not a `load`).
    pub(crate) fn without_events(&self) -> ImageStore {
        ImageStore {
            dir: self.dir.clone(),
            events: None,
        }
    }

    /// Records an image event (see [`crate::events::image`]) in the instance's journal.
    pub(crate) fn event(&self, action: &str, id: &str, name: &str) {
        if let Some(paths) = &self.events {
            crate::events::image(paths, action, id, name);
        }
    }

    /// Opens (creating as needed) a store in `dir`.
    pub fn open_dir(dir: impl Into<PathBuf>) -> Result<ImageStore, ImageError> {
        let store = ImageStore {
            dir: dir.into(),
            events: None,
        };
        for sub in [IMAGES_DIR, LAYERS_DIR, BLOBS_DIR, TMP_DIR] {
            let p = store.dir.join(sub);
            std::fs::create_dir_all(&p).map_err(ImageError::io_fn("create directory", &p))?;
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The unpacked directory of the layer with diff id `diff_id` (`sha256:<hex>` or `<hex>`).
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.layer_root(diff_id).join(LAYER_DIFF)
    }

    /// The unpacked layer directories of `image`, bottom layer first: overlayfs lowerdirs
    /// (reverse them for the `lowerdir=` option, whose first entry is the top).
    ///
    /// A layer the image applies more than once appears once, at its topmost position:
    /// overlayfs refuses a lowerdir given twice, and re-applying the same layer on top
    /// makes its earlier application invisible anyway.
    pub fn layer_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        let ids = &image.diff_ids;
        ids.iter()
            .enumerate()
            .filter(|(i, d)| !ids[i + 1..].contains(d))
            .map(|(_, d)| self.layer_dir(d))
            .collect()
    }

    pub(crate) fn layer_root(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        self.dir.join(LAYERS_DIR).join(hex)
    }

    /// The kept blob of layer `diff_id`.
    pub(crate) fn layer_blob(&self, diff_id: &str) -> PathBuf {
        self.layer_root(diff_id).join(LAYER_BLOB)
    }

    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.dir.join(LAYERS_DIR)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.dir.join(TMP_DIR)
    }

    pub(crate) fn blob_path(&self, hex: &str) -> PathBuf {
        self.dir.join(BLOBS_DIR).join(hex)
    }

    fn record_path(&self, hex: &str) -> PathBuf {
        self.dir.join(IMAGES_DIR).join(format!("{hex}.json"))
    }

    /// Takes the store's lock (blocks while another process mutates the store).
    pub(crate) fn lock(&self) -> Result<StateLock, ImageError> {
        Ok(StateLock::exclusive(&self.dir.join(LOCK_FILE))?)
    }

    pub(crate) fn read_repositories(&self) -> Result<Repositories, ImageError> {
        let path = self.dir.join(REPOSITORIES_FILE);
        if !path.exists() {
            return Ok(Repositories::default());
        }
        Ok(state::read_json(&path)?)
    }

    pub(crate) fn write_repositories(&self, repos: &Repositories) -> Result<(), ImageError> {
        Ok(state::write_json_atomic(
            &self.dir.join(REPOSITORIES_FILE),
            repos,
        )?)
    }

    /// The stored record of image `hex` (without its references), if present.
    pub(crate) fn read_record(&self, hex: &str) -> Result<Option<ImageRecord>, ImageError> {
        let path = self.record_path(hex);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(state::read_json(&path)?))
    }

    pub(crate) fn write_record(&self, record: &ImageRecord) -> Result<(), ImageError> {
        let mut stored = record.clone();
        stored.repo_tags.clear();
        stored.repo_digests.clear();
        Ok(state::write_json_atomic(
            &self.record_path(record.hex()),
            &stored,
        )?)
    }

    pub(crate) fn delete_record(&self, hex: &str) -> Result<(), ImageError> {
        let path = self.record_path(hex);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("remove", path, e)),
        }
    }

    /// Hex ids of all stored images.
    pub(crate) fn image_hexes(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.dir.join(IMAGES_DIR);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(ImageError::io_fn("read directory", &dir))? {
            let entry = entry.map_err(ImageError::io_fn("read directory", &dir))?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if hex.len() == 64 && is_lower_hex(hex) {
                out.push(hex.to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    /// All stored records, without references.
    pub(crate) fn records(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let mut out = Vec::new();
        for hex in self.image_hexes()? {
            // A record removed between listing and reading is simply gone.
            if let Some(r) = self.read_record(&hex)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// All images, names attached, newest first (as `docker images` lists them).
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let repos = self.read_repositories()?;
        let mut records = self.records()?;
        for r in &mut records {
            repos.attach(r);
        }
        records.sort_by(|a, b| {
            b.created_at()
                .cmp(&a.created_at())
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(records)
    }

    /// Resolves `name[:tag]`, `name@digest`, `sha256:<hex>`, `<hex>` or a unique id prefix.
    pub fn resolve(&self, reference: &str) -> Result<ImageRecord, ImageError> {
        self.lookup(reference).map(|(r, _)| r)
    }

    /// [`ImageStore::resolve`], also telling how the reference matched.
    pub(crate) fn lookup(&self, reference: &str) -> Result<(ImageRecord, Matched), ImageError> {
        let repos = self.read_repositories()?;
        let found = |mut record: ImageRecord, how: Matched| {
            repos.attach(&mut record);
            Ok((record, how))
        };
        let no_such = || ImageError::NotFound {
            reference: reference.to_string(),
            local: false,
        };
        if let Some(rest) = reference.strip_prefix("sha256:") {
            if rest.len() <= 64 && is_lower_hex(rest) {
                let record = self.by_id_prefix(rest)?.ok_or_else(no_such)?;
                return found(record, Matched::Id);
            }
            return Err(no_such());
        }
        if reference.len() == 64 && is_lower_hex(reference) {
            let record = self.read_record(reference)?.ok_or_else(no_such)?;
            return found(record, Matched::Id);
        }
        match Reference::parse(reference) {
            Ok(r) => {
                let r = r.with_default_tag();
                if let Some(id) = repos.get(&r) {
                    let hex = id.strip_prefix("sha256:").unwrap_or(id);
                    if let Some(record) = self.read_record(hex)? {
                        return found(record, Matched::Name(r));
                    }
                    warn!("{} points at {id}, which is not in the store", r.familiar());
                }
                if is_lower_hex(reference) {
                    if let Some(record) = self.by_id_prefix(reference)? {
                        return found(record, Matched::Id);
                    }
                }
                Err(ImageError::NotFound {
                    reference: r.familiar(),
                    local: true,
                })
            }
            Err(e) => {
                if is_lower_hex(reference) {
                    let record = self.by_id_prefix(reference)?.ok_or_else(no_such)?;
                    return found(record, Matched::Id);
                }
                Err(e)
            }
        }
    }

    /// The one image whose hex id starts with `prefix`.
    fn by_id_prefix(&self, prefix: &str) -> Result<Option<ImageRecord>, ImageError> {
        let matches: Vec<String> = self
            .image_hexes()?
            .into_iter()
            .filter(|h| h.starts_with(prefix))
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [one] => self.read_record(one),
            _ => Err(ImageError::AmbiguousId {
                prefix: prefix.to_string(),
            }),
        }
    }

    /// Reads a layer's metadata, if the layer is in the store.
    pub(crate) fn layer_meta(&self, diff_id: &str) -> Option<LayerMeta> {
        let path = self.layer_root(diff_id).join(LAYER_META);
        if !path.exists() {
            return None;
        }
        match state::read_json::<LayerMeta>(&path) {
            Ok(m) => Some(m),
            Err(e) => {
                warn!("ignoring unreadable layer metadata: {e}");
                None
            }
        }
    }

    /// Removes leftovers of killed imports and deletions. Call with the lock held.
    pub(crate) fn sweep_temp(&self) {
        let layers = self.layers_dir();
        if let Ok(entries) = std::fs::read_dir(&layers) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    debug!("removing stale {}", entry.path().display());
                    if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                        warn!("cannot remove stale {}: {e}", entry.path().display());
                    }
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.tmp_dir()) {
            for entry in entries.flatten() {
                let p = entry.path();
                let r = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                if let Err(e) = r {
                    warn!("cannot remove stale {}: {e}", p.display());
                }
            }
        }
    }

    /// Deletes layers and blobs no image references. Call with the lock held. Returns the
    /// diff ids of the deleted layers.
    pub(crate) fn collect_garbage(&self) -> Result<Vec<String>, ImageError> {
        let records = self.records()?;
        let used_layers: HashSet<String> = records
            .iter()
            .flat_map(|r| r.diff_ids.iter())
            .map(|d| d.strip_prefix("sha256:").unwrap_or(d).to_string())
            .collect();
        let mut used_blobs: HashSet<String> = HashSet::new();
        for r in &records {
            used_blobs.insert(r.hex().to_string());
            if let Some(m) = &r.manifest_digest {
                if let Some(hex) = m.strip_prefix("sha256:") {
                    used_blobs.insert(hex.to_string());
                }
            }
        }

        let mut removed = Vec::new();
        let layers = self.layers_dir();
        let entries =
            std::fs::read_dir(&layers).map_err(ImageError::io_fn("read directory", &layers))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && is_lower_hex(n) && !used_layers.contains(n))
            .collect();
        names.sort();
        for name in names {
            let path = layers.join(&name);
            // Rename first so a half-deleted layer never sits under its real name.
            let doomed = layers.join(format!("{TEMP_PREFIX}del-{name}"));
            std::fs::rename(&path, &doomed).map_err(ImageError::io_fn("rename", &path))?;
            std::fs::remove_dir_all(&doomed).map_err(ImageError::io_fn("remove", &doomed))?;
            debug!("deleted layer sha256:{name}");
            removed.push(format!("sha256:{name}"));
        }

        let blobs = self.dir.join(BLOBS_DIR);
        let entries =
            std::fs::read_dir(&blobs).map_err(ImageError::io_fn("read directory", &blobs))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !used_blobs.contains(&name) {
                let p = entry.path();
                std::fs::remove_file(&p).map_err(ImageError::io_fn("remove", &p))?;
            }
        }
        Ok(removed)
    }
}
