//! The parts of Docker's image config that the OCI image spec does not have: `Healthcheck`,
//! `OnBuild`, `Shell` (and `ArgsEscaped`). `oci_spec`'s [`ImageConfiguration`] drops them
//! when it parses a config, so they are read from the config blob the store keeps byte for
//! byte (`blobs/sha256/<image id>`), and `build`/`commit` write them back into the blob.
//!
//! [`ImageConfiguration`]: oci_spec::image::ImageConfiguration

use serde::{Deserialize, Serialize};

use super::{ImageError, ImageRecord, ImageStore};

/// Docker's `HealthConfig` (image `config.Healthcheck`, container `Config.Healthcheck`).
/// Durations are nanoseconds; 0 means "inherit / default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` disabled, `["CMD", args...]` exec, `["CMD-SHELL", cmd]` shell.
    #[serde(rename = "Test", default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl HealthConfig {
    /// Whether the test is `["NONE"]` (health checks disabled).
    pub fn is_disabled(&self) -> bool {
        self.test.first().map(String::as_str) == Some("NONE")
    }
}

/// The Docker-only fields of an image's `config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerExtras {
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<HealthConfig>,
    /// ONBUILD triggers, as written after `ONBUILD ` in the Dockerfile.
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// The SHELL instruction's shell (default `["/bin/sh", "-c"]`).
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
}

impl DockerExtras {
    /// Reads the extras from a config document (the whole image config JSON).
    pub fn from_config_json(config: &serde_json::Value) -> DockerExtras {
        config
            .get("config")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default()
    }

    /// Writes the extras into a config document's `config` object (creating it if absent);
    /// fields that are `None` are removed.
    pub fn write_into(&self, config: &mut serde_json::Value) {
        let Some(doc) = config.as_object_mut() else {
            return;
        };
        let inner = doc
            .entry("config")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        let Some(inner) = inner.as_object_mut() else {
            return;
        };
        for key in ["Healthcheck", "OnBuild", "Shell", "ArgsEscaped"] {
            inner.remove(key);
        }
        if let Ok(serde_json::Value::Object(extra)) = serde_json::to_value(self) {
            inner.extend(extra);
        }
    }
}

impl ImageStore {
    /// The image's config blob, parsed as plain JSON (every field the image has).
    pub fn config_json(&self, image: &ImageRecord) -> Result<serde_json::Value, ImageError> {
        let path = self.blob_path(image.hex());
        let bytes = std::fs::read(&path).map_err(ImageError::io_fn("read", &path))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::malformed(&image.id, format!("invalid image config: {e}")))
    }

    /// The Docker-only config fields of `image` (none when its blob cannot be read).
    pub fn docker_extras(&self, image: &ImageRecord) -> DockerExtras {
        self.config_json(image)
            .map(|c| DockerExtras::from_config_json(&c))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_round_trip_through_a_config_document() {
        let mut doc = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Healthcheck": {"Test": ["CMD", "old"]}},
        });
        let read = DockerExtras::from_config_json(&doc);
        assert_eq!(read.healthcheck.unwrap().test, ["CMD", "old"]);
        let extras = DockerExtras {
            healthcheck: Some(HealthConfig {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: 5_000_000_000,
                retries: 3,
                ..Default::default()
            }),
            on_build: Some(vec!["RUN echo hi".into()]),
            shell: None,
            args_escaped: false,
        };
        extras.write_into(&mut doc);
        assert_eq!(doc["config"]["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(
            doc["config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64, "Retries": 3})
        );
        assert_eq!(DockerExtras::from_config_json(&doc), extras);
        assert!(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }
        .is_disabled());
    }
}
