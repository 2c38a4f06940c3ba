//! The tar stream a `COPY`/`ADD` from the build context puts into the step's container:
//! each source placed under its destination (a directory's contents into the destination
//! directory, a file into it or as it), owned by root or `--chown`, `--chmod` applied,
//! `.dockerignore`d files left out, and for `ADD` a local tar archive unpacked. Alongside, the
//! checksum of what is copied (paths, modes, owners, link targets and contents, not times),
//! which keys the build cache as Docker's `file:`/`dir:` hashes do.
//!
//! Sources are read inside the context: a symlink named as a source is followed within the
//! context root (never out of it, see [`resolve_in_context`]); symlinks inside copied
//! directories are copied as links.

use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header, HeaderMode};

use super::context_match::resolve_in_context;
use super::dockerignore::DockerIgnore;
use super::tar_moves::under;
use crate::image::compression;

/// Where one source lands.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Into directory `dir` (absolute, in the container): a file as `dir/<name>`, a
    /// directory's contents under `dir`.
    IntoDir(String),
    /// As the file `path` (a single file source, a destination without a trailing slash that
    /// is not a directory).
    AsFile(String),
}

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `--chown` (resolved), else root.
    pub owner: Option<(u32, u32)>,
    /// `--chmod`
    pub mode: Option<u32>,
}

/// Writes the tar of `sources` (relative to `root`, already matched) to `out` and returns the
/// checksum of their content.
pub fn write_context_tar(
    root: &Path,
    sources: &[PathBuf],
    placement: &Placement,
    ownership: Ownership,
    ignore: &DockerIgnore,
    add: bool,
    out: &Path,
) -> io::Result<String> {
    let file = File::create(out)?;
    let mut w = Writer {
        builder: tar::Builder::new(BufWriter::new(file)),
        hash: Sha256::new(),
        ownership,
        ignore,
    };
    let mut kinds = Vec::new();
    for rel in sources {
        let path = root.join(
            resolve_in_context(root, &rel.to_string_lossy(), ignore).map_err(io::Error::other)?,
        );
        let meta = fs::metadata(&path)?;
        kinds.push(meta.is_dir());
        w.hash.update(rel.as_os_str().as_encoded_bytes());
        w.hash.update([0]);
        match placement {
            Placement::AsFile(dest) if !meta.is_dir() => {
                if add && is_archive(&path)? {
                    let dir = parent_of(dest);
                    w.archive(&path, &dir)?;
                } else {
                    w.file(&path, &meta, dest)?;
                }
            }
            Placement::AsFile(dest) | Placement::IntoDir(dest) => {
                let dir = dest.trim_end_matches('/');
                if meta.is_dir() {
                    w.dir_contents(&path, rel, dir)?;
                } else if add && is_archive(&path)? {
                    w.archive(&path, dir)?;
                } else {
                    let name = path_name(rel);
                    w.file(&path, &meta, &format!("{dir}/{name}"))?;
                }
            }
        }
    }
    let sum = hex::encode(w.hash.finalize_reset());
    w.builder.into_inner()?.flush()?;
    let kind = match kinds.as_slice() {
        [false] => "file",
        [true] => "dir",
        _ => "multi",
    };
    Ok(format!("{kind}:{sum}"))
}

struct Writer<'a> {
    builder: tar::Builder<BufWriter<File>>,
    hash: Sha256,
    ownership: Ownership,
    ignore: &'a DockerIgnore,
}

impl Writer<'_> {
    /// The entry for the file (or link, or directory) at `path`, named `dest` in the
    /// container.
    fn file(&mut self, path: &Path, meta: &Metadata, dest: &str) -> io::Result<()> {
        let mut header = Header::new_gnu();
        header.set_metadata_in_mode(meta, HeaderMode::Complete);
        header.set_mode(std::os::unix::fs::MetadataExt::mode(meta) & 0o7777);
        let (uid, gid) = self.ownership.owner.unwrap_or((0, 0));
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        header.set_username("")?;
        header.set_groupname("")?;
        if let Some(mode) = self.ownership.mode {
            if !meta.file_type().is_symlink() {
                header.set_mode(mode);
            }
        }
        let name = dest.trim_start_matches('/');
        self.hash.update(name.as_bytes());
        self.hash.update(format!(
            "\0{:o}\0{uid}\0{gid}\0",
            header.mode().unwrap_or(0)
        ));
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            self.hash.update(target.as_os_str().as_encoded_bytes());
            header.set_size(0);
            return self.builder.append_link(&mut header, name, target);
        }
        if ft.is_dir() {
            header.set_size(0);
            return self
                .builder
                .append_data(&mut header, format!("{name}/"), io::empty());
        }
        if !ft.is_file() {
            // Devices, fifos and sockets in a context are not copied (Docker skips sockets;
            // the others cannot be made unprivileged-safe in an image).
            return Ok(());
        }
        let mut content = Vec::new();
        File::open(path)?.read_to_end(&mut content)?;
        self.hash.update(Sha256::digest(&content));
        header.set_size(content.len() as u64);
        self.builder
            .append_data(&mut header, name, content.as_slice())
    }

    /// Everything under directory `path` (context path `rel`) into `dir`.
    fn dir_contents(&mut self, path: &Path, rel: &Path, dir: &str) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let child = path.join(&name);
            let child_rel = rel.join(&name);
            let rel_text = child_rel.to_string_lossy().to_string();
            let rel_text = rel_text.trim_start_matches("./");
            let meta = fs::symlink_metadata(&child)?;
            let excluded = self.ignore.is_excluded(rel_text);
            if excluded && !(meta.is_dir() && self.ignore.may_include_below(rel_text)) {
                continue;
            }
            let dest = format!("{dir}/{}", name.to_string_lossy());
            if !excluded {
                self.file(&child, &meta, &dest)?;
            }
            if meta.is_dir() {
                self.dir_contents(&child, &child_rel, &dest)?;
            }
        }
        Ok(())
    }

    /// `ADD`'s local archive: its entries unpacked under `dir`, owners kept.
    fn archive(&mut self, path: &Path, dir: &str) -> io::Result<()> {
        let mut reader = BufReader::new(File::open(path)?);
        let kind = compression::sniff(&mut reader)?
            .map_err(|name| io::Error::other(format!("{name} compression is not supported")))?;
        let decoder = compression::decoder(kind, reader)?;
        let mut archive = tar::Archive::new(decoder);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let entry_path = entry.path()?.into_owned();
            let name = under(dir, &entry_path)?;
            let mut header = entry.header().clone();
            self.hash.update(name.as_bytes());
            self.hash.update([0]);
            match header.entry_type() {
                EntryType::Symlink | EntryType::Link => {
                    let target = entry
                        .link_name()?
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let target = if header.entry_type() == EntryType::Link {
                        PathBuf::from(under(dir, &target)?)
                    } else {
                        target
                    };
                    self.hash.update(target.as_os_str().as_encoded_bytes());
                    self.builder.append_link(&mut header, &name, target)?;
                }
                EntryType::Regular | EntryType::Continuous | EntryType::Directory => {
                    let mut content = Vec::new();
                    entry.read_to_end(&mut content)?;
                    self.hash.update(Sha256::digest(&content));
                    self.builder
                        .append_data(&mut header, &name, content.as_slice())?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether `path` is a tar archive (plain, gzip or zstd), as `ADD` unpacks it.
fn is_archive(path: &Path) -> io::Result<bool> {
    let mut reader = BufReader::new(File::open(path)?);
    let Ok(kind) = compression::sniff(&mut reader)? else {
        return Ok(false);
    };
    let mut decoder = match compression::decoder(kind, reader) {
        Ok(d) => d,
        Err(_) => return Ok(false),
    };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < block.len() {
        match decoder.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return Ok(false),
        }
    }
    Ok(got == 512 && &block[257..262] == b"ustar")
}

fn path_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn parent_of(dest: &str) -> String {
    match dest.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((p, _)) => p.to_string(),
    }
}

/// Mode bits of a `--chmod` value (octal, as Docker accepts it).
pub fn parse_chmod(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid chmod parameter: {text:?} (an octal mode such as 0755)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar_path: &Path) -> Vec<(String, u64, u64, u32)> {
        let mut a = tar::Archive::new(File::open(tar_path).unwrap());
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn places_owns_and_hashes_without_times() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("ctx");
        fs::create_dir_all(root.join("src/skip")).unwrap();
        fs::write(root.join("src/a.c"), "int main;").unwrap();
        fs::write(root.join("src/skip/x"), "x").unwrap();
        fs::write(root.join("one"), "1").unwrap();
        let ignore = DockerIgnore::parse("src/skip\n").unwrap();
        let out = d.path().join("t.tar");
        let own = Ownership {
            owner: Some((1000, 1001)),
            mode: Some(0o700),
        };
        let sum = write_context_tar(
            &root,
            &[PathBuf::from("src"), PathBuf::from("one")],
            &Placement::IntoDir("/app/".into()),
            own,
            &ignore,
            false,
            &out,
        )
        .unwrap();
        assert!(sum.starts_with("multi:"));
        assert_eq!(
            names(&out),
            [
                ("app/a.c".to_string(), 1000, 1001, 0o700),
                ("app/one".to_string(), 1000, 1001, 0o700)
            ]
        );
        // Same content, new times: same checksum; changed content: another one.
        let copy_one = || {
            write_context_tar(
                &root,
                &[PathBuf::from("one")],
                &Placement::AsFile("/x".into()),
                Ownership::default(),
                &ignore,
                false,
                &out,
            )
            .unwrap()
        };
        let again = copy_one();
        assert_eq!(names(&out), [("x".to_string(), 0, 0, 0o644)]);
        filetime_touch(&root.join("one"));
        let touched = copy_one();
        assert_eq!(again, touched);
        fs::write(root.join("one"), "2").unwrap();
        let changed = copy_one();
        assert_ne!(again, changed);
    }

    fn filetime_touch(p: &Path) {
        let f = File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(5))
            .unwrap();
    }
}
