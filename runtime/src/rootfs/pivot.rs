//! pivot_root into the new root and detach the old one, so no host mount stays visible.

use std::path::Path;

use nix::mount::{umount2, MntFlags};
use nix::unistd::{chdir, pivot_root};

use super::RootfsError;

pub(super) fn pivot_into(new_root: &Path) -> Result<(), RootfsError> {
    let sys = |op: &'static str| {
        let path = new_root.to_path_buf();
        move |source| RootfsError::Sys { op, path, source }
    };
    chdir(new_root).map_err(sys("chdir"))?;
    // pivot_root(".", ".") stacks the old root under the new one; unmounting "." then
    // removes the old root without needing a directory for it inside the container.
    pivot_root(".", ".").map_err(sys("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("detach old root"))?;
    chdir("/").map_err(sys("chdir /"))?;
    Ok(())
}
