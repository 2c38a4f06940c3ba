//! The JSON `docker image inspect` prints for an image (Docker 25+ shape).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{ImageRecord, ImageStore};

/// Docker's zero time, shown for unknown times.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One element of `docker image inspect`'s array.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: InspectConfig,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: u64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub metadata: Metadata,
}

/// The image's execution defaults, in Docker's field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectConfig {
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub volumes: Option<BTreeMap<String, Value>>,
    pub working_dir: String,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::HealthConfig>,
    pub on_build: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub data: BTreeMap<String, String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    pub last_tag_time: String,
}

fn go_set(v: &Option<Vec<String>>) -> Option<BTreeMap<String, Value>> {
    v.as_ref().map(|keys| {
        keys.iter()
            .map(|k| (k.clone(), Value::Object(Default::default())))
            .collect()
    })
}

/// What `docker image inspect` shows for `image`. GraphDriver data names the layer
/// directories as overlay2 does: `UpperDir` the top layer, `LowerDir` the others, top first.
pub fn inspect(store: &ImageStore, image: &ImageRecord) -> ImageInspect {
    let exec = image.exec_config();
    let document = store.config_json(image).unwrap_or_default();
    let extras = super::DockerExtras::from_config_json(&document);
    let config = InspectConfig {
        user: exec.and_then(|c| c.user().clone()).unwrap_or_default(),
        exposed_ports: exec.and_then(|c| go_set(c.exposed_ports())),
        env: exec.and_then(|c| c.env().clone()),
        entrypoint: exec.and_then(|c| c.entrypoint().clone()),
        cmd: exec.and_then(|c| c.cmd().clone()),
        volumes: exec.and_then(|c| go_set(c.volumes())),
        working_dir: exec
            .and_then(|c| c.working_dir().clone())
            .unwrap_or_default(),
        labels: exec
            .and_then(|c| c.labels().clone())
            .map(|l| l.into_iter().collect()),
        stop_signal: exec.and_then(|c| c.stop_signal().clone()),
        healthcheck: extras.healthcheck,
        on_build: extras.on_build,
        shell: extras.shell,
        args_escaped: extras.args_escaped,
    };
    let mut dirs: Vec<String> = store
        .layer_dirs(image)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut data = BTreeMap::new();
    if let Some(top) = dirs.pop() {
        data.insert("UpperDir".to_string(), top);
    }
    if !dirs.is_empty() {
        dirs.reverse();
        data.insert("LowerDir".to_string(), dirs.join(":"));
    }
    ImageInspect {
        id: image.id.clone(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        parent: image.parent.clone().unwrap_or_default(),
        comment: document
            .get("comment")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        created: image
            .created
            .clone()
            .unwrap_or_else(|| ZERO_TIME.to_string()),
        docker_version: String::new(),
        author: image.config.author().clone().unwrap_or_default(),
        config,
        architecture: image.architecture(),
        variant: image.config.variant().clone(),
        os: image.os(),
        size: image.size,
        graph_driver: GraphDriver {
            data,
            name: "overlay2".to_string(),
        },
        root_fs: RootFs {
            kind: "layers".to_string(),
            layers: image.diff_ids.clone(),
        },
        metadata: Metadata {
            last_tag_time: if image.repo_tags.is_empty() {
                ZERO_TIME.to_string()
            } else {
                image
                    .last_tag_time
                    .clone()
                    .or_else(|| image.loaded_at.clone())
                    .unwrap_or_else(|| ZERO_TIME.to_string())
            },
        },
    }
}
