//! Packing a container's changes (its overlayfs upper directory) into an OCI layer: a tar in
//! which overlayfs whiteouts (0/0 character devices) become `.wh.NAME` files and opaque
//! directories get a `.wh..wh..opq` entry, with hard links kept as links and extended
//! attributes as PAX `SCHILY.xattr.*` records; gzip-compressed while both digests (the diff
//! id of the tar, the blob digest of the gzip) are computed in one pass.
//!
//! The mount points a container's runtime makes in its root (`/proc`, `/sys`, `/dev`,
//! `/etc/hosts`, ...) are not changes of the container: Docker keeps them in an init layer
//! below the container's, so neither `commit` nor `build` puts them in an image.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use tar::{EntryType, Header, HeaderMode};

use super::digest::{Algorithm, Digest, HashingWriter};
use super::layer_unpack::{OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use super::ImageError;

/// Paths of a container's root that only hold what the runtime mounts there.
pub const RUNTIME_MOUNT_POINTS: &[&str] = &[
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    ".dockerenv",
];

/// A layer written to disk by [`pack_dir`].
#[derive(Debug, Clone)]
pub struct PackedLayer {
    /// The gzip blob.
    pub blob: PathBuf,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// sha256 of the blob.
    pub blob_digest: Digest,
    pub blob_size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Entries written (0: the container changed nothing).
    pub entries: u64,
}

/// Packs the changes in `upper` (an overlayfs upper directory) as a gzip layer blob at `out`.
pub fn pack_dir(upper: &Path, out: &Path) -> Result<PackedLayer, ImageError> {
    let file = File::create(out).map_err(ImageError::io_fn("create", out))?;
    let blob = HashingWriter::new(BufWriter::with_capacity(256 << 10, file), Algorithm::Sha256);
    let gz = GzEncoder::new(blob, flate2::Compression::fast());
    let tar_out = HashingWriter::new(gz, Algorithm::Sha256);
    let mut packer = Packer {
        builder: tar::Builder::new(tar_out),
        links: HashMap::new(),
        entries: 0,
    };
    let err = |e: io::Error| ImageError::io("pack layer from", upper, e);
    packer.children(upper, Vec::new()).map_err(err)?;
    let entries = packer.entries;
    let tar_out = packer.builder.into_inner().map_err(err)?;
    let (diff_id, tar_size) = (tar_out.digest(), tar_out.count());
    let blob = tar_out.into_inner().finish().map_err(err)?;
    let (blob_digest, blob_size) = (blob.digest(), blob.count());
    let file = blob
        .into_inner()
        .into_inner()
        .map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(ImageError::io_fn("sync", out))?;
    Ok(PackedLayer {
        blob: out.to_path_buf(),
        diff_id,
        blob_digest,
        blob_size,
        tar_size,
        entries,
    })
}

struct Packer<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, ino) of files with several links -> the name first written.
    links: HashMap<(u64, u64), Vec<u8>>,
    entries: u64,
}

impl<W: Write> Packer<W> {
    /// The entries under `dir`, whose name in the layer is `prefix`.
    fn children(&mut self, dir: &Path, prefix: Vec<u8>) -> io::Result<()> {
        let mut names: Vec<OsString> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let mut rel = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if RUNTIME_MOUNT_POINTS.iter().any(|p| p.as_bytes() == rel) {
                continue;
            }
            let path = dir.join(&name);
            let meta = fs::symlink_metadata(&path)?;
            self.entry(&path, &rel, &meta)?;
            if meta.is_dir() {
                if is_opaque(&path) {
                    self.whiteout(&rel, WHITEOUT_OPAQUE.as_bytes(), &meta)?;
                }
                self.children(&path, rel)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &[u8], meta: &Metadata) -> io::Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        if ft.is_char_device() && meta.rdev() == 0 {
            // An overlayfs whiteout: NAME was deleted.
            let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
                Some(i) => (&rel[..i], &rel[i + 1..]),
                None => (&rel[..0], rel),
            };
            let mut wh = WHITEOUT_PREFIX.as_bytes().to_vec();
            wh.extend_from_slice(name);
            return self.whiteout(parent, &wh, meta);
        }
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        header.set_mode(meta.mode() & 0o7777);
        let xattrs = xattrs_of(path)?;
        if !xattrs.is_empty() {
            let records: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            self.builder
                .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))?;
        }
        self.entries += 1;
        if ft.is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                return self.builder.append_link(&mut header, os(rel), os(&first));
            }
            self.links.insert(key, rel.to_vec());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            header.set_size(0);
            return self.builder.append_link(&mut header, os(rel), target);
        }
        if ft.is_file() {
            let file = File::open(path)?;
            return self.builder.append_data(&mut header, os(rel), file);
        }
        if ft.is_char_device() || ft.is_block_device() {
            header.set_device_major(nix::sys::stat::major(meta.rdev()) as u32)?;
            header.set_device_minor(nix::sys::stat::minor(meta.rdev()) as u32)?;
        }
        header.set_size(0);
        let mut name = rel.to_vec();
        if ft.is_dir() {
            name.push(b'/');
        }
        self.builder
            .append_data(&mut header, os(&name), io::empty())
    }

    /// An empty `.wh.*` file named `name` in directory `parent`.
    fn whiteout(&mut self, parent: &[u8], name: &[u8], meta: &Metadata) -> io::Result<()> {
        let mut rel = parent.to_vec();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name);
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(0);
        self.entries += 1;
        self.builder.append_data(&mut header, os(&rel), io::empty())
    }
}

fn os(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes.to_vec()))
}

/// The extended attributes worth keeping (overlayfs' own `trusted.overlay.*` are not).
fn xattrs_of(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        let Some(text) = name.to_str() else { continue };
        if text.starts_with("trusted.overlay.") || text.starts_with("user.overlay.") {
            continue;
        }
        if let Some(value) = xattr::get(path, &name)? {
            out.push((text.to_string(), value));
        }
    }
    out.sort();
    Ok(out)
}

fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, OVERLAY_OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(blob: &Path) -> Vec<(String, EntryType, String)> {
        let mut gz = flate2::read::GzDecoder::new(File::open(blob).unwrap());
        let mut tar_bytes = Vec::new();
        gz.read_to_end(&mut tar_bytes).unwrap();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                    link,
                )
            })
            .collect()
    }

    #[test]
    fn packs_files_links_whiteouts_and_skips_runtime_mount_points() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path().join("upper");
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::create_dir_all(up.join("proc")).unwrap();
        fs::write(up.join("etc/hosts"), "").unwrap();
        fs::write(up.join("etc/app.conf"), "x=1\n").unwrap();
        fs::hard_link(up.join("etc/app.conf"), up.join("etc/app.link")).unwrap();
        std::os::unix::fs::symlink("app.conf", up.join("etc/app.sym")).unwrap();
        // A whiteout as overlayfs writes it (needs root, as the tests run).
        nix::sys::stat::mknod(
            &up.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let out = d.path().join("blob");
        let packed = pack_dir(&up, &out).unwrap();
        let got = entries(&out);
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/app.conf",
                "etc/app.link",
                "etc/app.sym",
                "etc/.wh.gone"
            ]
        );
        assert_eq!(got[2].1, EntryType::Link);
        assert_eq!(got[2].2, "etc/app.conf");
        assert_eq!(got[3].1, EntryType::Symlink);
        assert_eq!(packed.entries, 5);
        // The diff id is the tar's digest, the blob digest the file's.
        let blob_bytes = fs::read(&out).unwrap();
        assert_eq!(packed.blob_digest, Digest::sha256_of(&blob_bytes));
        assert_eq!(packed.blob_size, blob_bytes.len() as u64);
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(blob_bytes.as_slice())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(packed.diff_id, Digest::sha256_of(&tar_bytes));
    }

    #[test]
    fn an_empty_upper_is_an_empty_layer() {
        let empty = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("blob");
        let packed = pack_dir(empty.path(), &out).unwrap();
        assert_eq!(packed.entries, 0);
        assert!(entries(&out).is_empty());
    }
}
