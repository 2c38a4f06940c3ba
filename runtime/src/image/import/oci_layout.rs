//! Reading an OCI image layout (a directory, or an OCI archive: the layout tarred):
//! `oci-layout`, `index.json`, `blobs/<alg>/<hex>`. Nested indexes (multi-platform images)
//! are resolved to the host's platform. Every blob read is checked against its descriptor.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType, ANNOTATION_REF_NAME};
use serde::Deserialize;
use tracing::{debug, warn};

use super::source::Source;
use super::{parse_config, PendingImage, PendingLayer};
use crate::image::digest::Digest;
use crate::image::reference::Reference;
use crate::image::ImageError;

/// containerd's (and Docker's) annotation holding the full image name.
pub(crate) const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const MAX_NESTING: usize = 4;

#[derive(Deserialize)]
struct LayoutHeader {
    #[serde(rename = "imageLayoutVersion")]
    image_layout_version: String,
}

/// The images of the layout in `src`.
pub(crate) fn read(src: &dyn Source) -> Result<Vec<PendingImage>, ImageError> {
    if src.exists("oci-layout") {
        let bytes = src.read_all("oci-layout", "oci-layout file")?;
        let header: LayoutHeader = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::malformed(format!("{}: oci-layout", src.name()), e))?;
        if !header.image_layout_version.starts_with("1.") {
            return Err(ImageError::Unsupported {
                what: format!("{}: oci-layout", src.name()),
                reason: format!(
                    "imageLayoutVersion {:?} (expected 1.x)",
                    header.image_layout_version
                ),
            });
        }
    } else {
        warn!(
            "{} has no oci-layout file; reading index.json anyway",
            src.name()
        );
    }
    let bytes = src.read_all("index.json", "index.json")?;
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| ImageError::malformed(format!("{}: index.json", src.name()), e))?;

    let mut images: Vec<PendingImage> = Vec::new();
    let top = select_platform(index.manifests(), true);
    for desc in top {
        let names = names_from_annotations(desc.annotations().as_ref());
        let mut found = Vec::new();
        collect_manifests(src, desc, 0, &mut found)?;
        for manifest_desc in found {
            if let Some(image) = read_image(src, &manifest_desc, names.clone())? {
                match images
                    .iter_mut()
                    .find(|i| i.config_digest == image.config_digest)
                {
                    Some(existing) => {
                        for n in image.names {
                            if !existing.names.contains(&n) {
                                existing.names.push(n);
                            }
                        }
                    }
                    None => images.push(image),
                }
            }
        }
    }
    if images.is_empty() {
        return Err(ImageError::malformed(
            format!("{}: index.json", src.name()),
            format!("no image for {}/{} in the layout", host_os(), host_arch()),
        ));
    }
    Ok(images)
}

/// Names an index entry gives its image: containerd's full name, else `ref.name` when it is a
/// full reference (`busybox:1.36`, `docker.io/x/y`); a bare tag (`latest`) names no repository.
pub(crate) fn names_from_annotations(ann: Option<&HashMap<String, String>>) -> Vec<Reference> {
    let Some(ann) = ann else { return Vec::new() };
    if let Some(n) = ann.get(ANNOTATION_CONTAINERD_NAME) {
        match Reference::parse_with_default_tag(n) {
            Ok(r) => return vec![r],
            Err(e) => warn!("ignoring image name annotation {n:?}: {e}"),
        }
    }
    if let Some(n) = ann.get(ANNOTATION_REF_NAME) {
        if n.contains([':', '/']) {
            match Reference::parse_with_default_tag(n) {
                Ok(r) => return vec![r],
                Err(e) => warn!("ignoring {ANNOTATION_REF_NAME} {n:?}: {e}"),
            }
        } else {
            debug!(
                "{ANNOTATION_REF_NAME} {n:?} is only a tag; the image stays untagged unless named"
            );
        }
    }
    Vec::new()
}

fn is_manifest(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageManifest) || mt.as_ref() == DOCKER_MANIFEST
}

fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex) || mt.as_ref() == DOCKER_MANIFEST_LIST
}

/// Follows `desc` down to image manifests, choosing the host platform in indexes.
fn collect_manifests(
    src: &dyn Source,
    desc: &Descriptor,
    depth: usize,
    out: &mut Vec<Descriptor>,
) -> Result<(), ImageError> {
    let mt = desc.media_type();
    if is_manifest(mt) {
        out.push(desc.clone());
        return Ok(());
    }
    if !is_index(mt) {
        debug!("skipping {} of media type {mt}", desc.digest());
        return Ok(());
    }
    if depth >= MAX_NESTING {
        return Err(ImageError::malformed(
            src.name(),
            format!("image indexes nested more than {MAX_NESTING} deep"),
        ));
    }
    let what = format!("{}: image index {}", src.name(), desc.digest());
    let bytes = read_blob(src, desc, &what)?;
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::malformed(&what, e))?;
    let chosen = select_platform(index.manifests(), false);
    if chosen.is_empty() {
        let available: Vec<String> = index
            .manifests()
            .iter()
            .filter_map(|d| d.platform().as_ref())
            .map(|p| format!("{}/{}", p.os(), p.architecture()))
            .collect();
        return Err(ImageError::Unsupported {
            what,
            reason: format!(
                "no manifest for {}/{} (available: {})",
                host_os(),
                host_arch(),
                available.join(", ")
            ),
        });
    }
    // In a nested index the first match is the image; extra matches are variants.
    collect_manifests(src, chosen[0], depth + 1, out)
}

/// The descriptors for this host: those without a platform, or with the host's OS and
/// architecture. Attestation manifests (`unknown/unknown`) are dropped. At the top level an
/// index with no platform information at all keeps everything.
fn select_platform(descs: &[Descriptor], top: bool) -> Vec<&Descriptor> {
    let matching: Vec<&Descriptor> = descs
        .iter()
        .filter(|d| {
            let attestation = d
                .annotations()
                .as_ref()
                .is_some_and(|a| a.contains_key("vnd.docker.reference.type"));
            if attestation {
                return false;
            }
            match d.platform() {
                None => true,
                Some(p) => {
                    p.os().to_string() == host_os() && p.architecture().to_string() == host_arch()
                }
            }
        })
        .collect();
    if top && matching.is_empty() {
        return descs.iter().collect();
    }
    matching
}

/// Reads one image manifest and its config. `None` for non-image artifacts.
fn read_image(
    src: &dyn Source,
    desc: &Descriptor,
    names: Vec<Reference>,
) -> Result<Option<PendingImage>, ImageError> {
    let what = format!("{}: manifest {}", src.name(), desc.digest());
    let manifest_bytes = read_blob(src, desc, &what)?;
    let manifest: ImageManifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| ImageError::malformed(&what, e))?;
    let config_desc = manifest.config();
    let cmt = config_desc.media_type();
    if !matches!(cmt, MediaType::ImageConfig) && cmt.as_ref() != DOCKER_CONFIG {
        debug!("skipping {what}: config media type {cmt} is not an image config");
        return Ok(None);
    }
    let config_what = format!("{}: config {}", src.name(), config_desc.digest());
    let config_bytes = read_blob(src, config_desc, &config_what)?;
    let config = parse_config(&config_bytes, &config_what)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::malformed(
            &what,
            format!(
                "{} layers but the config lists {} diff ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::new();
    for (i, (layer, diff_id)) in manifest.layers().iter().zip(diff_ids).enumerate() {
        let digest = descriptor_digest(layer, &what)?;
        layers.push(PendingLayer {
            path: digest.blob_path(),
            blob_digest: Some(digest),
            blob_size: Some(layer.size()),
            media_type: Some(layer.media_type().to_string()),
            diff_id: diff_id.clone(),
            what: format!(
                "{}: layer {}/{} ({})",
                src.name(),
                i + 1,
                diff_ids.len(),
                layer.digest()
            ),
        });
    }
    Ok(Some(PendingImage {
        config_digest: Digest::sha256_of(&config_bytes),
        config_bytes,
        config,
        manifest: Some((descriptor_digest(desc, &what)?, manifest_bytes)),
        layers,
        names,
    }))
}

/// The descriptor's digest, validated (it becomes a path: it must be exactly ALG:HEX).
fn descriptor_digest(desc: &Descriptor, what: &str) -> Result<Digest, ImageError> {
    Digest::parse(desc.digest().as_ref()).map_err(|reason| ImageError::malformed(what, reason))
}

/// Reads the blob `desc` points to and checks its size and digest.
fn read_blob(src: &dyn Source, desc: &Descriptor, what: &str) -> Result<Vec<u8>, ImageError> {
    let digest = descriptor_digest(desc, what)?;
    let bytes = src.read_all(&digest.blob_path(), what)?;
    if bytes.len() as u64 != desc.size() {
        return Err(ImageError::SizeMismatch {
            what: what.to_string(),
            expected: desc.size(),
            actual: bytes.len() as u64,
        });
    }
    let actual = Digest::of(digest.algorithm(), &bytes);
    if actual != digest {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(bytes)
}

/// The host OS in GOOS terms.
pub(crate) fn host_os() -> &'static str {
    "linux"
}

/// The host architecture in GOARCH terms.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}
