//! Importing images: read the source's manifests and configs (OCI layout, OCI archive or
//! `docker save`), unpack each missing layer into a temporary directory inside the store,
//! verify its digests, and only then rename it into place and record the image. A failure
//! leaves nothing behind: no temporary directory, no new layer, no record, no tag.

mod backfill;
pub(crate) mod docker_archive;
pub(crate) mod oci_layout;
pub(crate) mod source;
mod tee;

use std::io::{BufReader, ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_spec::image::ImageConfiguration;
use tracing::{debug, info, warn};

use super::compression::{self, Compression};
use super::digest::{Algorithm, Digest, HashingReader};
use super::layer_unpack;
use super::reference::Reference;
use super::store::{LayerMeta, LAYER_BLOB, LAYER_DIFF, LAYER_META, TEMP_PREFIX};
use super::{ImageError, ImageRecord, ImageStore};
use crate::state;
use source::Source;

/// An image read from a source, not yet in the store.
pub(crate) struct PendingImage {
    /// sha256 of the config blob: the image id.
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfiguration,
    /// The manifest's digest and bytes (OCI sources).
    pub manifest: Option<(Digest, Vec<u8>)>,
    pub layers: Vec<PendingLayer>,
    /// Names the source gives the image.
    pub names: Vec<Reference>,
}

/// One layer of a pending image.
pub(crate) struct PendingLayer {
    /// Where the (maybe compressed) layer tar is in the source.
    pub path: String,
    /// The digest the blob must have (OCI descriptors, digest-named files).
    pub blob_digest: Option<Digest>,
    /// The size the blob must have (OCI descriptors).
    pub blob_size: Option<u64>,
    pub media_type: Option<String>,
    /// The uncompressed digest the config demands.
    pub diff_id: String,
    /// Names the layer in messages.
    pub what: String,
}

impl PendingLayer {
    /// The algorithm the blob is hashed with: its digest's, else sha256.
    pub fn blob_algorithm(&self) -> Algorithm {
        self.blob_digest
            .as_ref()
            .map(|d| d.algorithm())
            .unwrap_or(Algorithm::Sha256)
    }
}

/// What [`ImageStore::import_all`] did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The imported images, in source order.
    pub loaded: Vec<LoadedImage>,
    /// Docker's notices, e.g. a tag moved off an older image.
    pub notices: Vec<String>,
}

impl ImportOutcome {
    /// What `docker load` prints: the notices, then `Loaded image: NAME` for each name (or
    /// `Loaded image ID: sha256:...` for an image without one).
    pub fn messages(&self) -> Vec<String> {
        let mut out = self.notices.clone();
        for loaded in &self.loaded {
            if loaded.names.is_empty() {
                out.push(format!("Loaded image ID: {}", loaded.image.id));
            }
            for name in &loaded.names {
                out.push(format!("Loaded image: {name}"));
            }
        }
        out
    }
}

/// One imported image.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The image, all its names attached.
    pub image: ImageRecord,
    /// The names this import gave it (familiar form), for `Loaded image: NAME`.
    pub names: Vec<String>,
}

/// Parses an image config, with a message naming it.
pub(crate) fn parse_config(bytes: &[u8], what: &str) -> Result<ImageConfiguration, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::malformed(what, format!("invalid image config: {e}")))
}

/// The name to tag an import with: a reference without a digest, `latest` by default.
fn parse_name(name: Option<&str>) -> Result<Option<Reference>, ImageError> {
    let Some(n) = name else { return Ok(None) };
    let r = Reference::parse_with_default_tag(n)?;
    if r.digest().is_some() {
        return Err(ImageError::InvalidReference {
            reference: n.to_string(),
            reason: format!("{n:?}: cannot tag an image with a digest"),
        });
    }
    Ok(Some(r))
}

/// A verified layer waiting in a temporary directory.
struct StagedLayer {
    temp: tempfile::TempDir,
    diff_id: String,
}

impl ImageStore {
    /// Imports an OCI image layout directory, an OCI archive, or a `docker save` archive
    /// (plain, gzip or zstd), detected from the content. With `name`, the image is tagged so
    /// (`busybox` means `busybox:latest`); without, it takes the names in the source
    /// (`io.containerd.image.name` / full-reference `org.opencontainers.image.ref.name`
    /// annotations, docker `RepoTags`), or stays untagged. `progress` shows a progress bar on
    /// stderr. Returns the first image of the source (see [`ImageStore::import_all`]).
    pub fn import(
        &self,
        source: &Path,
        name: Option<&str>,
        progress: bool,
    ) -> Result<ImageRecord, ImageError> {
        let outcome = self.import_all(source, name, progress)?;
        let first = outcome
            .loaded
            .into_iter()
            .next()
            .expect("import yields an image");
        Ok(first.image)
    }

    /// Imports every image of the source (a `docker save` of several images, an OCI layout
    /// indexing several). Each image is atomic: earlier images stay if a later one fails.
    /// A `name` is only allowed when the source holds one image.
    pub fn import_all(
        &self,
        source: &Path,
        name: Option<&str>,
        progress: bool,
    ) -> Result<ImportOutcome, ImageError> {
        parse_name(name)?;
        let _lock = self.lock()?;
        self.sweep_temp();
        self.import_locked(source, name, progress)
    }

    /// [`ImageStore::import_all`] with the lock held.
    fn import_locked(
        &self,
        source: &Path,
        name: Option<&str>,
        progress: bool,
    ) -> Result<ImportOutcome, ImageError> {
        let name = parse_name(name)?;
        let src = source::open(source, &self.tmp_dir())?;
        let pending = if src.exists(docker_archive::MANIFEST_FILE) {
            debug!("{}: docker save archive", src.name());
            docker_archive::read(src.as_ref())?
        } else if src.exists("index.json") {
            debug!("{}: OCI image layout", src.name());
            oci_layout::read(src.as_ref())?
        } else {
            return Err(ImageError::UnknownFormat {
                path: source.to_path_buf(),
            });
        };
        if name.is_some() && pending.len() > 1 {
            return Err(ImageError::malformed(
                src.name(),
                format!(
                    "holds {} images; a name can only be given to a single image",
                    pending.len()
                ),
            ));
        }

        let mut outcome = ImportOutcome {
            loaded: Vec::new(),
            notices: Vec::new(),
        };
        for image in pending {
            let names = match &name {
                Some(n) => vec![n.clone()],
                None => image.names.clone(),
            };
            let record =
                self.import_one(src.as_ref(), image, &names, progress, &mut outcome.notices)?;
            self.event("load", &record.id, &record.id);
            outcome.loaded.push(LoadedImage {
                image: record,
                names: names.iter().map(|n| n.familiar()).collect(),
            });
        }
        Ok(outcome)
    }

    /// Imports from a stream (`docker load` from stdin): the stream is spooled into the
    /// store's scratch directory first, then imported like a file.
    pub fn import_reader(
        &self,
        mut reader: impl Read,
        name: Option<&str>,
        progress: bool,
    ) -> Result<ImportOutcome, ImageError> {
        let _lock = self.lock()?;
        self.sweep_temp();
        let tmp_dir = self.tmp_dir();
        let mut spool = tempfile::Builder::new()
            .prefix("stdin-")
            .tempfile_in(&tmp_dir)
            .map_err(ImageError::io_fn("create temp file in", &tmp_dir))?;
        let n = std::io::copy(&mut reader, spool.as_file_mut())
            .map_err(|e| ImageError::io("read", "stdin", e))?;
        if n == 0 {
            return Err(ImageError::malformed(
                "stdin",
                "requested load from stdin, but stdin is empty",
            ));
        }
        self.import_locked(spool.path(), name, progress)
    }

    pub(crate) fn import_one(
        &self,
        src: &dyn Source,
        image: PendingImage,
        names: &[Reference],
        progress: bool,
        notices: &mut Vec<String>,
    ) -> Result<ImageRecord, ImageError> {
        let id = image.config_digest.to_string();
        for layer in &image.layers {
            let ok = Digest::parse(&layer.diff_id)
                .map(|d| d.algorithm() == Algorithm::Sha256)
                .unwrap_or(false);
            if !ok {
                return Err(ImageError::malformed(
                    format!("{}: config {id}", src.name()),
                    format!("diff id {:?} is not sha256:<64 hex>", layer.diff_id),
                ));
            }
        }

        // Layers to unpack: not in the store, first occurrence only.
        let mut todo: Vec<&PendingLayer> = Vec::new();
        for layer in &image.layers {
            if self.layer_meta(&layer.diff_id).is_none()
                && !todo.iter().any(|l| l.diff_id == layer.diff_id)
            {
                todo.push(layer);
            }
        }
        let bar = progress.then(|| progress_bar(src, &todo)).flatten();
        let mut staged: Vec<StagedLayer> = Vec::new();
        for layer in &todo {
            staged.push(self.stage_layer(src, layer, bar.as_ref())?);
        }
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        // Make the layers durable before anything refers to them.
        if !staged.is_empty() {
            syncfs(&self.layers_dir());
        }
        self.commit_layers(staged)?;
        // Layers stored without their blob (by an older ebrun) get it from this source.
        let mut seen: Vec<&str> = Vec::new();
        for layer in &image.layers {
            if !seen.contains(&layer.diff_id.as_str()) && self.lacks_blob(&layer.diff_id) {
                self.backfill_blob(src, layer);
            }
            seen.push(&layer.diff_id);
        }

        let existed = self.read_record(image.config_digest.hex())?;
        match self.record_image(image, existed.clone(), names, notices) {
            Ok(record) => {
                info!("imported {id} ({} layers)", record.diff_ids.len());
                Ok(record)
            }
            Err(e) => {
                // Leave nothing half-imported: no new record, no layer nobody uses.
                if existed.is_none() {
                    let _ = self.delete_record(&id["sha256:".len()..]);
                }
                if let Err(gc) = self.collect_garbage() {
                    warn!("cleaning up after a failed import: {gc}");
                }
                Err(e)
            }
        }
    }

    /// Writes the blobs, the record, then the names of an image whose layers are in place
    /// (in that order: readers never see a name without its image).
    fn record_image(
        &self,
        image: PendingImage,
        existed: Option<ImageRecord>,
        names: &[Reference],
        notices: &mut Vec<String>,
    ) -> Result<ImageRecord, ImageError> {
        let id = image.config_digest.to_string();
        if let Some((digest, bytes)) = &image.manifest {
            if digest.algorithm() == Algorithm::Sha256 {
                state::write_atomic(&self.blob_path(digest.hex()), bytes)?;
            }
        }
        state::write_atomic(
            &self.blob_path(image.config_digest.hex()),
            &image.config_bytes,
        )?;
        let mut layer_sizes = Vec::new();
        for layer in &image.layers {
            let meta = self.layer_meta(&layer.diff_id).ok_or_else(|| {
                ImageError::malformed(&layer.what, "layer vanished from the store after import")
            })?;
            layer_sizes.push(meta.size);
        }
        let mut record = ImageRecord {
            id: id.clone(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            created: image.config.created().clone(),
            diff_ids: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
            size: layer_sizes.iter().sum(),
            layer_sizes,
            manifest_digest: image.manifest.as_ref().map(|(d, _)| d.to_string()),
            loaded_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
            last_tag_time: None,
            parent: None,
            build_key: None,
            config: image.config,
        };
        if let Some(old) = existed {
            // Re-import: keep the first import time and any manifest digest already known.
            record.loaded_at = old.loaded_at.or(record.loaded_at);
            record.manifest_digest = record.manifest_digest.or(old.manifest_digest);
            record.last_tag_time = old.last_tag_time;
            record.parent = old.parent;
            record.build_key = old.build_key;
        }
        self.write_record(&record)?;

        let mut repos = self.read_repositories()?;
        for n in names {
            if let Some(old) = repos.set(n, &id) {
                notices.push(format!(
                    "The image {} already exists, renaming the old one with ID {old} to empty string",
                    n.familiar()
                ));
            }
            if let Some((digest, _)) = &image.manifest {
                repos.set(&n.with_digest(&digest.to_string()), &id);
            }
        }
        self.write_repositories(&repos)?;
        repos.attach(&mut record);
        Ok(record)
    }

    /// Unpacks `layer` into a fresh temporary directory under `layers/` and verifies it. The
    /// directory is removed on any failure (the `TempDir` drops).
    fn stage_layer(
        &self,
        src: &dyn Source,
        layer: &PendingLayer,
        bar: Option<&ProgressBar>,
    ) -> Result<StagedLayer, ImageError> {
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(self.layers_dir())
            .map_err(ImageError::io_fn("create temp dir in", &self.layers_dir()))?;
        let diff = temp.path().join(LAYER_DIFF);
        std::fs::create_dir(&diff).map_err(ImageError::io_fn("create", &diff))?;
        std::fs::set_permissions(&diff, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(ImageError::io_fn("chmod", &diff))?;
        if let Some(bar) = bar {
            bar.set_message(format!("Loading layer {}", short(&layer.diff_id)));
        }
        let (reader, len) = src.open(&layer.path)?;
        let reader: Box<dyn Read + '_> = match bar {
            Some(bar) => Box::new(bar.wrap_read(reader)),
            None => reader,
        };
        // The blob is kept byte for byte next to its unpacked content (for `save`): linked
        // when the source file is already in the store (a pull's download), else copied
        // while it is read.
        let blob_path = temp.path().join(LAYER_BLOB);
        let link_from = src
            .local_file(&layer.path)
            .filter(|p| p.starts_with(self.dir()));
        let blob_file = match link_from {
            Some(_) => None,
            None => Some(
                std::fs::File::create(&blob_path)
                    .map_err(ImageError::io_fn("create", &blob_path))?,
            ),
        };
        let mut tee = tee::TeeReader::new(reader, blob_file);
        let mut raw = HashingReader::new(&mut tee, layer.blob_algorithm());
        // A store that cannot be written (a full disk) cuts the reading short: that is the
        // root cause, not the source or the digest of what was read.
        let full = |e: &std::io::Error| {
            matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        };
        let read_err = |op: &'static str, e: std::io::Error| match full(&e) {
            true => ImageError::io("write", &blob_path, e),
            false => ImageError::io(op, PathBuf::from(&layer.what), e),
        };

        let (unpacked, diff_digest, tar_size, compression) = {
            let mut buffered = BufReader::with_capacity(256 << 10, &mut raw);
            let compression = compression::sniff(&mut buffered)
                .map_err(|e| read_err("read", e))?
                .map_err(|name| ImageError::Unsupported {
                    what: layer.what.clone(),
                    reason: format!("{name} compression (supported: gzip, zstd, none)"),
                })?;
            if let Some(claimed) = layer
                .media_type
                .as_deref()
                .and_then(Compression::from_media_type)
            {
                if claimed != compression {
                    warn!(
                        "{}: media type says {}, content is {}; using the content",
                        layer.what,
                        claimed.name(),
                        compression.name()
                    );
                }
            }
            let decoder = compression::decoder(compression, buffered)
                .map_err(|e| read_err("decompress", e))?;
            let mut diff_reader = HashingReader::new(decoder, Algorithm::Sha256);
            let unpacked =
                layer_unpack::unpack(&mut diff_reader, &diff, &layer.what).and_then(|stats| {
                    diff_reader.drain().map_err(|e| {
                        ImageError::malformed(&layer.what, format!("reading layer data: {e}"))
                    })?;
                    Ok(stats)
                });
            if unpacked.is_err() {
                // Hash the rest anyway: a corrupt tar is best reported as the wrong digest.
                let _ = diff_reader.drain();
            }
            (
                unpacked,
                diff_reader.digest(),
                diff_reader.count(),
                compression,
            )
        };
        let drained = raw.drain();
        // The last use of `raw` ends its borrow of the tee.
        let (raw_digest, raw_count) = (raw.digest(), raw.count());
        let drained = drained.and_then(|()| tee.finish());

        let drained = match drained {
            Err(e) if full(&e) => return Err(read_err("read", e)),
            other => other,
        };
        let unpacked = match unpacked {
            Err(ImageError::Io { cause, op, path }) if full(&cause) => {
                return Err(ImageError::Io { cause, op, path })
            }
            other => other,
        };
        // Report the root cause first: a blob that is not what the manifest says.
        if let Some(expected) = &layer.blob_digest {
            let actual = raw_digest.clone();
            if &actual != expected {
                return Err(ImageError::DigestMismatch {
                    what: format!("{} blob", layer.what),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if let Some(expected) = layer.blob_size {
            if raw_count != expected {
                return Err(ImageError::SizeMismatch {
                    what: format!("{} blob", layer.what),
                    expected,
                    actual: raw_count,
                });
            }
        }
        drained.map_err(|e| ImageError::io("read", PathBuf::from(&layer.what), e))?;
        if raw_count != len {
            return Err(ImageError::SizeMismatch {
                what: format!("{} blob", layer.what),
                expected: len,
                actual: raw_count,
            });
        }
        if diff_digest.to_string() != layer.diff_id {
            if let Err(e) = &unpacked {
                debug!(
                    "{}: unpack failed on content with the wrong digest: {e}",
                    layer.what
                );
            }
            return Err(ImageError::DigestMismatch {
                what: format!("{} uncompressed content (diff id)", layer.what),
                expected: layer.diff_id.clone(),
                actual: diff_digest.to_string(),
            });
        }
        let stats = unpacked?;
        if let Some(from) = &link_from {
            // Verified above: the file read is the blob the layer names.
            std::fs::hard_link(from, &blob_path).map_err(ImageError::io_fn("link", &blob_path))?;
        }
        let meta = LayerMeta {
            diff_id: layer.diff_id.clone(),
            size: stats.size,
            blob_digest: Some(raw_digest.to_string()),
            compression: Some(compression.name().to_string()),
            blob_size: Some(raw_count),
            tar_size: Some(tar_size),
        };
        state::write_json_atomic(&temp.path().join(LAYER_META), &meta)?;
        debug!(
            "{}: verified, {} entries, {} bytes",
            layer.what, stats.entries, stats.size
        );
        Ok(StagedLayer {
            temp,
            diff_id: layer.diff_id.clone(),
        })
    }

    /// Renames verified layers into place; on failure, undoes the renames already done.
    fn commit_layers(&self, staged: Vec<StagedLayer>) -> Result<(), ImageError> {
        let mut done: Vec<PathBuf> = Vec::new();
        for layer in staged {
            let target = self.layer_root(&layer.diff_id);
            let from = layer.temp.path().to_path_buf();
            if target.exists() {
                // Only layers without metadata are staged: this one is a broken leftover.
                warn!("replacing incomplete layer {}", target.display());
                let _ = std::fs::remove_dir_all(&target);
            }
            if let Err(e) = std::fs::rename(&from, &target) {
                for d in done {
                    let _ = std::fs::remove_dir_all(d);
                }
                return Err(ImageError::io("rename layer into", &target, e));
            }
            // Now owned by its final name: do not let the TempDir delete it.
            let _ = layer.temp.keep();
            done.push(target);
        }
        Ok(())
    }
}

/// A bar over the layer bytes to read, when there is something to show.
fn progress_bar(src: &dyn Source, layers: &[&PendingLayer]) -> Option<ProgressBar> {
    let total: u64 = layers
        .iter()
        .map(|l| {
            l.blob_size
                .unwrap_or_else(|| src.open(&l.path).map(|(_, n)| n).unwrap_or(0))
        })
        .sum();
    if total == 0 {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:24} [{wide_bar}] {decimal_bytes}/{decimal_total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Some(bar)
}

fn short(digest: &str) -> &str {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// Flushes the filesystem holding `dir` (layer content must be on disk before metadata
/// points at it).
fn syncfs(dir: &Path) {
    match std::fs::File::open(dir) {
        Ok(f) => {
            // SAFETY: f is an open descriptor for the duration of the call.
            if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
                warn!(
                    "syncfs {}: {}",
                    dir.display(),
                    std::io::Error::last_os_error()
                );
            }
        }
        Err(e) => warn!("syncfs {}: {e}", dir.display()),
    }
}
