//! A remapped container's directories: its root (uid `remap.uid.start` on the host) owns its
//! upper and work dirs and its new volumes, and can reach every directory it mounts from
//! (searchable, not readable, by others: mode 0711 on the way, as Docker's data root).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{io_err, ContainerError};
use crate::userns::Remap;
use crate::volumes::{Mount, MountType};
use crate::Paths;

/// Lets other users through `dir` and its ancestors up to the instance's root (inclusive).
pub fn make_reachable(paths: &Paths, dir: &Path) -> Result<(), ContainerError> {
    for ancestor in dir.ancestors() {
        if !ancestor.starts_with(paths.root()) {
            break;
        }
        let meta = std::fs::metadata(ancestor).map_err(io_err("stat", ancestor))?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(
                ancestor,
                std::fs::Permissions::from_mode((mode | 0o011) & 0o7777),
            )
            .map_err(io_err("chmod", ancestor))?;
        }
    }
    Ok(())
}

/// Gives the container's root its upper and work dirs and its new (empty) volumes.
pub fn prepare(
    paths: &Paths,
    container_dir: &Path,
    mounts: &[Mount],
    remap: &Remap,
) -> Result<(), ContainerError> {
    let (uid, gid) = remap.root();
    for sub in ["upper", "work"] {
        let path = container_dir.join(sub);
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(io_err("chown", &path))?;
    }
    make_reachable(paths, container_dir)?;
    for m in mounts.iter().filter(|m| m.kind == MountType::Volume) {
        let data = &m.source;
        let meta = std::fs::metadata(data).map_err(io_err("stat", data))?;
        let empty = std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_none());
        if empty && meta.uid() == 0 {
            std::os::unix::fs::chown(data, Some(uid), Some(gid)).map_err(io_err("chown", data))?;
        }
        make_reachable(paths, data)?;
    }
    Ok(())
}
