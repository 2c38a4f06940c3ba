//! `docker diff` (`GET /containers/{id}/changes`): what the container changed in its image's
//! filesystem, read from its overlay upper directory (Kind 0 modified, 1 added, 2 deleted: a
//! whiteout). The mount points the runtime makes are not changes (see
//! [`crate::image::layer_pack::RUNTIME_MOUNT_POINTS`]: what `commit` leaves out too).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::container::ContainerConfig;
use crate::image::layer_pack::RUNTIME_MOUNT_POINTS;
use crate::Paths;

/// One change, as the Engine API serializes it (`{"Path": "/etc", "Kind": 0}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "Path")]
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    #[serde(rename = "Kind")]
    pub kind: u8,
}

impl Change {
    /// The line `docker diff` prints: `C /etc`, `A /new`, `D /gone`.
    pub fn line(&self) -> String {
        let letter = match self.kind {
            0 => 'C',
            1 => 'A',
            _ => 'D',
        };
        format!("{letter} {}", self.path)
    }
}

fn walk(upper: &Path, rel: &Path, layers: &[PathBuf], out: &mut Vec<Change>) {
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
        out.push(Change {
            path: Path::new("/").join(&path).display().to_string(),
            kind,
        });
        if meta.is_dir() && !whiteout {
            walk(upper, &path, layers, out);
        }
    }
}

/// The changes, in path order.
pub fn changes(paths: &Paths, config: &ContainerConfig) -> Vec<Change> {
    let upper = paths.container_dir(&config.id).join("upper");
    let mut out = Vec::new();
    walk(&upper, Path::new(""), &config.layers, &mut out);
    let mount_point = |p: &str| {
        RUNTIME_MOUNT_POINTS.iter().any(|m| {
            p.strip_prefix('/')
                .is_some_and(|r| r == *m || r.starts_with(&format!("{m}/")))
        })
    };
    out.retain(|c| !mount_point(&c.path));
    // A directory left "changed" only by those mount points is no change either.
    let paths: Vec<String> = out.iter().map(|c| c.path.clone()).collect();
    out.retain(|c| {
        let has_children = paths.iter().any(|q| q.starts_with(&format!("{}/", c.path)));
        let only_mount_points = RUNTIME_MOUNT_POINTS
            .iter()
            .any(|m| format!("/{m}").starts_with(&format!("{}/", c.path)));
        c.kind != 0 || has_children || !only_mount_points
    });
    out
}
