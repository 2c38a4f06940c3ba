//! Making an image from another one (or from nothing): what `commit` and each step of `build`
//! do. The new config document is the base's with a new `config` object, the new layer's
//! diff id appended to `rootfs.diff_ids` and one more `history` entry (`empty_layer` for a
//! step that changed no files), as Docker's classic builder writes them.

use std::path::Path;

use serde_json::{json, Value};

use super::layer_pack;
use super::new_image::NewImage;
use super::platform::Platform;
use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};

/// One new image.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// The image it is made from; `None` for `FROM scratch` (and `import`).
    pub base: Option<&'a ImageRecord>,
    /// A container's upper directory whose changes become the new top layer; `None` for a
    /// step that only changes the config.
    pub changes: Option<&'a Path>,
    /// The new `config` object (Docker's names: `Env`, `Cmd`, `Entrypoint`, ...).
    pub config: Value,
    /// The history entry's `created_by` (`/bin/sh -c #(nop)  CMD ["sh"]`).
    pub created_by: String,
    /// `commit -m`: the history entry's and the image's comment.
    pub comment: Option<String>,
    /// `commit -a`.
    pub author: Option<String>,
    /// The container committed (Docker's `container` field).
    pub container: Option<String>,
    /// The platform of an image made from scratch (default: the host's).
    pub platform: Option<Platform>,
    pub parent: Option<String>,
    pub build_key: Option<String>,
    pub names: Vec<Reference>,
}

impl ImageStore {
    /// The config document of `base` (an empty one for scratch), to make a new image from.
    pub fn base_document(
        &self,
        base: Option<&ImageRecord>,
        platform: Option<&Platform>,
    ) -> Result<Value, ImageError> {
        match base {
            Some(b) => self.config_json(b),
            None => {
                let host = Platform::host();
                let p = platform.unwrap_or(&host);
                let mut doc = json!({
                    "architecture": p.architecture,
                    "os": p.os,
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "history": [],
                });
                if let Some(v) = &p.variant {
                    doc["variant"] = json!(v);
                }
                Ok(doc)
            }
        }
    }

    /// Makes the image `c` describes and adds it to the store.
    pub fn commit(&self, c: Commit<'_>) -> Result<ImageRecord, ImageError> {
        let mut doc = self.base_document(c.base, c.platform.as_ref())?;
        let scratch = self.build_scratch()?;
        let layer = match c.changes {
            Some(upper) => Some(layer_pack::pack_dir(upper, &scratch.path().join("layer"))?),
            None => None,
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| ImageError::malformed("base image", "config is not an object"))?;
        obj.insert("created".into(), json!(now));
        obj.insert("config".into(), c.config);
        for (key, value) in [
            ("author", &c.author),
            ("comment", &c.comment),
            ("container", &c.container),
        ] {
            match value {
                Some(v) => obj.insert(key.into(), json!(v)),
                None => obj.remove(key),
            };
        }
        let rootfs = obj
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        if let Some(layer) = &layer {
            match rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
                Some(ids) => ids.push(json!(layer.diff_id.to_string())),
                None => rootfs["diff_ids"] = json!([layer.diff_id.to_string()]),
            }
        }
        let mut entry = json!({"created": now, "created_by": c.created_by});
        if let Some(a) = &c.author {
            entry["author"] = json!(a);
        }
        if let Some(m) = &c.comment {
            entry["comment"] = json!(m);
        }
        if layer.is_none() {
            entry["empty_layer"] = json!(true);
        }
        match obj.get_mut("history").and_then(Value::as_array_mut) {
            Some(h) => h.push(entry),
            None => {
                obj.insert("history".into(), json!([entry]));
            }
        }
        let record = self.add_image(NewImage {
            config: doc,
            layer,
            parent: c.parent,
            build_key: c.build_key,
            names: c.names,
        })?;
        drop(scratch);
        Ok(record)
    }
}
