//! The tar side of `cp` and `export`: a writer that names entries exactly as Docker does
//! (`dir/`, `./x`, long names as GNU long-name entries) and walks a tree without following
//! symlinks, and the extraction of a stream into a directory that refuses entries landing
//! outside of it. Used inside the confined archive helper and by `ebrun cp` on the host.

use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::{EntryType, Header, HeaderMode};

/// Maps owners between the host and the container (a `userns-remap` container's files are
/// owned by its shifted ids on the host).
#[derive(Debug, Clone, Copy, Default)]
pub struct IdMap {
    pub remap: Option<crate::userns::Remap>,
}

/// The overflow id, as the kernel shows an unmapped owner.
const NOBODY: u32 = 65534;

impl IdMap {
    /// A host owner as the container sees it.
    pub fn to_container(self, uid: u32, gid: u32) -> (u32, u32) {
        let Some(r) = self.remap else {
            return (uid, gid);
        };
        let back = |id: u32, start: u32, size: u32| {
            if id >= start && id - start < size {
                id - start
            } else {
                NOBODY
            }
        };
        (
            back(uid, r.uid.start, r.uid.size),
            back(gid, r.gid.start, r.gid.size),
        )
    }

    /// A container owner as the host stores it.
    pub fn to_host(self, uid: u32, gid: u32) -> (u32, u32) {
        let Some(r) = self.remap else {
            return (uid, gid);
        };
        let shift = |id: u32, start: u32, size: u32| start + if id < size { id } else { 0 };
        (
            shift(uid, r.uid.start, r.uid.size),
            shift(gid, r.gid.start, r.gid.size),
        )
    }
}

/// Filesystems whose contents are the kernel's, not files: a walk of a live container lists
/// their mount points and does not descend into them.
const PSEUDO_FS: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x1980_0202, // mqueue
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x6e73_6673, // nsfs
    0xf97c_ff8c, // selinuxfs
];

fn is_pseudo_fs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| {
            let kind: i64 = s.filesystem_type().0;
            PSEUDO_FS.contains(&kind)
        })
        .unwrap_or(false)
}

/// Writes a tar stream entry by entry.
pub struct TarWriter<W: Write> {
    out: W,
    ids: IdMap,
}

fn padding(len: u64) -> usize {
    ((512 - len % 512) % 512) as usize
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W, ids: IdMap) -> Self {
        TarWriter { out, ids }
    }

    /// A GNU long-name (`L`) or long-link (`K`) entry carrying `value`.
    fn long(&mut self, kind: EntryType, value: &[u8]) -> io::Result<()> {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(value.len() as u64 + 1);
        h.set_entry_type(kind);
        h.set_cksum();
        self.out.write_all(h.as_bytes())?;
        self.out.write_all(value)?;
        self.out.write_all(&[0])?;
        self.out
            .write_all(&[0; 512][..padding(value.len() as u64 + 1)])
    }

    /// One entry named `name` (written as given: `./x` stays `./x`) for the file at `path`,
    /// described by its `meta`. Sockets are skipped, as tar does.
    pub fn append(&mut self, name: &[u8], path: &Path, meta: &Metadata) -> io::Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        let mut h = Header::new_gnu();
        h.set_metadata_in_mode(meta, HeaderMode::Complete);
        let (uid, gid) = self.ids.to_container(meta.uid(), meta.gid());
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev();
            h.set_device_major(nix::sys::stat::major(rdev) as u32)?;
            h.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
        }
        let mut name = name.to_vec();
        if ft.is_dir() && !name.ends_with(b"/") {
            name.push(b'/');
        }
        if name.len() > 100 {
            self.long(EntryType::GNULongName, &name)?;
        }
        let n = name.len().min(100);
        h.as_old_mut().name = [0; 100];
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            let target = target.as_os_str().as_bytes();
            if target.len() > 100 {
                self.long(EntryType::GNULongLink, target)?;
            }
            let n = target.len().min(100);
            h.as_old_mut().linkname = [0; 100];
            h.as_old_mut().linkname[..n].copy_from_slice(&target[..n]);
        }
        if !ft.is_file() {
            h.set_size(0);
            h.set_cksum();
            return self.out.write_all(h.as_bytes());
        }
        let file = fs::File::open(path)?;
        let size = meta.len();
        h.set_size(size);
        h.set_cksum();
        self.out.write_all(h.as_bytes())?;
        // The file may change while it is read: exactly `size` bytes go out, zeros if it
        // shrank, so the stream stays well-formed.
        let copied = io::copy(&mut file.take(size), &mut self.out)?;
        let mut missing = size - copied;
        while missing > 0 {
            let k = missing.min(512);
            self.out.write_all(&[0; 512][..k as usize])?;
            missing -= k;
        }
        self.out.write_all(&[0; 512][..padding(size)])
    }

    /// `path` and, for a directory, everything under it, named `name`, `name/child`, ...
    /// Symlinks are archived as links, never followed; kernel filesystems (a live
    /// container's /proc, /sys) are listed but not walked.
    pub fn append_tree(&mut self, name: &[u8], path: &Path) -> io::Result<()> {
        let meta = fs::symlink_metadata(path)?;
        self.append(name, path, &meta)?;
        if meta.is_dir() && !is_pseudo_fs(path) {
            self.append_children(Some(name), path)?;
        }
        Ok(())
    }

    /// The entries under directory `dir`, named `prefix/child` (`child` without a prefix:
    /// `export`'s `bin/`, `etc/passwd`).
    pub fn append_children(&mut self, prefix: Option<&[u8]>, dir: &Path) -> io::Result<()> {
        let mut children: Vec<std::ffi::OsString> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        children.sort();
        for child in children {
            let mut name = match prefix {
                Some(p) => {
                    let mut n = p.to_vec();
                    if !n.ends_with(b"/") {
                        n.push(b'/');
                    }
                    n
                }
                None => Vec::new(),
            };
            name.extend_from_slice(child.as_bytes());
            match self.append_tree(&name, &dir.join(&child)) {
                // Gone since the directory was read.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// The end-of-archive blocks; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0; 1024])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Go's `filepath.Base`: the last element, trailing slashes ignored; `/` for the root.
pub fn base_name(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// How entries land when extracted.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOwners {
    /// Every entry owned by this (container) uid:gid (`copyUIDGID`).
    pub force: Option<(u32, u32)>,
    /// The host's view of container ids; None: ownership is not set at all (the host side
    /// of `ebrun cp`, where files belong to whoever runs it).
    pub ids: Option<IdMap>,
}

/// The entry's path inside `dst`: None for the entry naming `dst` itself; an error for a
/// `..` component.
fn relative(name: &Path) -> io::Result<Option<PathBuf>> {
    let mut rel = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "refusing to extract {}: a `..` would leave the destination",
                        name.display()
                    ),
                ))
            }
            Component::Normal(p) => rel.push(p),
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Extracts the tar stream `input` into directory `dst`. Existing files are replaced (not
/// written through: a symlink in the way is removed, not followed); a directory and a
/// non-directory replace each other only without `no_overwrite_dir_non_dir`. Entries whose
/// parent resolves outside `dst` are refused (the tar crate checks every directory it makes).
pub fn extract(
    input: impl Read,
    dst: &Path,
    no_overwrite_dir_non_dir: bool,
    owners: ExtractOwners,
) -> io::Result<()> {
    let canon_dst = fs::canonicalize(dst)?;
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let Some(rel) = relative(&name)? else {
            continue;
        };
        let target = dst.join(&rel);
        let is_dir = entry.header().entry_type().is_dir();
        if let Some(parent) = target.parent() {
            if let Ok(canon) = fs::canonicalize(parent) {
                if !canon.starts_with(&canon_dst) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "refusing to extract {}: it would land outside of {}",
                            name.display(),
                            dst.display()
                        ),
                    ));
                }
            }
        }
        if let Ok(existing) = fs::symlink_metadata(&target) {
            let was_dir = existing.is_dir();
            if was_dir != is_dir && no_overwrite_dir_non_dir {
                let (a, b) = if was_dir {
                    ("directory", "non-directory")
                } else {
                    ("non-directory", "directory")
                };
                return Err(io::Error::other(format!(
                    "cannot overwrite {a} {:?} with {b} {:?}",
                    target.display().to_string(),
                    name.display().to_string()
                )));
            }
            if was_dir && !is_dir {
                fs::remove_dir_all(&target)?;
            } else if !was_dir {
                fs::remove_file(&target)?;
            }
        }
        let (uid, gid, mode) = {
            let h = entry.header();
            (
                h.uid().unwrap_or(0) as u32,
                h.gid().unwrap_or(0) as u32,
                h.mode().unwrap_or(0o644),
            )
        };
        if !entry.unpack_in(dst)? {
            continue;
        }
        if let Some(ids) = owners.ids {
            let (u, g) = owners.force.unwrap_or((uid, gid));
            let (u, g) = ids.to_host(u, g);
            std::os::unix::fs::lchown(&target, Some(u), Some(g))?;
            // chown clears set-id bits: give them back.
            let meta = fs::symlink_metadata(&target)?;
            if !meta.file_type().is_symlink() && mode & 0o6000 != 0 {
                fs::set_permissions(&target, fs::Permissions::from_mode(mode & 0o7777))?;
            }
        }
    }
    Ok(())
}

/// Go's `os.FileMode` bits of `meta` (what Docker's path stat carries).
pub fn go_file_mode(meta: &Metadata) -> u32 {
    let m = meta.mode();
    let ft = meta.file_type();
    let mut mode = m & 0o777;
    if ft.is_dir() {
        mode |= 1 << 31;
    } else if ft.is_symlink() {
        mode |= 1 << 27;
    } else if ft.is_fifo() {
        mode |= 1 << 25;
    } else if ft.is_socket() {
        mode |= 1 << 24;
    } else if ft.is_char_device() {
        mode |= (1 << 26) | (1 << 21);
    } else if ft.is_block_device() {
        mode |= 1 << 26;
    }
    if m & 0o4000 != 0 {
        mode |= 1 << 23;
    }
    if m & 0o2000 != 0 {
        mode |= 1 << 22;
    }
    if m & 0o1000 != 0 {
        mode |= 1 << 20;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_round_trip_with_links_kept_and_escapes_refused() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/file"), "hello").unwrap();
        fs::set_permissions(src.join("sub/file"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc", src.join("link")).unwrap();
        let long = "x".repeat(150);
        fs::write(src.join(&long), "long").unwrap();
        let mut w = TarWriter::new(Vec::new(), IdMap::default());
        w.append_tree(b"copy", &src).unwrap();
        let bytes = w.finish().unwrap();

        let out = d.path().join("out");
        fs::create_dir(&out).unwrap();
        extract(&bytes[..], &out, true, ExtractOwners::default()).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("copy/sub/file")).unwrap(),
            "hello"
        );
        let mode = fs::metadata(out.join("copy/sub/file")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            fs::read_link(out.join("copy/link")).unwrap(),
            Path::new("/etc")
        );
        assert_eq!(
            fs::read_to_string(out.join("copy").join(&long)).unwrap(),
            "long"
        );

        // A link in the destination pointing out, then an entry through it: refused.
        let mut w = TarWriter::new(Vec::new(), IdMap::default());
        let file = d.path().join("f");
        fs::write(&file, "evil").unwrap();
        w.append(b"copy/link/evil-file", &file, &fs::metadata(&file).unwrap())
            .unwrap();
        let bytes = w.finish().unwrap();
        assert!(extract(&bytes[..], &out, true, ExtractOwners::default()).is_err());
        assert!(!Path::new("/etc/evil-file").exists());

        // `..` is refused.
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..8].copy_from_slice(b"../f-out");
        h.set_size(0);
        h.set_entry_type(EntryType::Regular);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend_from_slice(&[0; 1024]);
        assert!(extract(&bytes[..], &out, true, ExtractOwners::default()).is_err());
        assert!(!d.path().join("f-out").exists());
    }

    #[test]
    fn base_names_follow_go() {
        assert_eq!(base_name("/etc/hostname"), "hostname");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/dir/."), ".");
        assert_eq!(base_name("/"), "/");
    }
}
