//! Image layers for a remapped container: a copy of the layer whose every owner is shifted
//! into the container's range (host uid `start + uid`), made once per layer and range beside
//! the layer (`diff-<uid start>-<gid start>`), so the container's root owns what the image's
//! root owned. Whiteouts (0/0 character devices) are copied as they are; opaque directories
//! get overlayfs' user xattr, which an overlay mounted in a user namespace reads.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Remap, UsernsError};

/// Marks a finished copy (a half-made one from a killed process is made again).
const COMPLETE: &str = ".ebrun-remap-complete";

const TRUSTED_OPAQUE: &str = "trusted.overlay.opaque";
const USER_OPAQUE: &str = "user.overlay.opaque";

fn shift(id: u32, range: super::IdRange) -> u32 {
    if id < range.size {
        range.start + id
    } else {
        // Ids outside the range show as the overflow id inside; keep them out of it here.
        range.start + range.size - 1
    }
}

/// The shifted copy of layer directory `layer` for `remap`, made if missing.
pub fn shifted_layer(layer: &Path, remap: &Remap) -> Result<PathBuf, UsernsError> {
    let name = layer
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let dest = layer.with_file_name(format!("{name}-{}-{}", remap.uid.start, remap.gid.start));
    if dest.join(COMPLETE).exists() {
        return Ok(dest);
    }
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| UsernsError::Io { op, path, source }
    };
    let tmp = dest.with_file_name(format!(
        ".{}.tmp-{}",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(layer, &tmp, remap).map_err(io("copy layer", layer))?;
    std::fs::write(tmp.join(COMPLETE), b"").map_err(io("write", &tmp))?;
    let _ = std::fs::remove_dir_all(&dest);
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => Ok(dest),
        // Another ebrun made it meanwhile.
        Err(_) if dest.join(COMPLETE).exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dest)
        }
        Err(e) => Err(io("rename", &dest)(e)),
    }
}

fn lchown(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: NUL-terminated strings and a buffer of the size passed.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    let p = CString::new(path.as_os_str().as_bytes())?;
    let n = CString::new(name)?;
    // SAFETY: NUL-terminated strings and a value buffer of the length passed.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn copy_tree(src: &Path, dst: &Path, remap: &Remap) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    let (uid, gid) = (shift(meta.uid(), remap.uid), shift(meta.gid(), remap.gid));
    let ft = meta.file_type();
    if ft.is_dir() {
        std::fs::create_dir(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()), remap)?;
        }
        if let Some(v) = get_xattr(src, TRUSTED_OPAQUE) {
            set_xattr(dst, USER_OPAQUE, &v)?;
        }
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
        return lchown(dst, uid, gid);
    } else if ft.is_file() {
        std::fs::copy(src, dst)?;
    } else {
        let kind = if ft.is_char_device() {
            nix::sys::stat::SFlag::S_IFCHR
        } else if ft.is_block_device() {
            nix::sys::stat::SFlag::S_IFBLK
        } else if ft.is_fifo() {
            nix::sys::stat::SFlag::S_IFIFO
        } else {
            return Ok(()); // sockets are not image content
        };
        nix::sys::stat::mknod(
            dst,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(meta.mode()),
            meta.rdev(),
        )?;
    }
    lchown(dst, uid, gid)?;
    // After chown, which clears setuid and setgid bits.
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userns::IdRange;

    #[test]
    fn owners_shift_into_the_range_and_the_copy_is_reused() {
        let d = tempfile::tempdir().unwrap();
        let layer = d.path().join("diff");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        std::fs::write(layer.join("etc/passwd"), "root").unwrap();
        lchown(&layer.join("etc/passwd"), 1000, 50).unwrap();
        // After chown, which would clear it.
        std::fs::set_permissions(
            layer.join("etc/passwd"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::os::unix::fs::symlink("passwd", layer.join("etc/link")).unwrap();
        let remap = Remap {
            uid: IdRange {
                start: 100000,
                size: 65536,
            },
            gid: IdRange {
                start: 200000,
                size: 65536,
            },
        };
        let copy = shifted_layer(&layer, &remap).unwrap();
        assert_eq!(copy, d.path().join("diff-100000-200000"));
        let m = std::fs::metadata(copy.join("etc/passwd")).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (101000, 200050, 0o4755)
        );
        let l = std::fs::symlink_metadata(copy.join("etc/link")).unwrap();
        assert_eq!((l.uid(), l.gid()), (100000, 200000));
        assert_eq!(std::fs::metadata(copy.join("etc")).unwrap().uid(), 100000);
        // Made once: a second call finds it.
        std::fs::write(copy.join("marker"), "").unwrap();
        assert!(shifted_layer(&layer, &remap)
            .unwrap()
            .join("marker")
            .exists());
    }
}
