//! `ebrun pull`: images from registries over the OCI distribution protocol.
//!
//! - [`client`]: the HTTP side (ureq): manifests, blobs with `Range`, bearer tokens and basic
//!   auth answering a registry's `401` challenge
//! - [`credentials`]: `login`/`logout` credentials in Docker's `config.json` (0600)
//! - [`insecure`]: daemon.json `insecure-registries` (plain HTTP only for those)
//! - [`download`]: blobs into `<images>/downloads/`, resumable, verified
//! - [`progress`]: a bar per layer on a terminal, Docker's status lines otherwise
//!
//! A pull fetches the manifest (a multi-platform index is resolved to the host's platform, or
//! the one `--platform` names),
//! the config, and, in parallel, the layers the store lacks. The verified blobs are then
//! laid out as an OCI layout and imported by the store's own import, which checks every
//! digest again, unpacks each missing layer into a temporary directory and commits the image
//! atomically. A pull killed at any point leaves no image and no layer half-visible; the
//! blobs it completed (and the part of the one it was downloading) are reused by the next.
//!
//! Only one pull per store downloads at a time (`downloads/.lock`): parallel pulls of the same
//! layer would write the same file.

pub mod client;
pub mod credentials;
pub mod download;
pub mod insecure;
pub mod progress;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, ImageManifest};

use super::digest::Digest;
use super::platform::Platform;
use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};
use crate::state::StateLock;
use crate::Paths;
pub use client::Credentials;
use client::Registry;
pub use progress::Output;

/// Most layers downloaded at once (Docker's default).
const PARALLEL_DOWNLOADS: usize = 3;
/// Largest manifest or config we read.
const MAX_DOCUMENT: u64 = 16 << 20;
const DOWNLOADS_DIR: &str = "downloads";
const LAYOUT_PREFIX: &str = "layout-";
/// How long blobs of an unfinished pull are kept for the next one.
const KEEP_DOWNLOADS: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Errors of a pull, push, login or logout; messages follow Docker's.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Store(#[from] ImageError),
    #[error("Get \"{url}\": {message}")]
    Http { url: String, message: String },
    #[error("{}", status_message(*status, url, message))]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{method} \"{url}\": unauthorized: {}", if *with_credentials { "incorrect username or password" } else { "authentication required (log in with `ebrun login`)" })]
    Unauthorized {
        /// Go's name of the request (`Get`, `Put`, ...), as Docker's messages show it.
        method: &'static str,
        url: String,
        with_credentials: bool,
    },
    /// A request of a push that failed before any answer, or was answered with an error.
    #[error("{method} \"{url}\": {message}")]
    Request {
        method: &'static str,
        url: String,
        message: String,
    },
    /// `push NAME:TAG` of a tag the store does not have.
    #[error("tag does not exist: {0}")]
    NoSuchTag(String),
    /// `push NAME` of a repository without any tag in the store.
    #[error("An image does not exist locally with the tag: {0}")]
    NotLocal(String),
    #[error("login attempt to {url} failed with status: {status}")]
    LoginFailed { url: String, status: String },
    #[error("filesystem layer verification failed for digest {digest}: {reason}")]
    Verification { digest: String, reason: String },
    #[error("{what}: {reason}")]
    Manifest { what: String, reason: String },
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoPlatform(String),
    #[error("{0}")]
    Config(String),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn status_message(status: u16, url: &str, message: &str) -> String {
    match status {
        404 => format!("{message} (GET {url}: 404 Not Found)"),
        403 => format!("denied: requested access to the resource is denied ({message})"),
        _ => format!("GET {url}: status {status}: {message}"),
    }
}

impl From<PullError> for crate::container::ContainerError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Store(i) => crate::container::ContainerError::Image(i),
            other => crate::container::ContainerError::InvalidState(other.to_string()),
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: ImageRecord,
    /// The digest of what the reference points to (an index for multi-platform images).
    pub digest: String,
    /// `docker.io/library/busybox:latest`.
    pub full_name: String,
    /// Nothing new: the image was there and the name already pointed at it.
    pub up_to_date: bool,
    /// Layer blobs downloaded (0 when everything was in the store).
    pub downloaded: usize,
}

/// The reference as Docker prints it in full (`docker.io/library/busybox:latest`).
fn full_name(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => format!("{}@{d}", r.name()),
        (None, Some(t)) => format!("{}:{t}", r.name()),
        _ => r.name(),
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PullError {
    let path = path.to_path_buf();
    move |source| PullError::Io { op, path, source }
}

/// A small document (manifest, config) by digest or tag, verified when the digest is known.
fn fetch_document(
    registry: &Registry,
    kind: &str,
    reference: &str,
    expected: Option<&Digest>,
    accept: Option<&str>,
) -> Result<(Vec<u8>, Digest, Option<String>), PullError> {
    let url = registry.url(kind, reference);
    let mut resp = registry.get(&url, accept, 0)?;
    let media_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
    let header_digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT)
        .read_to_vec()
        .map_err(|e| PullError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
    let algorithm = expected
        .map(Digest::algorithm)
        .unwrap_or(super::digest::Algorithm::Sha256);
    let actual = Digest::of(algorithm, &bytes);
    let claimed = match expected {
        Some(d) => Some(d.to_string()),
        None => header_digest.filter(|h| h.starts_with("sha256:")),
    };
    if let Some(claimed) = claimed {
        if claimed != actual.to_string() {
            return Err(PullError::Verification {
                digest: claimed,
                reason: format!("{kind} {reference} has digest {actual}"),
            });
        }
    }
    Ok((bytes, actual, media_type))
}

fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "application/vnd.oci.image.index.v1+json"
        | "application/vnd.docker.distribution.manifest.list.v2+json" => true,
        "application/vnd.oci.image.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v2+json" => false,
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("manifests").map(|_| true))
            .unwrap_or(false),
    }
}

/// Resolves an index to the manifest descriptor of platform `wanted`.
fn choose_platform(
    bytes: &[u8],
    what: &str,
    wanted: &Platform,
) -> Result<(Digest, String), PullError> {
    let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| PullError::Manifest {
        what: what.to_string(),
        reason: format!("invalid image index: {e}"),
    })?;
    let chosen = index
        .manifests()
        .iter()
        .find(|d| {
            d.platform().as_ref().is_some_and(|p| {
                wanted.matches(&Platform::new(
                    &p.os().to_string(),
                    &p.architecture().to_string(),
                    p.variant().as_deref(),
                ))
            })
        })
        .ok_or_else(|| PullError::NoPlatform(wanted.to_string()))?;
    let digest = Digest::parse(chosen.digest().as_ref()).map_err(|reason| PullError::Manifest {
        what: what.to_string(),
        reason,
    })?;
    Ok((digest, chosen.media_type().to_string()))
}

/// The store's download directory, locked for this pull, with leftovers of killed pulls'
/// layouts swept. Their blobs stay for the next pull to resume or reuse, for a day.
fn downloads(store: &ImageStore) -> Result<(PathBuf, StateLock), PullError> {
    let dir = store.dir().join(DOWNLOADS_DIR);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let lock = StateLock::exclusive(&dir.join(".lock")).map_err(ImageError::from)?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(LAYOUT_PREFIX) {
                let _ = std::fs::remove_dir_all(e.path());
            } else if e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > KEEP_DOWNLOADS)
            }) && e.file_name() != ".lock"
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok((dir, lock))
}

/// Pulls `reference` (`NAME[:TAG]`, `NAME@DIGEST`) for the host's platform into this
/// instance's store.
pub fn pull(paths: &Paths, reference: &str, output: Output) -> Result<Pulled, PullError> {
    pull_platform(paths, reference, output, None)
}

/// [`pull`] choosing `platform` (default: the host's) from a multi-platform index.
pub fn pull_platform(
    paths: &Paths,
    reference: &str,
    output: Output,
    platform: Option<&Platform>,
) -> Result<Pulled, PullError> {
    pull_as(paths, reference, output, platform, None)
}

/// [`pull_platform`] with the client's credentials (the Engine API's `X-Registry-Auth`)
/// instead of the ones `ebrun login` stored; `None`: the stored ones.
pub fn pull_as(
    paths: &Paths,
    reference: &str,
    output: Output,
    platform: Option<&Platform>,
    credentials: Option<Credentials>,
) -> Result<Pulled, PullError> {
    let wanted_platform = platform.cloned().unwrap_or_else(Platform::host);
    let parsed = Reference::parse(reference)?;
    let progress = progress::Progress::new(output);
    if parsed.tag().is_none() && parsed.digest().is_none() {
        progress.line("Using default tag: latest");
    }
    let r = parsed.with_default_tag();
    let store = ImageStore::open(paths)?;
    let insecure = insecure::is_insecure(r.domain(), &insecure::insecure_registries(paths)?);
    let creds = match credentials {
        Some(c) => Some(c),
        None => credentials::lookup(r.domain())?,
    };
    let registry = Registry::new(r.domain(), r.path(), insecure, creds);
    let wanted = r.digest().or(r.tag()).unwrap_or("latest").to_string();
    progress.line(&format!("{wanted}: Pulling from {}", r.path()));

    let top_expected = match r.digest() {
        Some(d) => Some(
            Digest::parse(d).map_err(|reason| ImageError::InvalidReference {
                reference: reference.to_string(),
                reason,
            })?,
        ),
        None => None,
    };
    let (mut bytes, top_digest, media_type) = fetch_document(
        &registry,
        "manifests",
        &wanted,
        top_expected.as_ref(),
        Some(client::MANIFEST_ACCEPT),
    )
    .map_err(|e| match e {
        PullError::Status { status: 404, .. } => PullError::Manifest {
            what: format!("manifest for {}", r.familiar()),
            reason: "not found: manifest unknown".into(),
        },
        other => other,
    })?;
    let mut media_type = media_type.unwrap_or_default();
    let mut manifest_digest = top_digest.clone();
    if is_index(&media_type, &bytes) {
        let (digest, mt) =
            choose_platform(&bytes, &format!("index {top_digest}"), &wanted_platform)?;
        let (b, _, _) = fetch_document(
            &registry,
            "manifests",
            &digest.to_string(),
            Some(&digest),
            Some(client::MANIFEST_ACCEPT),
        )?;
        bytes = b;
        media_type = mt;
        manifest_digest = digest;
    }
    let what = format!("manifest {manifest_digest}");
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| PullError::Manifest {
            what: what.clone(),
            reason: format!("invalid image manifest: {e}"),
        })?;
    if media_type.is_empty() {
        media_type = manifest
            .media_type()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
    }
    let config_digest = Digest::parse(manifest.config().digest().as_ref()).map_err(|reason| {
        PullError::Manifest {
            what: what.clone(),
            reason,
        }
    })?;

    let name_ref = r.clone();
    let repos_before = store.read_repositories()?;
    let existing = store.read_record(config_digest.hex())?;
    // Complete: every layer unpacked, with its blob (a layer stored by an older ebrun
    // without it is downloaded again so that the image can be saved).
    let complete = existing.as_ref().is_some_and(|rec| {
        rec.diff_ids
            .iter()
            .all(|d| store.layer_meta(d).is_some() && !store.lacks_blob(d))
    });
    let (image, downloaded) = if complete {
        for layer in manifest.layers() {
            progress.line(&format!(
                "{}: Already exists",
                short(layer.digest().as_ref())
            ));
        }
        (existing.clone().expect("complete implies existing"), 0)
    } else {
        fetch_and_import(
            &store,
            &registry,
            &manifest,
            &bytes,
            &media_type,
            &manifest_digest,
            &config_digest,
            &progress,
        )?
    };
    let up_to_date =
        complete && repos_before.get(&name_ref).map(String::as_str) == Some(image.id.as_str());
    let image = name_image(&store, &image, &name_ref, &top_digest, &manifest_digest)?;
    progress.line(&format!("Digest: {top_digest}"));
    let familiar = name_ref.familiar();
    progress.line(&if up_to_date {
        format!("Status: Image is up to date for {familiar}")
    } else {
        format!("Status: Downloaded newer image for {familiar}")
    });
    store.event("pull", &familiar, &name_ref.familiar_name());
    Ok(Pulled {
        image,
        digest: top_digest.to_string(),
        full_name: full_name(&name_ref),
        up_to_date,
        downloaded,
    })
}

/// Downloads the config and the missing layers, then imports them as one OCI layout.
#[allow(clippy::too_many_arguments)]
fn fetch_and_import(
    store: &ImageStore,
    registry: &Registry,
    manifest: &ImageManifest,
    manifest_bytes: &[u8],
    media_type: &str,
    manifest_digest: &Digest,
    config_digest: &Digest,
    progress: &progress::Progress,
) -> Result<(ImageRecord, usize), PullError> {
    let (dir, _lock) = downloads(store)?;
    let (config_bytes, _, _) = fetch_document(
        registry,
        "blobs",
        &config_digest.to_string(),
        Some(config_digest),
        None,
    )?;
    let config = super::import::parse_config(&config_bytes, &format!("config {config_digest}"))?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(PullError::Manifest {
            what: format!("manifest {manifest_digest}"),
            reason: format!(
                "{} layers but the config lists {} diff ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        });
    }
    let mut todo: Vec<(Digest, u64)> = Vec::new();
    let mut seen = HashSet::new();
    for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let digest =
            Digest::parse(layer.digest().as_ref()).map_err(|reason| PullError::Manifest {
                what: format!("manifest {manifest_digest}"),
                reason,
            })?;
        if store.layer_meta(diff_id).is_some() && !store.lacks_blob(diff_id) {
            progress.line(&format!("{}: Already exists", short(&digest.to_string())));
        } else if seen.insert(digest.clone()) {
            todo.push((digest, layer.size()));
        }
    }
    download_all(registry, &dir, &todo, progress)?;

    // An OCI layout of the verified blobs, imported by the store's own import.
    let layout = tempfile::Builder::new()
        .prefix(LAYOUT_PREFIX)
        .tempdir_in(&dir)
        .map_err(io("create temp dir in", &dir))?;
    let blobs = layout.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io("create", &blobs))?;
    let write = |name: &str, bytes: &[u8]| {
        let p = layout.path().join(name);
        std::fs::write(&p, bytes).map_err(io("write", &p))
    };
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": media_type,
            "digest": manifest_digest.to_string(),
            "size": manifest_bytes.len(),
        }],
    });
    write("index.json", index.to_string().as_bytes())?;
    write(
        &format!("blobs/sha256/{}", manifest_digest.hex()),
        manifest_bytes,
    )?;
    write(
        &format!("blobs/sha256/{}", config_digest.hex()),
        &config_bytes,
    )?;
    for (digest, _) in &todo {
        let from = download::complete_path(&dir, digest);
        let to = blobs.join(digest.hex());
        std::fs::hard_link(&from, &to).map_err(io("link", &to))?;
    }
    let outcome = store
        .without_events()
        .import_all(layout.path(), None, false)?;
    let image = outcome
        .loaded
        .into_iter()
        .next()
        .map(|l| l.image)
        .ok_or_else(|| PullError::Manifest {
            what: format!("manifest {manifest_digest}"),
            reason: "the import produced no image".into(),
        })?;
    for (digest, _) in &todo {
        let _ = std::fs::remove_file(download::complete_path(&dir, digest));
        progress.line(&format!("{}: Pull complete", short(&digest.to_string())));
    }
    Ok((image, todo.len()))
}

/// Downloads `todo` with up to [`PARALLEL_DOWNLOADS`] threads (all joined before return).
fn download_all(
    registry: &Registry,
    dir: &Path,
    todo: &[(Digest, u64)],
    progress: &progress::Progress,
) -> Result<(), PullError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error: std::sync::Mutex<Option<PullError>> = std::sync::Mutex::new(None);
    let bars: Vec<_> = todo
        .iter()
        .map(|(d, size)| progress.layer(&d.hex()[..12], *size))
        .collect();
    let bars = &bars;
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_DOWNLOADS.min(todo.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= todo.len() || first_error.lock().expect("lock").is_some() {
                    return;
                }
                let (digest, size) = &todo[i];
                if let Err(e) = download::download(registry, dir, digest, *size, Some(&bars[i])) {
                    first_error.lock().expect("lock").get_or_insert(e);
                    return;
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    for bar in bars.iter() {
        bar.status("Download complete");
    }
    Ok(())
}

/// Points the pulled reference (and `repo@digest`) at the image, as Docker records them.
fn name_image(
    store: &ImageStore,
    image: &ImageRecord,
    reference: &Reference,
    top_digest: &Digest,
    manifest_digest: &Digest,
) -> Result<ImageRecord, PullError> {
    let _lock = store.lock()?;
    if store.read_record(image.hex())?.is_none() {
        return Err(ImageError::NotFound {
            reference: image.id.clone(),
            local: false,
        }
        .into());
    }
    let mut repos = store.read_repositories()?;
    if reference.digest().is_none() {
        repos.set(reference, &image.id);
    }
    repos.set(&reference.with_digest(&top_digest.to_string()), &image.id);
    if manifest_digest != top_digest {
        let platform = reference.with_digest(&manifest_digest.to_string());
        if repos.get(&platform).is_some_and(|id| *id == image.id) {
            repos.remove(&platform);
        }
    }
    store.write_repositories(&repos)?;
    let mut record = image.clone();
    repos.attach(&mut record);
    Ok(record)
}

/// `ebrun run` of an image that is not in the store: Docker's notice on stderr, then a pull
/// with its progress on stderr. Only names are pulled, never ids.
pub fn pull_missing(paths: &Paths, reference: &str) -> Result<ImageRecord, PullError> {
    pull_missing_platform(paths, reference, None)
}

/// [`pull_missing`] for `platform` (`run --platform`).
pub fn pull_missing_platform(
    paths: &Paths,
    reference: &str,
    platform: Option<&Platform>,
) -> Result<ImageRecord, PullError> {
    let parsed = Reference::parse(reference)?.with_default_tag();
    eprintln!("Unable to find image '{}' locally", parsed.familiar());
    Ok(pull_platform(paths, reference, Output::Stderr, platform)?.image)
}

/// The 12-digit short form of a digest Docker uses for layer lines.
fn short(digest: &str) -> &str {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
