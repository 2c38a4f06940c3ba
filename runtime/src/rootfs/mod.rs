//! The container's root filesystem, as an OCI runtime spec describes it: the root (an
//! overlay of image layers made first, or a prepared directory such as a bundle's `rootfs`),
//! then every mount of the spec in order (kernel filesystems, binds, tmpfs, cgroup), the
//! default device nodes, pivot_root, the masked and read-only paths, and a read-only root.
//!
//! Everything runs inside the container's new mount namespace (in the child, before exec),
//! so every mount disappears with the namespace: nothing to unmount on the host afterwards.

mod cgroup_mount;
mod devices;
mod masked;
pub mod mount_options;
mod mounts;
mod overlay;
mod pivot;
pub mod volume_mounts;

use std::path::PathBuf;

pub use devices::DeviceNode;
pub use masked::{masked_paths, MASKED_PATHS, READ_ONLY_PATHS};
pub use mount_options::{parse_mount_options, MountOptions};
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

/// An overlay of image layers mounted on the root before anything else (the Docker front
/// end's root; an OCI bundle brings its root already made).
#[derive(Debug, Clone)]
pub struct OverlayRoot {
    /// Image layer directories, bottom layer first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// One mount of the spec, its options already parsed.
#[derive(Debug, Clone)]
pub struct MountSpec {
    /// Absolute path inside the container.
    pub destination: PathBuf,
    /// The filesystem type (`proc`, `tmpfs`, ...); `bind` for bind mounts.
    pub fstype: String,
    /// A host path for binds, a name for others.
    pub source: String,
    pub options: MountOptions,
}

impl MountSpec {
    pub fn is_bind(&self) -> bool {
        self.options.bind || self.fstype == "bind"
    }

    /// cgroup mounts show the container's cgroups: made after its cgroup namespace.
    pub fn is_cgroup(&self) -> bool {
        self.fstype == "cgroup" || self.fstype == "cgroup2"
    }
}

/// Everything needed to build a container's root.
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    /// The container's root directory on the host (`root.path`).
    pub root: PathBuf,
    /// Mounted on `root` first, if set.
    pub overlay: Option<OverlayRoot>,
    /// The spec's mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Device nodes beyond the defaults (`linux.devices`).
    pub devices: Vec<DeviceNode>,
    /// Propagation of the container's mount tree (`linux.rootfsPropagation`).
    pub propagation: nix::mount::MsFlags,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `root.readonly`.
    pub read_only: bool,
    /// `--no-pivot`: move the root over `/` and chroot (for ramdisk hosts).
    pub no_pivot: bool,
    /// In a user namespace no device node can be made: the host's are bound instead.
    pub bind_devices: bool,
    /// The process has a cgroup namespace of its own (new or joined): a `cgroup` mount is
    /// a new mount of each hierarchy rather than a bind of the process's own directories.
    pub cgroupns: bool,
}

/// The part that needs nothing from the parent: the root, the spec's mounts (but cgroup
/// ones) and /dev, under the new root. The child does it while the parent places it in its
/// cgroups and wires its network.
pub fn prepare(spec: &RootfsSpec) -> Result<(), RootfsError> {
    mounts::set_root_propagation(spec.propagation)?;
    match &spec.overlay {
        Some(overlay) => overlay::mount_overlay(overlay, &spec.root)?,
        None => mounts::bind_root_onto_itself(&spec.root)?,
    }
    for m in spec.mounts.iter().filter(|m| !m.is_cgroup()) {
        mounts::mount_one(&spec.root, m)?;
    }
    if !mounts::dev_is_bound_from_host(&spec.mounts) {
        devices::populate_dev(&spec.root, &spec.devices, spec.bind_devices)?;
    }
    Ok(())
}

/// Once the process is in its cgroups and its cgroup namespace: cgroup mounts, then pivot
/// into the new root.
pub fn enter(spec: &RootfsSpec) -> Result<(), RootfsError> {
    for m in spec.mounts.iter().filter(|m| m.is_cgroup()) {
        if m.fstype == "cgroup" {
            mounts::mount_cgroup(&spec.root, m, spec.cgroupns)?;
        } else {
            mounts::mount_one(&spec.root, m)?;
        }
    }
    if spec.no_pivot {
        pivot::move_into(&spec.root)
    } else {
        pivot::pivot_into(&spec.root)
    }
}

/// Inside the new root, after the sysctls: masked and read-only paths, a read-only root.
pub fn finish(spec: &RootfsSpec) -> Result<(), RootfsError> {
    masked::mask_paths(&spec.masked_paths)?;
    masked::read_only_paths(&spec.readonly_paths)?;
    if spec.read_only {
        mounts::remount_root_read_only()?;
    }
    Ok(())
}
