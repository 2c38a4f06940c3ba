//! The overlayfs root: image layers as lowerdirs, the container's upper and work dirs.

use nix::mount::{mount, MsFlags};

use super::{RootfsError, RootfsSpec};

/// The kernel rejects mount data longer than a page.
const MAX_MOUNT_DATA: usize = 4095;

/// The overlay mount data: `lowerdir=` lists the top layer first.
pub fn overlay_options(spec: &RootfsSpec) -> Result<String, RootfsError> {
    let lower: Vec<String> = spec
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        spec.upper.display(),
        spec.work.display()
    );
    if data.len() > MAX_MOUNT_DATA {
        return Err(RootfsError::TooManyLayers {
            layers: spec.layers.len(),
        });
    }
    Ok(data)
}

pub(super) fn mount_overlay(spec: &RootfsSpec) -> Result<(), RootfsError> {
    let data = overlay_options(spec)?;
    mount(
        Some("overlay"),
        &spec.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|source| RootfsError::Mount {
        what: "overlay".into(),
        target: spec.merged.clone(),
        source,
    })
}
