//! The container's root filesystem: an overlayfs of the image's layers with a per-container
//! upper dir, the kernel filesystems Docker mounts (/proc, read-only /sys, /dev as tmpfs with
//! the standard nodes, devpts, /dev/shm, mqueue), Docker's masked and read-only paths, and
//! pivot_root into it.
//!
//! [`setup`] runs inside the container's new mount namespace (in the child, before exec), so
//! every mount disappears with the namespace: nothing to unmount on the host afterwards.

mod devices;
mod masked;
mod mounts;
mod overlay;
mod pivot;
pub mod volume_mounts;

use std::path::PathBuf;

pub use overlay::overlay_options;

/// Errors of the rootfs module.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mount {what} on {target}: {source}")]
    Mount {
        what: String,
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("overlay mount options for {layers} layers exceed the kernel's page-size limit")]
    TooManyLayers { layers: usize },
}

/// A file from the container's directory bind-mounted over a path in the container.
#[derive(Debug, Clone)]
pub struct BindFile {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: PathBuf,
}

/// Everything needed to build a container's root.
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    /// Image layer directories, bottom layer first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    /// /etc/hostname, /etc/hosts, /etc/resolv.conf, as Docker bind-mounts them.
    pub bind_files: Vec<BindFile>,
    pub read_only: bool,
    /// Volumes, bind mounts and tmpfs mounts (`-v`, `--mount`, `--tmpfs`), in order.
    pub mounts: Vec<volume_mounts::VolumeMount>,
    /// `--privileged`: no masked or read-only paths, /sys writable.
    pub privileged: bool,
}

/// Builds the root and pivots into it. Call in the container's own mount namespace.
pub fn setup(spec: &RootfsSpec) -> Result<(), RootfsError> {
    prepare(spec)?;
    enter(spec)
}

/// The part of [`setup`] that needs nothing from the parent: the overlay, the kernel
/// filesystems, /dev and the volumes, mounted under the new root. The child does it while
/// the parent places it in its cgroups and wires its network.
pub fn prepare(spec: &RootfsSpec) -> Result<(), RootfsError> {
    mounts::make_private_root()?;
    overlay::mount_overlay(spec)?;
    mounts::mount_kernel_filesystems(&spec.merged, spec.privileged)?;
    devices::populate_dev(&spec.merged)?;
    volume_mounts::apply(&spec.merged, &spec.mounts)?;
    Ok(())
}

/// The rest of [`setup`], once the parent has written the container's /etc files: binds
/// them, pivots into the new root, masks paths.
pub fn enter(spec: &RootfsSpec) -> Result<(), RootfsError> {
    for file in volume_mounts::not_shadowed(&spec.bind_files, &spec.mounts) {
        mounts::bind_file(&spec.merged, file)?;
    }
    pivot::pivot_into(&spec.merged)?;
    if !spec.privileged {
        masked::mask_paths()?;
        masked::read_only_paths()?;
    }
    if spec.read_only {
        mounts::remount_root_read_only()?;
    }
    Ok(())
}
