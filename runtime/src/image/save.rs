//! `docker save`: images as the archive Docker 25+ writes, which both `docker load`-style
//! loaders (`manifest.json`, `repositories`) and OCI loaders (`oci-layout`, `index.json`)
//! accept:
//!
//! ```text
//! blobs/sha256/<config hex>     the config blob, byte for byte (its sha256 is the image id)
//! blobs/sha256/<diff id hex>    each layer as an uncompressed tar (its sha256 is its diff id)
//! blobs/sha256/<manifest hex>   an OCI manifest of the config and those layers
//! index.json                    the OCI index: one manifest descriptor per tag
//! manifest.json                 [{"Config", "RepoTags", "Layers"}], Docker's own index
//! oci-layout                    {"imageLayoutVersion": "1.0.0"}
//! repositories                  {"name": {"tag": "<top layer hex>"}} (legacy loaders)
//! ```
//!
//! Layers come from the blobs the store keeps (`layers/<hex>/blob`), decompressed: each
//! layer tar is verified against its diff id while it is written. Every file the archive
//! needs is opened before anything is written, so a concurrent `rmi` cannot tear it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::compression;
use super::digest::{Algorithm, Digest, HashingReader};
use super::reference::Reference;
use super::store::Matched;
use super::{ImageError, ImageRecord, ImageStore};

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// Docker's `ociLayoutContent`, spacing included.
const OCI_LAYOUT: &str = r#"{"imageLayoutVersion": "1.0.0"}"#;

/// An image to save and the tags the archive gives it.
struct Selected {
    record: ImageRecord,
    tags: Vec<Reference>,
}

/// A layer to write: its open blob and what decompressing it must give.
struct LayerSource {
    diff_id: Digest,
    tar_size: u64,
    blob: File,
}

/// `manifest.json`'s entry for one image.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// What a save wrote.
#[derive(Debug, Clone)]
pub struct SaveReport {
    /// The ids of the saved images, in archive order.
    pub images: Vec<String>,
}

/// A `docker save` archive ready to write: every name resolved, every file it needs open
/// (so the Engine API answers "No such image" before it sends anything).
pub struct SaveArchive {
    plan: Plan,
    images: Vec<String>,
}

impl SaveArchive {
    /// Writes the archive to `out` (flushed at the end).
    pub fn write(&self, out: &mut dyn Write) -> Result<SaveReport, ImageError> {
        self.plan.write(out)?;
        Ok(SaveReport {
            images: self.images.clone(),
        })
    }
}

impl ImageStore {
    /// Resolves `names` (names, `NAME` for every tag of a repository, ids, id prefixes) and
    /// opens what their archive needs. With `platform`, each image must be of it (Docker's
    /// `save --platform`).
    pub fn prepare_save(
        &self,
        names: &[String],
        platform: Option<&super::Platform>,
    ) -> Result<SaveArchive, ImageError> {
        let selected = self.select(names)?;
        if let Some(wanted) = platform {
            if let Some(other) = selected
                .iter()
                .find(|s| !wanted.matches(&s.record.platform()))
            {
                return Err(ImageError::NotFound {
                    reference: format!(
                        "{} (it is {}, not {wanted})",
                        other
                            .tags
                            .first()
                            .map(Reference::familiar)
                            .unwrap_or_else(|| other.record.id.clone()),
                        other.record.platform()
                    ),
                    local: false,
                });
            }
        }
        let plan = self.plan(&selected)?;
        Ok(SaveArchive {
            plan,
            images: selected.iter().map(|s| s.record.id.clone()).collect(),
        })
    }

    /// Writes the `docker save` archive of `names` (names, `NAME` for every tag of a
    /// repository, ids, id prefixes) to `out`.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<SaveReport, ImageError> {
        let report = self.prepare_save(names, None)?.write(out)?;
        self.saved(&report);
        Ok(report)
    }

    /// dockerd's `save` event for each image saved.
    pub(crate) fn saved(&self, report: &SaveReport) {
        for id in &report.images {
            self.event("save", id, id);
        }
    }

    /// [`ImageStore::save`] into `path`, through a temporary file beside it renamed into
    /// place at the end: a failed save leaves no file (and an existing one untouched).
    pub fn save_to_file(&self, names: &[String], path: &Path) -> Result<SaveReport, ImageError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // Resolve names before creating anything.
        let archive = self.prepare_save(names, None)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".ebrun-save-")
            .tempfile_in(dir)
            .map_err(ImageError::io_fn("create temp file in", dir))?;
        let report = {
            let mut w = io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
            let report = archive.write(&mut w)?;
            w.flush().map_err(ImageError::io_fn("write", path))?;
            report
        };
        tmp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(ImageError::io_fn("chmod", path))?;
        tmp.persist(path)
            .map_err(|e| ImageError::io("rename temp file to", path, e.error))?;
        self.saved(&report);
        Ok(report)
    }

    /// Docker's `parseNames`: a bare repository name means each of its tags; a tag or digest
    /// reference one image (tagged as named); an id or prefix one image without a tag.
    fn select(&self, names: &[String]) -> Result<Vec<Selected>, ImageError> {
        if names.is_empty() {
            return Err(ImageError::InvalidReference {
                reference: String::new(),
                reason: "no image to save".into(),
            });
        }
        let repos = self.read_repositories()?;
        let mut out: Vec<Selected> = Vec::new();
        let mut add = |record: ImageRecord, tag: Option<Reference>| {
            let i = match out.iter().position(|s| s.record.id == record.id) {
                Some(i) => i,
                None => {
                    out.push(Selected {
                        record,
                        tags: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(t) = tag.filter(|t| t.digest().is_none()) {
                if !out[i].tags.iter().any(|x| x.familiar() == t.familiar()) {
                    out[i].tags.push(t);
                }
            }
        };
        for name in names {
            let bare = Reference::parse(name)
                .ok()
                .filter(|r| r.tag().is_none() && r.digest().is_none());
            if let Some(repo) = bare.and_then(|r| repos.repositories.get(&r.familiar_name())) {
                for (reference, id) in repo {
                    let hex = id.strip_prefix("sha256:").unwrap_or(id);
                    let Some(record) = self.read_record(hex)? else {
                        continue;
                    };
                    add(record, Reference::parse(reference).ok());
                }
                continue;
            }
            let (record, how) = self.lookup(name).map_err(ImageError::no_such)?;
            match how {
                Matched::Name(r) => add(record, Some(r)),
                Matched::Id => add(record, None),
            }
        }
        Ok(out)
    }

    /// Opens everything the archive of `selected` needs and builds its JSON documents.
    fn plan(&self, selected: &[Selected]) -> Result<Plan, ImageError> {
        let mut plan = Plan::default();
        let mut manifest_items = Vec::new();
        let mut index_entries = Vec::new();
        let mut legacy: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for sel in selected {
            let (item, descriptors) = self.plan_image(sel, &mut plan)?;
            let top = sel.record.diff_ids.last().expect("checked non-empty");
            let top_hex = top.trim_start_matches("sha256:");
            for tag in &sel.tags {
                legacy
                    .entry(tag.familiar_name())
                    .or_default()
                    .insert(tag.tag().unwrap_or("latest").to_string(), top_hex.into());
            }
            manifest_items.push(item);
            index_entries.extend(descriptors);
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": index_entries,
        });
        plan.small.insert(
            "index.json".into(),
            serde_json::to_vec(&index).map_err(|e| ImageError::malformed("index.json", e))?,
        );
        plan.small
            .insert("manifest.json".into(), encode(&manifest_items)?);
        plan.small
            .insert("oci-layout".into(), OCI_LAYOUT.as_bytes().to_vec());
        if !legacy.is_empty() {
            plan.small.insert("repositories".into(), encode(&legacy)?);
        }
        plan.mtime = selected
            .first()
            .and_then(|s| s.record.created_at())
            .map(|t| t.timestamp().max(0) as u64)
            .unwrap_or(0);
        Ok(plan)
    }

    /// Adds one image's config, OCI manifest and layers to `plan`; returns its
    /// `manifest.json` entry and its `index.json` descriptors (one per tag).
    fn plan_image(
        &self,
        sel: &Selected,
        plan: &mut Plan,
    ) -> Result<(ManifestItem, Vec<Value>), ImageError> {
        let image = &sel.record;
        let config_path = self.blob_path(image.hex());
        let config = std::fs::read(&config_path)
            .map_err(ImageError::io_fn("read the config of image", &config_path))?;
        let config_digest = Digest::sha256_of(&config);
        if config_digest.to_string() != image.id {
            return Err(ImageError::DigestMismatch {
                what: format!("stored config of image {}", image.id),
                expected: image.id.clone(),
                actual: config_digest.to_string(),
            });
        }
        if image.diff_ids.is_empty() {
            return Err(ImageError::Unsupported {
                what: format!("image {}", image.id),
                reason: "empty export - not implemented".into(),
            });
        }
        let mut layer_descs = Vec::new();
        for diff_id in &image.diff_ids {
            let layer = self.layer_source(image, diff_id)?;
            layer_descs.push(json!({
                "mediaType": LAYER_MEDIA_TYPE,
                "digest": diff_id,
                "size": layer.tar_size,
            }));
            plan.layers
                .entry(layer.diff_id.hex().to_string())
                .or_insert(layer);
        }
        let mut platform = json!({
            "architecture": image.architecture(),
            "os": image.os(),
        });
        if let Some(v) = image.config.variant() {
            platform["variant"] = json!(v);
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": image.id,
                "size": config.len(),
                "platform": platform,
            },
            "layers": layer_descs,
        });
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| ImageError::malformed("the archive's manifest", e))?;
        let manifest_digest = Digest::sha256_of(&manifest_bytes);
        let descriptor = |annotations: Option<Value>| {
            let mut d = json!({
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": manifest_digest.to_string(),
                "size": manifest_bytes.len(),
                "platform": platform,
            });
            if let Some(a) = annotations {
                d["annotations"] = a;
            }
            d
        };
        let mut descriptors: Vec<Value> = sel
            .tags
            .iter()
            .map(|tag| {
                let t = tag.tag().unwrap_or("latest");
                descriptor(Some(json!({
                    "io.containerd.image.name": format!("{}:{t}", tag.name()),
                    "org.opencontainers.image.ref.name": t,
                })))
            })
            .collect();
        if descriptors.is_empty() {
            // Untagged: still listed, so OCI loaders find the image.
            descriptors.push(descriptor(None));
        }
        let repo_tags: Vec<String> = sel.tags.iter().map(Reference::familiar).collect();
        let item = ManifestItem {
            config: format!("blobs/sha256/{}", image.hex()),
            repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
            layers: image
                .diff_ids
                .iter()
                .map(|d| format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))
                .collect(),
        };
        plan.small
            .insert(format!("blobs/sha256/{}", image.hex()), config);
        plan.small.insert(
            format!("blobs/sha256/{}", manifest_digest.hex()),
            manifest_bytes,
        );
        Ok((item, descriptors))
    }

    /// The kept blob of one of `image`'s layers, opened.
    fn layer_source(&self, image: &ImageRecord, diff_id: &str) -> Result<LayerSource, ImageError> {
        let what = || format!("image {}: layer {diff_id}", image.id);
        let parsed =
            Digest::parse(diff_id).map_err(|reason| ImageError::malformed(what(), reason))?;
        let meta = self
            .layer_meta(diff_id)
            .ok_or_else(|| ImageError::malformed(what(), "the layer is not in the store"))?;
        let path = self.layer_blob(diff_id);
        let (Some(tar_size), Ok(blob)) = (meta.tar_size, File::open(&path)) else {
            return Err(ImageError::Unsupported {
                what: what(),
                reason: "its original blob was not kept (the image was imported by an older \
                         ebrun); remove the image and import or pull it again"
                    .into(),
            });
        };
        Ok(LayerSource {
            diff_id: parsed,
            tar_size,
            blob,
        })
    }
}

/// JSON as Go's `json.Encoder` writes it (`manifest.json`, `repositories`): a newline ends it.
fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    let mut bytes =
        serde_json::to_vec(value).map_err(|e| ImageError::malformed("the archive", e))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Everything an archive holds, ready to write.
#[derive(Default)]
struct Plan {
    /// Small files by archive path (configs, manifests, the top-level JSON).
    small: BTreeMap<String, Vec<u8>>,
    /// Layers by diff id hex (each written once, however many images share it).
    layers: BTreeMap<String, LayerSource>,
    /// The entries' modification time.
    mtime: u64,
}

impl Plan {
    /// Writes the tar, entries in Docker's order (a sorted walk of the directory it tars).
    fn write(&self, out: &mut dyn Write) -> Result<(), ImageError> {
        let werr = |e: io::Error| ImageError::io("write", "the archive", e);
        let mut tar = tar::Builder::new(out);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = self.header(tar::EntryType::Directory, 0o755, 0);
            tar.append_data(&mut h, dir, io::empty()).map_err(werr)?;
        }
        let mut blob_names: Vec<String> = self
            .small
            .keys()
            .filter(|k| k.starts_with("blobs/"))
            .cloned()
            .chain(self.layers.keys().map(|h| format!("blobs/sha256/{h}")))
            .collect();
        blob_names.sort();
        blob_names.dedup();
        for name in blob_names {
            if let Some(bytes) = self.small.get(&name) {
                self.append_bytes(&mut tar, &name, bytes)?;
            } else {
                let hex = name.trim_start_matches("blobs/sha256/");
                self.append_layer(&mut tar, &name, &self.layers[hex])?;
            }
        }
        for (name, bytes) in self.small.iter().filter(|(k, _)| !k.starts_with("blobs/")) {
            self.append_bytes(&mut tar, name, bytes)?;
        }
        tar.into_inner().map_err(werr)?.flush().map_err(werr)?;
        Ok(())
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_size(size);
        h
    }

    fn append_bytes(
        &self,
        tar: &mut tar::Builder<&mut dyn Write>,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), ImageError> {
        let mut h = self.header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        tar.append_data(&mut h, name, bytes)
            .map_err(|e| ImageError::io("write", "the archive", e))
    }

    /// Decompresses a kept blob into the archive, checking it against its diff id.
    fn append_layer(
        &self,
        tar: &mut tar::Builder<&mut dyn Write>,
        name: &str,
        layer: &LayerSource,
    ) -> Result<(), ImageError> {
        let what = format!("layer {}", layer.diff_id);
        let mut buffered = BufReader::with_capacity(256 << 10, &layer.blob);
        let kind = compression::sniff(&mut buffered)
            .map_err(|e| ImageError::io("read", what.as_str(), e))?
            .map_err(|c| ImageError::Unsupported {
                what: what.clone(),
                reason: format!("{c} compression"),
            })?;
        let decoder = compression::decoder(kind, buffered)
            .map_err(|e| ImageError::io("decompress", what.as_str(), e))?;
        let mut hashed = HashingReader::new(decoder, Algorithm::Sha256);
        let mut h = self.header(tar::EntryType::Regular, 0o644, layer.tar_size);
        tar.append_data(&mut h, name, (&mut hashed).take(layer.tar_size))
            .map_err(|e| ImageError::io("write", what.as_str(), e))?;
        // The kept blob must decompress to exactly the layer the image names.
        let mut extra = [0u8; 1];
        let longer = hashed
            .read(&mut extra)
            .map_err(|e| ImageError::io("decompress", what.as_str(), e))?;
        if hashed.count() != layer.tar_size + longer as u64 || longer != 0 {
            return Err(ImageError::SizeMismatch {
                what: format!("stored blob of {what}"),
                expected: layer.tar_size,
                actual: hashed.count(),
            });
        }
        let actual = hashed.digest();
        if actual != layer.diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("stored blob of {what}"),
                expected: layer.diff_id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}
