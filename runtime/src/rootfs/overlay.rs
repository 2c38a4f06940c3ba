//! The overlayfs root: image layers as lowerdirs, the container's upper and work dirs.

use std::path::Path;

use nix::mount::{mount, MsFlags};

use super::{OverlayRoot, RootfsError};

/// The kernel rejects mount data longer than a page.
const MAX_MOUNT_DATA: usize = 4095;

/// The overlay mount data: `lowerdir=` lists the top layer first.
pub fn overlay_options(overlay: &OverlayRoot) -> Result<String, RootfsError> {
    let lower: Vec<String> = overlay
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        overlay.upper.display(),
        overlay.work.display()
    );
    if data.len() > MAX_MOUNT_DATA {
        return Err(RootfsError::TooManyLayers {
            layers: overlay.layers.len(),
        });
    }
    Ok(data)
}

pub(super) fn mount_overlay(overlay: &OverlayRoot, root: &Path) -> Result<(), RootfsError> {
    let data = overlay_options(overlay)?;
    mount(
        Some("overlay"),
        root,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|source| RootfsError::Mount {
        what: "overlay".into(),
        target: root.to_path_buf(),
        source,
    })
}
