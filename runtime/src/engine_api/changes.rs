//! `GET /containers/{id}/changes`: what the container changed in its image's filesystem,
//! read from its overlay upper directory (Kind 0 modified, 1 added, 2 deleted: a whiteout).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::container::ContainerConfig;
use crate::Paths;

fn walk(upper: &Path, rel: &Path, layers: &[PathBuf], out: &mut Vec<Value>) {
    let Ok(entries) = std::fs::read_dir(upper.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = rel.join(e.file_name());
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let in_image = layers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(&path)).is_ok());
        let kind = match (whiteout, in_image) {
            (true, _) => 2,
            (false, true) => 0,
            (false, false) => 1,
        };
        out.push(json!({"Path": Path::new("/").join(&path), "Kind": kind}));
        if meta.is_dir() && !whiteout {
            walk(upper, &path, layers, out);
        }
    }
}

/// The files ebrun mounts over (Docker's init layer holds them): never the container's
/// changes.
const MOUNTPOINTS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// The changes, in path order.
pub fn changes(paths: &Paths, config: &ContainerConfig) -> Value {
    let upper = paths.container_dir(&config.id).join("upper");
    let mut out = Vec::new();
    walk(&upper, Path::new(""), &config.layers, &mut out);
    let path_of = |v: &Value| v["Path"].as_str().unwrap_or("").to_string();
    out.retain(|v| !MOUNTPOINTS.contains(&path_of(v).as_str()));
    // A directory left "changed" only by those mount points is no change either.
    let paths: Vec<String> = out.iter().map(path_of).collect();
    out.retain(|v| {
        let p = path_of(v);
        let has_children = paths.iter().any(|q| q.starts_with(&format!("{p}/")));
        let only_mountpoints = MOUNTPOINTS.iter().any(|m| m.starts_with(&format!("{p}/")));
        v["Kind"] != 0 || has_children || !only_mountpoints
    });
    Value::Array(out)
}
