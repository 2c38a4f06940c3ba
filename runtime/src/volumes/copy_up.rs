//! Docker's copy-up: a new, empty volume mounted where the image has files starts with a
//! copy of them. Owners, modes, times, symlinks, hardlinks, fifos and device nodes are
//! kept. Runs in the container's mount namespace, reading the merged root.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::sys::stat::{mknod, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

/// Copies what is inside `from` into the (empty) directory `to`, and gives `to` the owner
/// and mode of `from`.
pub fn copy_dir_contents(from: &Path, to: &Path) -> io::Result<()> {
    let mut links: HashMap<(u64, u64), std::path::PathBuf> = HashMap::new();
    copy_children(from, to, &mut links)?;
    let meta = std::fs::symlink_metadata(from)?;
    set_metadata(to, &meta)
}

fn copy_children(
    from: &Path,
    to: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_children(&src, &dst, links)?;
            set_metadata(&dst, &meta)?;
            continue;
        }
        if meta.nlink() > 1 && !ft.is_symlink() {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key) {
                std::fs::hard_link(first, &dst)?;
                continue;
            }
            links.insert(key, dst.clone());
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            let kind = SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            mknod(
                &dst,
                kind,
                Mode::from_bits_truncate(meta.mode() & 0o7777),
                meta.rdev(),
            )
            .map_err(io::Error::from)?;
        }
        set_metadata(&dst, &meta)?;
    }
    Ok(())
}

/// Owner, mode (not for symlinks) and times of `meta` onto `path`, without following a
/// symlink at `path`.
fn set_metadata(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(Uid::from_raw(meta.uid())),
        Some(Gid::from_raw(meta.gid())),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)?;
    if !meta.file_type().is_symlink() {
        // chown clears setuid/setgid: set the mode after it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let times = [
        TimeSpec::new(meta.atime(), meta.atime_nsec()),
        TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
    ];
    // SAFETY: `c` is a valid NUL-terminated path and `times` two initialized timespecs
    // (TimeSpec is repr(transparent) over libc::timespec).
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr().cast(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_links_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("from");
        let to = tmp.path().join("to");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::create_dir(&to).unwrap();
        std::fs::write(from.join("sub/a"), b"hello").unwrap();
        std::fs::hard_link(from.join("sub/a"), from.join("b")).unwrap();
        std::os::unix::fs::symlink("sub/a", from.join("link")).unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o711)).unwrap();
        copy_dir_contents(&from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("sub/a")).unwrap(), b"hello");
        assert_eq!(
            std::fs::read_link(to.join("link")).unwrap(),
            Path::new("sub/a")
        );
        let a = std::fs::metadata(to.join("sub/a")).unwrap();
        let b = std::fs::metadata(to.join("b")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(std::fs::metadata(&to).unwrap().mode() & 0o777, 0o711);
    }
}
