//! `docker push`: an image's layers, config and manifest to a registry over the OCI
//! distribution protocol, with the registry client of [`super::pull`] (credentials, insecure
//! registries and progress output are the pull's).
//!
//! Layers are the blobs the store keeps (`layers/<hex>/blob`), byte for byte; a layer kept
//! uncompressed (loaded from a `docker save` tar) is gzipped first, as Docker compresses it.
//! An image pulled (or imported from an OCI source) whose stored manifest names exactly these
//! blobs is pushed with that manifest, so it keeps its digest; otherwise an OCI manifest is
//! made. Each blob the registry lacks (`HEAD`) is uploaded in one `POST` + `PUT`; the
//! manifest goes last, and the pushed `repo@digest` is recorded, as dockerd records it.

use std::fs::File;
use std::io::{Read as _, Write};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::digest::{Algorithm, Digest, Hasher};
use super::pull::client::{Payload, Registry, Response};
use super::pull::progress::{LayerProgress, Progress};
use super::pull::{credentials, insecure, Credentials, Output, PullError};
use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};
use crate::Paths;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// One tag pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub tag: String,
    /// The manifest's digest.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: usize,
}

/// A blob to push: an open file, its digest and size.
struct Blob {
    file: File,
    digest: Digest,
    size: u64,
    media_type: &'static str,
    /// The diff id's short form (the progress line's id).
    id: String,
}

fn io(op: &'static str, what: &str) -> impl FnOnce(std::io::Error) -> PullError {
    let path = std::path::PathBuf::from(what);
    move |source| PullError::Io { op, path, source }
}

/// The tags `reference` pushes: itself when tagged, else every tag of its repository.
fn tags_to_push(
    store: &ImageStore,
    reference: &Reference,
) -> Result<Vec<(Reference, String)>, PullError> {
    if reference.digest().is_some() {
        return Err(ImageError::InvalidArgument {
            message: format!("cannot push a digest reference: {}", reference.familiar()),
        }
        .into());
    }
    let repos = store.read_repositories()?;
    if reference.tag().is_some() {
        return match repos.get(reference) {
            Some(id) => Ok(vec![(reference.clone(), id.clone())]),
            None => Err(PullError::NoSuchTag(reference.familiar())),
        };
    }
    let mut tags: Vec<(Reference, String)> = repos
        .repositories
        .get(&reference.familiar_name())
        .into_iter()
        .flatten()
        .filter_map(|(name, id)| Some((Reference::parse(name).ok()?, id.clone())))
        .filter(|(r, _)| r.digest().is_none() && r.tag().is_some())
        .collect();
    tags.sort_by_key(|t| t.0.familiar());
    if tags.is_empty() {
        return Err(PullError::NotLocal(reference.familiar_name()));
    }
    Ok(tags)
}

/// Pushes `name` (`NAME:TAG`, or `NAME` for every tag of the repository) to its registry,
/// with `credentials` (the Engine API's `X-Registry-Auth`) or else the ones `ebrun login`
/// stored. Progress goes to `output` as a pull's does.
pub fn push(
    paths: &Paths,
    name: &str,
    output: Output,
    credentials: Option<Credentials>,
) -> Result<Vec<Pushed>, PullError> {
    let reference = Reference::parse(name)?;
    let progress = Progress::new(output);
    progress.plain(&format!(
        "The push refers to repository [{}]",
        reference.name()
    ));
    let store = ImageStore::open(paths)?;
    let tags = tags_to_push(&store, &reference)?;
    let insecure =
        insecure::is_insecure(reference.domain(), &insecure::insecure_registries(paths)?);
    let creds = match credentials {
        Some(c) => Some(c),
        None => credentials::lookup(reference.domain())?,
    };
    let registry = Registry::new(reference.domain(), reference.path(), insecure, creds);
    let mut pushed = Vec::new();
    for (tag, id) in tags {
        let hex = id.strip_prefix("sha256:").unwrap_or(&id);
        let image = store
            .read_record(hex)?
            .ok_or_else(|| PullError::NoSuchTag(tag.familiar()))?;
        pushed.push(push_tag(&store, &registry, &progress, &image, &tag)?);
        store.event("push", &tag.familiar(), &tag.familiar_name());
    }
    Ok(pushed)
}

/// Pushes `image` as `tag`.
fn push_tag(
    store: &ImageStore,
    registry: &Registry,
    progress: &Progress,
    image: &ImageRecord,
    tag: &Reference,
) -> Result<Pushed, PullError> {
    let layers = layer_blobs(store, image)?;
    let config_path = store.blob_path(image.hex());
    let config_file = File::open(&config_path).map_err(|e| PullError::Io {
        op: "open",
        path: config_path.clone(),
        source: e,
    })?;
    let config = Blob {
        size: config_file.metadata().map(|m| m.len()).unwrap_or(0),
        file: config_file,
        digest: Digest::parse(&image.id)
            .map_err(|reason| ImageError::malformed(&image.id, reason))?,
        media_type: OCI_CONFIG,
        id: image.short_id().to_string(),
    };
    let (manifest, media_type) = manifest_for(store, image, &config, &layers)?;

    // Top layer first, as Docker lists them.
    let bars: Vec<LayerProgress<'_>> = layers
        .iter()
        .rev()
        .map(|b| progress.push_layer(&b.id, b.size))
        .collect();
    for (blob, bar) in layers.iter().rev().zip(bars) {
        if blob_exists(registry, &blob.digest)? {
            bar.finish("Layer already exists");
            continue;
        }
        upload(registry, blob, Some(&bar))?;
        bar.finish("Pushed");
    }
    if !blob_exists(registry, &config.digest)? {
        upload(registry, &config, None)?;
    }

    let tag_name = tag.tag().unwrap_or("latest").to_string();
    let url = registry.url("manifests", &tag_name);
    let resp = registry.push_request("Put", &url, &Payload::Bytes(&manifest, media_type))?;
    if !(200..=202).contains(&resp.status().as_u16()) {
        return Err(Registry::push_error("Put", &url, resp));
    }
    let digest = Digest::sha256_of(&manifest).to_string();
    record_digest(store, image, tag, &digest)?;
    progress.plain(&format!(
        "{tag_name}: digest: {digest} size: {}",
        manifest.len()
    ));
    progress.aux(json!({"Tag": tag_name, "Digest": digest, "Size": manifest.len()}));
    Ok(Pushed {
        tag: tag_name,
        digest,
        size: manifest.len(),
    })
}

/// The image's layer blobs, in order, each once (opened now: a concurrent `rmi` cannot take
/// them away mid-push).
fn layer_blobs(store: &ImageStore, image: &ImageRecord) -> Result<Vec<Blob>, PullError> {
    let mut out: Vec<Blob> = Vec::new();
    for diff_id in &image.diff_ids {
        let id = diff_id
            .strip_prefix("sha256:")
            .unwrap_or(diff_id)
            .chars()
            .take(12)
            .collect::<String>();
        if out.iter().any(|b| b.id == id) {
            continue;
        }
        let unkept = || {
            PullError::from(ImageError::Unsupported {
                what: format!("image {}: layer {diff_id}", image.id),
                reason: "its original blob was not kept (the image was imported by an older \
                         ebrun); remove the image and import or pull it again"
                    .into(),
            })
        };
        let meta = store.layer_meta(diff_id).ok_or_else(unkept)?;
        let file = File::open(store.layer_blob(diff_id)).map_err(|_| unkept())?;
        let (Some(digest), Some(size)) = (meta.blob_digest.as_deref(), meta.blob_size) else {
            return Err(unkept());
        };
        let digest =
            Digest::parse(digest).map_err(|reason| ImageError::malformed(diff_id, reason))?;
        let blob = match meta.compression.as_deref() {
            Some("gzip") => Blob {
                file,
                digest,
                size,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
                id,
            },
            Some("zstd") => Blob {
                file,
                digest,
                size,
                media_type: "application/vnd.oci.image.layer.v1.tar+zstd",
                id,
            },
            _ => gzip(store, file, id)?,
        };
        out.push(blob);
    }
    Ok(out)
}

/// Hashes what is written through it.
struct HashingWriter {
    inner: File,
    hasher: Hasher,
    count: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An uncompressed layer gzipped into an unnamed file of the store's filesystem.
fn gzip(store: &ImageStore, mut tar: File, id: String) -> Result<Blob, PullError> {
    let what = format!("layer {id}");
    let out = tempfile::tempfile_in(store.dir()).map_err(io("create a file in", "the store"))?;
    let writer = HashingWriter {
        inner: out,
        hasher: Hasher::new(Algorithm::Sha256),
        count: 0,
    };
    let mut encoder = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, writer),
        flate2::Compression::default(),
    );
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = tar.read(&mut buf).map_err(io("read", &what))?;
        if n == 0 {
            break;
        }
        encoder
            .write_all(&buf[..n])
            .map_err(io("compress", &what))?;
    }
    let writer = encoder
        .finish()
        .map_err(io("compress", &what))?
        .into_inner()
        .map_err(|e| PullError::Io {
            op: "compress",
            path: what.clone().into(),
            source: e.into_error(),
        })?;
    Ok(Blob {
        size: writer.count,
        digest: writer.hasher.finish(),
        file: writer.inner,
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
        id,
    })
}

/// The stored manifest when it names exactly these blobs (the image keeps its digest), else
/// a new OCI manifest; its bytes and media type.
fn manifest_for(
    store: &ImageStore,
    image: &ImageRecord,
    config: &Blob,
    layers: &[Blob],
) -> Result<(Vec<u8>, &'static str), PullError> {
    if let Some(stored) = stored_manifest(store, image, layers) {
        return Ok(stored);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": config.media_type,
            "digest": config.digest.to_string(),
            "size": config.size,
        },
        "layers": layers.iter().map(|b| json!({
            "mediaType": b.media_type,
            "digest": b.digest.to_string(),
            "size": b.size,
        })).collect::<Vec<_>>(),
    });
    let bytes =
        serde_json::to_vec(&manifest).map_err(|e| ImageError::malformed("the manifest", e))?;
    Ok((bytes, OCI_MANIFEST))
}

fn stored_manifest(
    store: &ImageStore,
    image: &ImageRecord,
    layers: &[Blob],
) -> Option<(Vec<u8>, &'static str)> {
    let digest = Digest::parse(image.manifest_digest.as_deref()?).ok()?;
    let bytes = std::fs::read(store.blob_path(digest.hex())).ok()?;
    if Digest::sha256_of(&bytes) != digest {
        return None;
    }
    let doc: Value = serde_json::from_slice(&bytes).ok()?;
    if doc["config"]["digest"].as_str() != Some(image.id.as_str()) {
        return None;
    }
    // The layers named must be the blobs pushed, in the image's order.
    let named: Vec<&str> = doc["layers"]
        .as_array()?
        .iter()
        .filter_map(|l| l["digest"].as_str())
        .collect();
    let expected: Vec<String> = image
        .diff_ids
        .iter()
        .map(|d| {
            let short: String = d.trim_start_matches("sha256:").chars().take(12).collect();
            layers
                .iter()
                .find(|b| b.id == short)
                .map(|b| b.digest.to_string())
                .unwrap_or_default()
        })
        .collect();
    if named != expected {
        return None;
    }
    let media_type = match doc["mediaType"].as_str() {
        Some("application/vnd.docker.distribution.manifest.v2+json") => {
            "application/vnd.docker.distribution.manifest.v2+json"
        }
        Some(OCI_MANIFEST) | None => OCI_MANIFEST,
        Some(_) => return None,
    };
    Some((bytes, media_type))
}

fn blob_exists(registry: &Registry, digest: &Digest) -> Result<bool, PullError> {
    let url = registry.url("blobs", &digest.to_string());
    let resp = registry.push_request("Head", &url, &Payload::Empty)?;
    match resp.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(Registry::push_error("Head", &url, resp)),
    }
}

/// A monolithic upload: `POST` opens it, one `PUT` with the digest sends the blob.
fn upload(
    registry: &Registry,
    blob: &Blob,
    bar: Option<&LayerProgress<'_>>,
) -> Result<(), PullError> {
    let start = registry.url("blobs", "uploads/");
    let resp = registry.push_request("Post", &start, &Payload::Empty)?;
    if resp.status().as_u16() != 202 {
        return Err(Registry::push_error("Post", &start, resp));
    }
    let location = location(registry, &start, &resp)?;
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = format!("{location}{separator}digest={}", blob.digest);
    let reported = Mutex::new(0u64);
    let sent = |total: u64| {
        if let (Some(bar), Ok(mut before)) = (bar, reported.lock()) {
            if total > *before {
                bar.inc(total - *before);
                *before = total;
            }
        }
    };
    let resp = registry.push_request("Put", &put, &Payload::File(&blob.file, &sent))?;
    if !matches!(resp.status().as_u16(), 201 | 204) {
        return Err(Registry::push_error("Put", &put, resp));
    }
    Ok(())
}

fn location(registry: &Registry, url: &str, resp: &Response) -> Result<String, PullError> {
    resp.headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(|l| registry.absolute(l))
        .ok_or_else(|| PullError::Request {
            method: "Post",
            url: url.to_string(),
            message: "the registry named no upload location".into(),
        })
}

/// Records `repo@digest` for the pushed image (dockerd's `addDigestReference`).
fn record_digest(
    store: &ImageStore,
    image: &ImageRecord,
    tag: &Reference,
    digest: &str,
) -> Result<(), PullError> {
    let _lock = store.lock()?;
    if store.read_record(image.hex())?.is_none() {
        return Ok(());
    }
    let mut repos = store.read_repositories()?;
    repos.set(&tag.with_digest(digest), &image.id);
    store.write_repositories(&repos)?;
    Ok(())
}
