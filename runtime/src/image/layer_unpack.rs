//! Unpacks one layer tar into a directory that overlayfs uses directly as a lowerdir.
//!
//! - OCI whiteouts become overlayfs whiteouts: `.wh.NAME` -> a 0/0 character device `NAME`,
//!   `.wh..wh..opq` -> `trusted.overlay.opaque=y` on its directory.
//! - Ownership, modes (setuid, setgid, sticky), mtimes, xattrs (PAX `SCHILY.xattr.*`),
//!   symlinks, hardlinks, fifos and device nodes are preserved.
//! - Nothing is ever written outside the layer directory. The directory of each entry is
//!   resolved with `openat2(RESOLVE_IN_ROOT)`, so symlinks already in the layer are followed as
//!   if the layer were `/` (a chroot, as Docker's `chrootarchive` does: `etc -> /` then
//!   `etc/passwd` writes the layer's own `passwd`), and the entry itself is created with `*at`
//!   calls that never follow a symlink in its last component. Paths that climb out with `..`
//!   and hardlinks whose target climbs out are refused (Docker's "breakout" check).

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::rc::Rc;

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fstatat, futimens, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use tracing::{debug, warn};

use super::ImageError;

/// The OCI whiteout prefix.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The OCI opaque-directory marker.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
/// Prefix of whiteout metadata entries (aufs), skipped.
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What an unpack produced.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnpackStats {
    /// Bytes of regular file content (hardlinks counted once): the layer's size.
    pub size: u64,
    /// Entries processed.
    pub entries: u64,
}

/// Unpacks the tar stream `reader` into the existing, empty directory `dest`. `layer` names
/// the layer in error messages.
pub fn unpack(reader: impl Read, dest: &Path, layer: &str) -> Result<UnpackStats, ImageError> {
    let root = openat(
        nix::fcntl::AT_FDCWD,
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ImageError::io("open layer directory", dest, e.into()))?;
    let mut unpacker = Unpacker {
        root: Rc::new(root),
        layer,
        cache: None,
        dir_times: Vec::new(),
        stats: UnpackStats::default(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| unpacker.read_error(e))?;
    for entry in entries {
        let entry = entry.map_err(|e| unpacker.read_error(e))?;
        unpacker.entry(entry)?;
    }
    unpacker.finish()?;
    Ok(unpacker.stats)
}

/// Metadata of one tar entry, PAX records applied.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: TimeSpec,
    xattrs: Vec<(CString, Vec<u8>)>,
}

struct Unpacker<'a> {
    root: Rc<OwnedFd>,
    layer: &'a str,
    /// The last parent directory resolved: its path components and an fd.
    cache: Option<(Vec<OsString>, Rc<OwnedFd>)>,
    /// Directory mtimes, applied at the end (creating entries changes them).
    dir_times: Vec<(Vec<OsString>, TimeSpec)>,
    stats: UnpackStats,
}

impl Unpacker<'_> {
    fn read_error(&self, e: io::Error) -> ImageError {
        ImageError::Malformed {
            what: self.layer.to_string(),
            reason: format!("reading layer tar: {e}"),
        }
    }

    fn unsafe_entry(&self, entry: &[u8], reason: impl Into<String>) -> ImageError {
        ImageError::UnsafeEntry {
            layer: self.layer.to_string(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    fn sys(&self, op: &str, entry: &[u8], errno: Errno) -> ImageError {
        ImageError::Io {
            op: format!("{}: {op}", self.layer),
            path: OsStr::from_bytes(entry).into(),
            cause: errno.into(),
        }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ImageError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        self.stats.entries += 1;
        let raw_path = entry.path_bytes().into_owned();
        let comps = clean_path(&raw_path).map_err(|reason| self.unsafe_entry(&raw_path, reason))?;
        let meta = self.meta(&mut entry, &raw_path)?;

        let Some((name, parent)) = comps.split_last() else {
            // The layer root itself ("./"): only a directory entry makes sense.
            if kind.is_dir() {
                let root = self.root.clone();
                self.apply_fd_meta(root.as_fd(), &meta, &raw_path)?;
                self.dir_times.push((Vec::new(), meta.mtime));
            }
            return Ok(());
        };
        let name_bytes = name.as_bytes();

        if name_bytes.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(parent, name_bytes, &meta, &raw_path);
        }

        let dir = self.parent(parent, &raw_path)?;
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let existing = self.remove_existing(dir.as_fd(), name, true, &raw_path)?;
                if !existing {
                    mkdirat(
                        dir.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )
                    .map_err(|e| self.sys("mkdir", &raw_path, e))?;
                }
                let fd = openat(
                    dir.as_fd(),
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.sys("open directory", &raw_path, e))?;
                self.apply_fd_meta(fd.as_fd(), &meta, &raw_path)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.remove_existing(dir.as_fd(), name, false, &raw_path)?;
                let fd = openat(
                    dir.as_fd(),
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| self.sys("create file", &raw_path, e))?;
                let mut file = File::from(fd);
                let expected = entry.size();
                let written = io::copy(&mut entry, &mut file).map_err(|e| self.read_error(e))?;
                if kind != T::GNUSparse && written != expected {
                    return Err(self.read_error(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: expected {expected} bytes, got {written}",
                            String::from_utf8_lossy(&raw_path)
                        ),
                    )));
                }
                self.stats.size += written;
                self.apply_fd_meta(file.as_fd(), &meta, &raw_path)?;
                futimens(file.as_fd(), &meta.mtime, &meta.mtime)
                    .map_err(|e| self.sys("set times", &raw_path, e))?;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                if target.is_empty() {
                    return Err(self.unsafe_entry(&raw_path, "symlink with an empty target"));
                }
                self.remove_existing(dir.as_fd(), name, false, &raw_path)?;
                symlinkat(OsStr::from_bytes(&target), dir.as_fd(), name.as_os_str())
                    .map_err(|e| self.sys("symlink", &raw_path, e))?;
                self.apply_path_meta(dir.as_fd(), name, &meta, &raw_path, true)?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let tcomps = clean_path(&target).map_err(|reason| {
                    self.unsafe_entry(&raw_path, format!("hard link target {}", reason))
                })?;
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(self.unsafe_entry(&raw_path, "hard link to the layer root"));
                };
                if tcomps == comps {
                    return Ok(());
                }
                let tdir = self.existing_dir(tparent).map_err(|e| {
                    self.unsafe_entry(
                        &raw_path,
                        format!(
                            "hard link target {:?} is not in the layer: {e}",
                            String::from_utf8_lossy(&target)
                        ),
                    )
                })?;
                self.remove_existing(dir.as_fd(), name, false, &raw_path)?;
                // No AT_SYMLINK_FOLLOW: a symlink target is linked itself, never followed.
                linkat(
                    tdir.as_fd(),
                    tname.as_os_str(),
                    dir.as_fd(),
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| {
                    self.unsafe_entry(
                        &raw_path,
                        format!(
                            "cannot hard link to {:?}: {e}",
                            String::from_utf8_lossy(&target)
                        ),
                    )
                })?;
            }
            T::Char | T::Block | T::Fifo => {
                let (sflag, dev) = match kind {
                    T::Char | T::Block => {
                        let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                        let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                        let sflag = if kind == T::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        };
                        (sflag, libc::makedev(major, minor))
                    }
                    _ => (SFlag::S_IFIFO, 0),
                };
                self.remove_existing(dir.as_fd(), name, false, &raw_path)?;
                mknodat(
                    dir.as_fd(),
                    name.as_os_str(),
                    sflag,
                    Mode::from_bits_truncate(0o600),
                    dev,
                )
                .map_err(|e| self.sys("mknod", &raw_path, e))?;
                self.apply_path_meta(dir.as_fd(), name, &meta, &raw_path, false)?;
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => {
                warn!(
                    layer = self.layer,
                    entry = %String::from_utf8_lossy(&raw_path),
                    "skipping tar entry of unsupported type {other:?}"
                );
            }
        }
        Ok(())
    }

    /// `.wh..wh..opq` -> opaque xattr on the parent; `.wh.NAME` -> 0/0 char device NAME.
    fn whiteout(
        &mut self,
        parent: &[OsString],
        name: &[u8],
        meta: &Meta,
        raw_path: &[u8],
    ) -> Result<(), ImageError> {
        let dir = self.parent(parent, raw_path)?;
        if name == WHITEOUT_OPAQUE.as_bytes() {
            let xattr = CString::new(OVERLAY_OPAQUE_XATTR).expect("no NUL");
            return fsetxattr(dir.as_fd(), &xattr, b"y")
                .map_err(|e| self.sys("set opaque xattr", raw_path, e));
        }
        if name.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            debug!(layer = self.layer, entry = %String::from_utf8_lossy(raw_path), "skipping whiteout metadata");
            return Ok(());
        }
        let target = &name[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            return Err(self.unsafe_entry(raw_path, "whiteout of an invalid name"));
        }
        let target = OsString::from_vec(target.to_vec());
        self.remove_existing(dir.as_fd(), &target, false, raw_path)?;
        mknodat(
            dir.as_fd(),
            target.as_os_str(),
            SFlag::S_IFCHR,
            Mode::empty(),
            libc::makedev(0, 0),
        )
        .map_err(|e| self.sys("mknod whiteout", raw_path, e))?;
        fchownat(
            dir.as_fd(),
            target.as_os_str(),
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.sys("chown whiteout", raw_path, e))?;
        Ok(())
    }

    /// The entry's metadata: header fields, overridden by PAX records.
    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        raw_path: &[u8],
    ) -> Result<Meta, ImageError> {
        let header = entry.header();
        let bad = |field: &str, e: io::Error| {
            self.unsafe_entry(raw_path, format!("bad {field} field: {e}"))
        };
        let mut uid = header.uid().map_err(|e| bad("uid", e))?;
        let mut gid = header.gid().map_err(|e| bad("gid", e))?;
        let mode = header.mode().map_err(|e| bad("mode", e))? & 0o7777;
        let mut mtime = TimeSpec::new(header.mtime().unwrap_or(0) as i64, 0);
        let mut xattrs = Vec::new();
        if let Ok(Some(pax)) = entry.pax_extensions() {
            for ext in pax.flatten() {
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                let text = std::str::from_utf8(value).unwrap_or("");
                match key {
                    b"uid" => uid = text.parse().unwrap_or(uid),
                    b"gid" => gid = text.parse().unwrap_or(gid),
                    b"mtime" => mtime = parse_pax_time(text).unwrap_or(mtime),
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            if name.starts_with(b"trusted.overlay.")
                                && name != OVERLAY_OPAQUE_XATTR.as_bytes()
                            {
                                debug!(
                                    layer = self.layer,
                                    "dropping overlay xattr {}",
                                    String::from_utf8_lossy(name)
                                );
                                continue;
                            }
                            if let Ok(name) = CString::new(name) {
                                xattrs.push((name, value.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        let id = |v: u64, what: &str| {
            u32::try_from(v)
                .map_err(|_| self.unsafe_entry(raw_path, format!("{what} {v} is out of range")))
        };
        Ok(Meta {
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mode,
            mtime,
            xattrs,
        })
    }

    /// Owner (first: chown clears setuid), mode, xattrs on an open file or directory.
    fn apply_fd_meta(
        &self,
        fd: BorrowedFd<'_>,
        meta: &Meta,
        raw_path: &[u8],
    ) -> Result<(), ImageError> {
        fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .map_err(|e| self.sys("chown", raw_path, e))?;
        fchmod(fd, Mode::from_bits_truncate(meta.mode))
            .map_err(|e| self.sys("chmod", raw_path, e))?;
        for (name, value) in &meta.xattrs {
            if let Err(e) = fsetxattr(fd, name, value) {
                self.xattr_failed(name, raw_path, e)?;
            }
        }
        Ok(())
    }

    /// Owner, mode (not for symlinks), xattrs and times of `dir/name`, never following it.
    fn apply_path_meta(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        raw_path: &[u8],
        is_symlink: bool,
    ) -> Result<(), ImageError> {
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.sys("chown", raw_path, e))?;
        if !is_symlink {
            fchmodat_nofollow(dir, name, meta.mode).map_err(|e| self.sys("chmod", raw_path, e))?;
        }
        if !meta.xattrs.is_empty() {
            let path = proc_fd_path(dir, name);
            for (xname, value) in &meta.xattrs {
                if let Err(e) = lsetxattr(&path, xname, value) {
                    self.xattr_failed(xname, raw_path, e)?;
                }
            }
        }
        utimensat(
            dir,
            name,
            &meta.mtime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.sys("set times", raw_path, e))?;
        Ok(())
    }

    /// xattrs the filesystem cannot hold (e.g. `user.*` on a device node) are warned about and
    /// skipped, as Docker does; other failures are errors.
    fn xattr_failed(&self, name: &CString, raw_path: &[u8], e: Errno) -> Result<(), ImageError> {
        if matches!(e, Errno::ENOTSUP | Errno::EPERM) {
            warn!(
                layer = self.layer,
                entry = %String::from_utf8_lossy(raw_path),
                "cannot set xattr {}: {e}",
                name.to_string_lossy()
            );
            Ok(())
        } else {
            Err(self.sys(
                &format!("set xattr {}", name.to_string_lossy()),
                raw_path,
                e,
            ))
        }
    }

    /// Clears the way for a new entry `name` in `dir`. Returns true if an existing directory was
    /// kept because `keep_dir` (a directory entry over an existing directory only updates it).
    fn remove_existing(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        keep_dir: bool,
        raw_path: &[u8],
    ) -> Result<bool, ImageError> {
        let st = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(self.sys("stat", raw_path, e)),
        };
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir && keep_dir {
            return Ok(true);
        }
        // Removing may invalidate the cached parent (it may be this entry or below it).
        self.cache = None;
        if is_dir {
            // std's remove_dir_all never follows symlinks inside the tree it removes.
            let path = proc_fd_path(dir, name);
            std::fs::remove_dir_all(OsStr::from_bytes(path.as_bytes())).map_err(|e| {
                ImageError::io(
                    format!("{}: remove directory", self.layer),
                    OsStr::from_bytes(raw_path),
                    e,
                )
            })?;
        } else {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| self.sys("unlink", raw_path, e))?;
        }
        Ok(false)
    }

    /// The directory `comps` (relative to the layer root), created (0755, root-owned, like
    /// Docker) where missing. Symlinks on the way resolve inside the layer.
    fn parent(&mut self, comps: &[OsString], raw_path: &[u8]) -> Result<Rc<OwnedFd>, ImageError> {
        if comps.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some((cached, fd)) = &self.cache {
            if cached.as_slice() == comps {
                return Ok(fd.clone());
            }
        }
        let fd = Rc::new(
            self.ensure_dir(comps, 0)
                .map_err(|(at, e)| self.parent_error(&at, raw_path, e))?,
        );
        self.cache = Some((comps.to_vec(), fd.clone()));
        Ok(fd)
    }

    /// Opens directory `comps`, creating what is missing the way `mkdir -p` does inside a
    /// chroot at the layer root: a symlink on the way is followed (resolved inside the layer)
    /// and the directories it points to are created. Each directory is created with
    /// `mkdirat` in a parent opened with `RESOLVE_IN_ROOT`, so nothing lands outside.
    /// On error, returns the path that failed.
    fn ensure_dir(
        &self,
        comps: &[OsString],
        depth: usize,
    ) -> Result<OwnedFd, (Vec<OsString>, Errno)> {
        const MAX_SYMLINK_DEPTH: usize = 40;
        let fail = |e| (comps.to_vec(), e);
        match self.resolve_dir(comps) {
            Err(Errno::ENOENT) => {}
            other => return other.map_err(fail),
        }
        let (name, parent_comps) = comps.split_last().ok_or_else(|| fail(Errno::ENOENT))?;
        let parent = if parent_comps.is_empty() {
            self.root
                .try_clone()
                .map_err(|e| fail(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF))))?
        } else {
            self.ensure_dir(parent_comps, depth)?
        };
        match fstatat(
            parent.as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Err(Errno::ENOENT) => {
                match mkdirat(
                    parent.as_fd(),
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(fail(e)),
                }
                openat(
                    parent.as_fd(),
                    name.as_os_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(fail)
            }
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                // A dangling symlink: create its target (inside the layer), like MkdirAll.
                if depth >= MAX_SYMLINK_DEPTH {
                    return Err(fail(Errno::ELOOP));
                }
                let target =
                    nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str()).map_err(fail)?;
                let base = if target.as_bytes().starts_with(b"/") {
                    Vec::new()
                } else {
                    self.path_in_root(parent.as_fd()).map_err(fail)?
                };
                let target_comps = clean_in_root(base, target.as_bytes());
                self.ensure_dir(&target_comps, depth + 1)
            }
            Ok(_) => Err(fail(Errno::ENOTDIR)),
            Err(e) => Err(fail(e)),
        }
    }

    /// Where the open directory `fd` is, as components under the layer root.
    fn path_in_root(&self, fd: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
        let real = |fd: BorrowedFd<'_>| {
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map_err(|_| Errno::EBADF)
        };
        let root = real(self.root.as_fd())?;
        let dir = real(fd)?;
        let rel = dir.strip_prefix(&root).map_err(|_| Errno::EXDEV)?;
        Ok(rel.iter().map(|c| c.to_os_string()).collect())
    }

    fn parent_error(&self, comps: &[OsString], raw_path: &[u8], e: Errno) -> ImageError {
        let dir = join(comps);
        let reason = match e {
            Errno::ENOTDIR | Errno::EEXIST => format!("its parent {dir:?} is not a directory"),
            Errno::EXDEV => format!("its parent {dir:?} resolves outside the layer"),
            Errno::ELOOP => format!("its parent {dir:?} has too many levels of symlinks"),
            e => format!("cannot create its parent {dir:?}: {e}"),
        };
        self.unsafe_entry(raw_path, reason)
    }

    /// Opens an existing directory of the layer, symlinks resolved inside the layer.
    fn existing_dir(&self, comps: &[OsString]) -> Result<Rc<OwnedFd>, Errno> {
        if comps.is_empty() {
            return Ok(self.root.clone());
        }
        self.resolve_dir(comps).map(Rc::new)
    }

    fn resolve_dir(&self, comps: &[OsString]) -> Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(
                ResolveFlag::RESOLVE_IN_ROOT
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            );
        let path = join(comps);
        loop {
            match openat2(self.root.as_fd(), path.as_os_str(), how) {
                // openat2 asks to retry when a rename raced with the lookup.
                Err(Errno::EAGAIN) => continue,
                other => return other,
            }
        }
    }

    /// Applies the directory mtimes recorded during the unpack.
    fn finish(&mut self) -> Result<(), ImageError> {
        self.cache = None;
        for (comps, mtime) in std::mem::take(&mut self.dir_times) {
            let fd = match self.existing_dir(&comps) {
                Ok(fd) => fd,
                Err(_) => continue, // replaced by a later entry
            };
            futimens(fd.as_fd(), &mtime, &mtime)
                .map_err(|e| self.sys("set directory times", join(&comps).as_bytes(), e))?;
        }
        Ok(())
    }
}

/// Cleans a tar path into components under the layer root, as Go's `filepath.Clean` plus
/// Docker's breakout check: `a/./b//c` is fine, `a/../b` is `b`, a rooted `/../x` is `x`, but a
/// relative path climbing above the root is refused.
fn clean_path(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let rooted = raw.starts_with(b"/");
    let mut comps: Vec<OsString> = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if comps.pop().is_none() && !rooted {
                    return Err("path climbs out of the layer with \"..\" (path traversal)".into());
                }
            }
            other => comps.push(OsString::from_vec(other.to_vec())),
        }
    }
    Ok(comps)
}

/// Resolves a symlink target lexically inside the layer: absolute targets start at the
/// layer root, and `..` never climbs above it (as in a chroot).
fn clean_in_root(mut base: Vec<OsString>, target: &[u8]) -> Vec<OsString> {
    for comp in target.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                base.pop();
            }
            other => base.push(OsString::from_vec(other.to_vec())),
        }
    }
    base
}

fn join(comps: &[OsString]) -> OsString {
    let mut out = OsString::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            out.push("/");
        }
        out.push(c);
    }
    out
}

/// PAX times are decimal seconds with an optional fraction.
fn parse_pax_time(s: &str) -> Option<TimeSpec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        nanos = format!("{digits:0<9}").parse().ok()?;
        if secs < 0 {
            nanos = -nanos;
        }
    }
    Some(TimeSpec::new(secs, nanos))
}

/// `/proc/self/fd/<dir>/<name>`: a path naming `name` inside an open directory, for the
/// calls that have no `*at` form (`lsetxattr`). The last component is still not followed.
fn proc_fd_path(dir: BorrowedFd<'_>, name: &OsStr) -> CString {
    let mut bytes = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    bytes.extend_from_slice(name.as_bytes());
    CString::new(bytes).expect("tar names have no NUL")
}

fn fsetxattr(fd: BorrowedFd<'_>, name: &CString, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: fd is a valid open descriptor; name is NUL-terminated; value points to
    // value.len() readable bytes. The kernel does not keep the pointers.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

fn lsetxattr(path: &CString, name: &CString, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: path and name are NUL-terminated; value points to value.len() readable bytes.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// `fchmodat(..., AT_SYMLINK_NOFOLLOW)`: glibc implements it with `fchmodat2` or an `O_PATH`
/// descriptor, so the last component is never followed.
fn fchmodat_nofollow(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<(), Errno> {
    let name = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: dir is a valid directory descriptor and name is NUL-terminated.
    let rc = unsafe {
        libc::fchmodat(
            dir.as_raw_fd(),
            name.as_ptr(),
            mode as libc::mode_t,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_like_docker() {
        let s = |p: &str| clean_path(p.as_bytes()).map(|c| join(&c).into_string().unwrap());
        assert_eq!(s("./a/b/").unwrap(), "a/b");
        assert_eq!(s("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(s("a/../b").unwrap(), "b");
        assert_eq!(s("/../b").unwrap(), "b");
        assert_eq!(s("./").unwrap(), "");
        assert!(s("../evil").is_err());
        assert!(s("a/../../evil").is_err());
    }

    #[test]
    fn pax_times() {
        let t = parse_pax_time("1700000000.5").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (1_700_000_000, 500_000_000));
        let t = parse_pax_time("12").unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (12, 0));
        assert!(parse_pax_time("x").is_none());
    }
}
