//! A new container's mounts, as Docker decides them: the user's `-v`/`--mount`/`--tmpfs`
//! first, then the mounts of `--volumes-from` containers, then the image's `VOLUME`s, each
//! destination taken by the first that claims it. Everything is checked before anything is
//! made; then missing named volumes, new anonymous volumes and missing `-v` bind sources are
//! created, each journaled so a failed create removes them again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::spec::{Mount, MountRequest, MountRequests, MountType};
use super::store::VolumeStore;
use super::VolumeError;
use crate::container::ContainerConfig;
use crate::undo::{HostChange, Journal};
use crate::Paths;

/// A mount decided but not made yet.
enum Planned<'a> {
    User(&'a MountRequest),
    Inherited(Mount),
    ImageVolume(PathBuf),
}

impl Planned<'_> {
    fn destination(&self) -> &Path {
        match self {
            Planned::User(r) => &r.destination,
            Planned::Inherited(m) => &m.destination,
            Planned::ImageVolume(p) => p,
        }
    }
}

/// Docker's container lookup: exact name, full id, unique id prefix.
fn find_container<'a>(
    containers: &'a [ContainerConfig],
    key: &str,
) -> Result<&'a ContainerConfig, VolumeError> {
    let key = key.strip_prefix('/').unwrap_or(key);
    if let Some(c) = containers.iter().find(|c| c.name == key || c.id == key) {
        return Ok(c);
    }
    let mut matches = containers
        .iter()
        .filter(|c| !key.is_empty() && c.id.starts_with(key));
    match (matches.next(), matches.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(VolumeError::NoSuchContainer(key.to_string())),
    }
}

/// Decides and makes the mounts of a container being created. `containers` are the existing
/// containers (for `--volumes-from`); `image` is the image's config (its `VOLUME`s).
/// Call with the container store's lock held.
pub fn prepare(
    paths: &Paths,
    requests: &MountRequests,
    image: Option<&oci_spec::image::Config>,
    containers: &[ContainerConfig],
    journal: &mut Journal,
) -> Result<Vec<Mount>, VolumeError> {
    let mut planned: Vec<Planned> = Vec::new();
    for r in &requests.mounts {
        if planned.iter().any(|p| p.destination() == r.destination) {
            return Err(VolumeError::DuplicateMountPoint(r.destination.clone()));
        }
        if r.kind == MountType::Bind && !r.create_source {
            let source = Path::new(r.source.as_deref().unwrap_or_default());
            if !source.exists() {
                return Err(VolumeError::BindSourceMissing(source.to_path_buf()));
            }
        }
        planned.push(Planned::User(r));
    }
    for from in &requests.volumes_from {
        let other = find_container(containers, &from.container)?;
        for m in &other.mounts {
            if m.kind == MountType::Tmpfs
                || planned.iter().any(|p| p.destination() == m.destination)
            {
                continue;
            }
            let mut m = m.clone();
            if let Some(ro) = from.read_only {
                m.read_only = ro;
                m.mode = if ro { "ro" } else { "rw" }.to_string();
            }
            // The volume is shared, not the container's own: `rm -v` of this one keeps it.
            m.anonymous = false;
            planned.push(Planned::Inherited(m));
        }
    }
    let image_volumes = image.and_then(|c| c.volumes().clone()).unwrap_or_default();
    for v in image_volumes {
        let dst = PathBuf::from(format!("/{}", v.trim_matches('/')));
        if dst != Path::new("/") && !planned.iter().any(|p| p.destination() == dst) {
            planned.push(Planned::ImageVolume(dst));
        }
    }

    let store = VolumeStore::new(paths);
    let _lock = if planned.iter().any(|p| !matches!(p, Planned::Inherited(_))) {
        let lock = store.lock()?;
        store.sweep();
        Some(lock)
    } else {
        None
    };
    let mut mounts = Vec::new();
    for p in planned {
        let mount = match p {
            Planned::User(r) => make_user_mount(&store, r, journal)?,
            Planned::Inherited(m) => m,
            Planned::ImageVolume(dst) => {
                let (record, _) = store.create_locked(None, BTreeMap::new(), true)?;
                journal.record(HostChange::Dir {
                    path: store.dir().join(&record.name),
                });
                Mount {
                    kind: MountType::Volume,
                    source: store.data_dir(&record.name),
                    name: Some(record.name),
                    destination: dst,
                    read_only: false,
                    propagation: None,
                    bind_recursive: super::BindRecursive::Enabled,
                    mode: String::new(),
                    no_copy: false,
                    anonymous: true,
                    tmpfs_options: Vec::new(),
                    tmpfs_flag: false,
                }
            }
        };
        mounts.push(mount);
    }
    // Parents before children: /a is mounted before /a/b.
    mounts.sort_by_key(|m| m.destination.components().count());
    Ok(mounts)
}

fn make_user_mount(
    store: &VolumeStore,
    r: &MountRequest,
    journal: &mut Journal,
) -> Result<Mount, VolumeError> {
    let mut mount = Mount {
        kind: r.kind,
        name: None,
        source: PathBuf::new(),
        destination: r.destination.clone(),
        read_only: r.read_only,
        propagation: None,
        bind_recursive: r.bind_recursive,
        mode: r.mode.clone(),
        no_copy: r.no_copy,
        anonymous: false,
        tmpfs_options: r.tmpfs_options.clone(),
        tmpfs_flag: r.flag == "--tmpfs",
    };
    match r.kind {
        MountType::Bind => {
            let source = PathBuf::from(r.source.as_deref().unwrap_or_default());
            if !source.exists() {
                // `-v /missing:/x` creates the host directory, as Docker does.
                let top = first_missing(&source);
                std::fs::create_dir_all(&source).map_err(super::io_err("create", &source))?;
                journal.record(HostChange::Dir { path: top });
            }
            mount.source = source;
            mount.propagation = Some(r.propagation.unwrap_or(super::Propagation::Rprivate));
        }
        MountType::Volume => {
            let labels: BTreeMap<String, String> = r.labels.iter().cloned().collect();
            let (record, created) =
                store.create_locked(r.source.as_deref(), labels, r.source.is_none())?;
            if created {
                journal.record(HostChange::Dir {
                    path: store.dir().join(&record.name),
                });
            }
            mount.anonymous = record.anonymous && r.source.is_none();
            mount.source = store.data_dir(&record.name);
            mount.name = Some(record.name);
        }
        MountType::Tmpfs => {}
    }
    Ok(mount)
}

/// The topmost ancestor of `path` (or `path` itself) that does not exist.
fn first_missing(path: &Path) -> PathBuf {
    let mut top = path.to_path_buf();
    while let Some(parent) = top.parent() {
        if parent.exists() {
            break;
        }
        top = parent.to_path_buf();
    }
    top
}

/// `rm -v`: removes the anonymous volumes of the (already removed) container `config`
/// that no other container uses. Named volumes always stay.
pub fn remove_anonymous(paths: &Paths, config: &ContainerConfig) -> Result<(), VolumeError> {
    let store = VolumeStore::new(paths);
    for m in config.mounts.iter().filter(|m| m.anonymous) {
        let Some(name) = &m.name else { continue };
        match store.remove(name) {
            Ok(()) | Err(VolumeError::NotFound(_)) | Err(VolumeError::InUse { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
