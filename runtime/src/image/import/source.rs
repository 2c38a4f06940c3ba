//! Where an import reads from: a directory (an OCI layout or an unpacked `docker save`) or a
//! tar archive of one, read in place through an index of its members (a compressed archive is
//! first decompressed into the store's scratch directory).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tracing::debug;

use crate::image::compression::{self, Compression};
use crate::image::ImageError;

/// Largest JSON document (index, manifest, config) we read into memory.
pub(crate) const MAX_JSON: u64 = 64 << 20;
/// Most symlink hops followed inside an archive.
const MAX_LINKS: usize = 16;

/// Read access to the files of an image source, by `/`-separated relative path.
pub(crate) trait Source {
    /// The source as the user named it, for messages.
    fn name(&self) -> &str;
    /// Whether `path` exists (as a file, after links).
    fn exists(&self, path: &str) -> bool;
    /// A reader of `path` and its length.
    fn open(&self, path: &str) -> Result<(Box<dyn Read + '_>, u64), ImageError>;

    /// The file on disk holding `path`, when the source is a directory.
    fn local_file(&self, _path: &str) -> Option<PathBuf> {
        None
    }

    /// Reads a whole (small) file; `what` names it in errors.
    fn read_all(&self, path: &str, what: &str) -> Result<Vec<u8>, ImageError> {
        let (mut r, len) = self.open(path)?;
        if len > MAX_JSON {
            return Err(ImageError::malformed(
                format!("{}: {what} ({path})", self.name()),
                format!("{len} bytes is too large (limit {MAX_JSON})"),
            ));
        }
        let mut buf = Vec::with_capacity(len as usize);
        r.read_to_end(&mut buf).map_err(|e| {
            ImageError::io(format!("read {what}"), Path::new(self.name()).join(path), e)
        })?;
        Ok(buf)
    }
}

/// Opens `path` as a source; `scratch` is where a compressed archive is decompressed.
pub(crate) fn open(path: &Path, scratch: &Path) -> Result<Box<dyn Source>, ImageError> {
    let meta = std::fs::metadata(path).map_err(ImageError::io_fn("open import source", path))?;
    if meta.is_dir() {
        return Ok(Box::new(DirSource {
            name: path.display().to_string(),
            root: path.to_path_buf(),
        }));
    }
    let file = File::open(path).map_err(ImageError::io_fn("open import source", path))?;
    let mut reader = BufReader::new(&file);
    let compression = compression::sniff(&mut reader)
        .map_err(ImageError::io_fn("read", path))?
        .map_err(|name| ImageError::Unsupported {
            what: path.display().to_string(),
            reason: format!("{name}-compressed archives (use an uncompressed, gzip or zstd tar)"),
        })?;
    let (mut file, scratch_file) = if compression == Compression::None {
        drop(reader);
        (file, None)
    } else {
        debug!("decompressing {} ({})", path.display(), compression.name());
        let mut tmp = tempfile::Builder::new()
            .prefix("archive-")
            .tempfile_in(scratch)
            .map_err(ImageError::io_fn("create temp file in", scratch))?;
        let mut dec = compression::decoder(compression, reader)
            .map_err(ImageError::io_fn("decompress", path))?;
        io::copy(&mut dec, tmp.as_file_mut()).map_err(ImageError::io_fn("decompress", path))?;
        let f = tmp
            .reopen()
            .map_err(ImageError::io_fn("reopen", tmp.path()))?;
        (f, Some(tmp))
    };
    // Sniffing moved the cursor; the index reads from the start.
    file.rewind().map_err(ImageError::io_fn("seek", path))?;
    let members = index_tar(&file).map_err(|e| {
        debug!("{} is not a tar archive: {e}", path.display());
        ImageError::UnknownFormat {
            path: path.to_path_buf(),
        }
    })?;
    Ok(Box::new(TarSource {
        name: path.display().to_string(),
        file,
        members,
        _scratch: scratch_file,
    }))
}

/// Normalizes a member path: no leading `/` or `./`, no `.` components, `..` resolved; `None`
/// if it climbs out.
pub(crate) fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

struct DirSource {
    name: String,
    root: PathBuf,
}

impl DirSource {
    fn path(&self, path: &str) -> Result<PathBuf, ImageError> {
        // Paths come from the source's own JSON: never let them leave the directory.
        let clean = normalize(path).filter(|p| !p.is_empty() && !path.starts_with('/'));
        match clean {
            Some(p) => Ok(self.root.join(p)),
            None => Err(ImageError::malformed(
                &self.name,
                format!("refers to {path:?}, outside the image directory"),
            )),
        }
    }
}

impl Source for DirSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn exists(&self, path: &str) -> bool {
        self.path(path).map(|p| p.is_file()).unwrap_or(false)
    }

    fn local_file(&self, path: &str) -> Option<PathBuf> {
        self.path(path).ok().filter(|p| p.is_file())
    }

    fn open(&self, path: &str) -> Result<(Box<dyn Read + '_>, u64), ImageError> {
        let full = self.path(path)?;
        let file = File::open(&full).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ImageError::Missing {
                    source_name: self.name.clone(),
                    what: "a file the image refers to".into(),
                    path: path.to_string(),
                }
            } else {
                ImageError::io("open", &full, e)
            }
        })?;
        let len = file
            .metadata()
            .map_err(ImageError::io_fn("stat", &full))?
            .len();
        Ok((Box::new(file), len))
    }
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Symlink(String),
    Hardlink(String),
}

struct TarSource {
    name: String,
    file: File,
    members: HashMap<String, Member>,
    _scratch: Option<tempfile::NamedTempFile>,
}

/// Maps each member of the tar in `file` to where its data sits.
fn index_tar(file: &File) -> io::Result<HashMap<String, Member>> {
    let mut members = HashMap::new();
    let mut archive = tar::Archive::new(file);
    let mut any = false;
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        any = true;
        let Ok(raw) = std::str::from_utf8(&entry.path_bytes()).map(str::to_string) else {
            continue;
        };
        let Some(path) = normalize(&raw) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let link = || {
            entry
                .link_name_bytes()
                .and_then(|b| String::from_utf8(b.into_owned()).ok())
                .unwrap_or_default()
        };
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else if kind.is_symlink() {
            Member::Symlink(link())
        } else if kind.is_hard_link() {
            Member::Hardlink(link())
        } else {
            continue;
        };
        members.insert(path, member);
    }
    if !any {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "empty archive"));
    }
    Ok(members)
}

impl TarSource {
    /// Follows links to the member holding `path`'s data.
    fn resolve(&self, path: &str) -> Option<(u64, u64)> {
        let mut cur = normalize(path)?;
        for _ in 0..MAX_LINKS {
            match self.members.get(&cur)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Hardlink(target) => cur = normalize(target)?,
                Member::Symlink(target) => {
                    let base = if target.starts_with('/') {
                        String::new()
                    } else {
                        cur.rsplit_once('/')
                            .map(|(d, _)| d.to_string())
                            .unwrap_or_default()
                    };
                    cur = normalize(&format!("{base}/{target}"))?;
                }
            }
        }
        None
    }
}

impl Source for TarSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_some()
    }

    fn open(&self, path: &str) -> Result<(Box<dyn Read + '_>, u64), ImageError> {
        let (offset, size) = self.resolve(path).ok_or_else(|| ImageError::Missing {
            source_name: self.name.clone(),
            what: "a file the image refers to".into(),
            path: path.to_string(),
        })?;
        Ok((
            Box::new(SectionReader {
                file: &self.file,
                pos: offset,
                end: offset + size,
            }),
            size,
        ))
    }
}

/// Reads `file[pos..end]` with positioned reads (no shared cursor).
struct SectionReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for SectionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.pos;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(left as usize);
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive member is truncated",
            ));
        }
        self.pos += got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_member_paths() {
        assert_eq!(normalize("./a/b").as_deref(), Some("a/b"));
        assert_eq!(normalize("/a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../b"), None);
    }

    #[test]
    fn tar_source_reads_members_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&tar_path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "x/layer.tar", &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "y/layer.tar", "../x/layer.tar")
            .unwrap();
        b.into_inner().unwrap();
        let src = open(&tar_path, dir.path()).unwrap();
        assert!(src.exists("./y/layer.tar"));
        assert_eq!(src.read_all("y/layer.tar", "test").unwrap(), b"hello");
        assert!(!src.exists("z"));
        assert!(matches!(src.open("z"), Err(ImageError::Missing { .. })));
    }
}
