//! What the store knows about one image.

use chrono::{DateTime, Utc};
use oci_spec::image::{Config, ImageConfiguration};
use serde::{Deserialize, Serialize};

/// One image: its id, the names pointing at it, its config and its layers.
///
/// Stored as `images/<hex>.json`; `repo_tags` and `repo_digests` are not stored there but
/// filled in from `repositories.json` (the one file that maps names to ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<hex of the config blob>`, Docker's image id.
    pub id: String,
    /// Tags in Docker's familiar form: `busybox:latest`, `localhost:5000/x/y:tag`.
    #[serde(default)]
    pub repo_tags: Vec<String>,
    /// Digest references: `busybox@sha256:<manifest digest>`.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// The image configuration (entrypoint, cmd, env, ...).
    pub config: ImageConfiguration,
    /// Uncompressed layer digests, bottom layer first (the config's `rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
    /// Creation time from the config (RFC 3339), if it has one.
    pub created: Option<String>,
    /// Sum of the unpacked layers' content bytes.
    pub size: u64,
    /// Each layer's unpacked content bytes, in `diff_ids` order.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
    /// Digest of the manifest the image was imported from (none for legacy `docker save`).
    #[serde(default)]
    pub manifest_digest: Option<String>,
    /// When this image was imported (RFC 3339).
    #[serde(default)]
    pub loaded_at: Option<String>,
    /// When `tag` last named it (RFC 3339): Docker's `Metadata.LastTagTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
    /// The image this one was made from by `build` or `commit` (Docker's `Parent`): one step
    /// of a build, or the container's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The build step that made this image from `parent` (the classic builder's cache key:
    /// the instruction with its arguments, build args and copied content's checksum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_key: Option<String>,
}

impl ImageRecord {
    /// The id's hex part (64 digits).
    pub fn hex(&self) -> &str {
        self.id.strip_prefix("sha256:").unwrap_or(&self.id)
    }

    /// The first 12 hex digits, as Docker shows ids.
    pub fn short_id(&self) -> &str {
        let hex = self.hex();
        &hex[..hex.len().min(12)]
    }

    /// The creation time, parsed.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.with_timezone(&Utc))
    }

    /// The execution defaults (entrypoint, cmd, env, user, workdir, ...), if any.
    pub fn exec_config(&self) -> Option<&Config> {
        self.config.config().as_ref()
    }

    /// GOARCH-style architecture (`amd64`).
    pub fn architecture(&self) -> String {
        self.config.architecture().to_string()
    }

    /// GOOS-style OS (`linux`).
    pub fn os(&self) -> String {
        self.config.os().to_string()
    }

    /// The platform the config names (`linux/arm64/v8`), normalized.
    pub fn platform(&self) -> super::Platform {
        super::Platform::new(
            &self.os(),
            &self.architecture(),
            self.config.variant().as_deref(),
        )
    }

    /// Whether no tag points at the image (Docker's "dangling", shown as `<none>:<none>`).
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty()
    }
}
