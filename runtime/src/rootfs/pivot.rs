//! pivot_root into the new root and detach the old one, so no host mount stays visible
//! (or, with `--no-pivot`, move the root over `/` and chroot into it).

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, pivot_root};

use super::RootfsError;

fn sys(op: &'static str, path: &Path) -> impl FnOnce(nix::Error) -> RootfsError {
    let path = path.to_path_buf();
    move |source| RootfsError::Sys { op, path, source }
}

pub(super) fn pivot_into(new_root: &Path) -> Result<(), RootfsError> {
    chdir(new_root).map_err(sys("chdir", new_root))?;
    // pivot_root(".", ".") stacks the old root under the new one; unmounting "." then
    // removes the old root without needing a directory for it inside the container.
    pivot_root(".", ".").map_err(sys("pivot_root", new_root))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("detach old root", new_root))?;
    chdir("/").map_err(sys("chdir /", new_root))?;
    Ok(())
}

pub(super) fn move_into(new_root: &Path) -> Result<(), RootfsError> {
    chdir(new_root).map_err(sys("chdir", new_root))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(sys("move root", new_root))?;
    chroot(".").map_err(sys("chroot", new_root))?;
    chdir("/").map_err(sys("chdir /", new_root))?;
    Ok(())
}
