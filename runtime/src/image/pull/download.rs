//! Downloading blobs into the store's `downloads/` directory: `<hex>.partial` while it
//! arrives (an interrupted pull resumes from its length with a `Range` request), renamed to
//! `<hex>` once its size and digest are verified. A blob that fails verification is
//! deleted, so the next pull starts it over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::client::Registry;
use super::progress::LayerProgress;
use super::PullError;
use crate::image::digest::{Digest, Hasher};

const CHUNK: usize = 256 << 10;

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PullError {
    let path = path.to_path_buf();
    move |source| PullError::Io { op, path, source }
}

/// The verified file of blob `digest` in `dir`, if it is there.
pub fn complete_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(digest.hex())
}

/// Downloads blob `digest` (`size` bytes) into `dir`; returns its verified file.
pub fn download(
    registry: &Registry,
    dir: &Path,
    digest: &Digest,
    size: u64,
    progress: Option<&LayerProgress<'_>>,
) -> Result<PathBuf, PullError> {
    let done = complete_path(dir, digest);
    if done.exists() {
        if let Some(p) = progress {
            p.resumed(size);
        }
        return Ok(done);
    }
    let partial = dir.join(format!("{}.partial", digest.hex()));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&partial)
        .map_err(io("open", &partial))?;
    let mut have = file.metadata().map_err(io("stat", &partial))?.len();
    if have > size {
        file.set_len(0).map_err(io("truncate", &partial))?;
        have = 0;
    }
    let mut hasher = Hasher::new(digest.algorithm());
    if have > 0 {
        // Hash what an earlier pull left, then ask only for the rest.
        hash_prefix(&mut file, have, &mut hasher).map_err(io("read", &partial))?;
    }
    if let Some(p) = progress {
        p.resumed(have);
    }
    let url = registry.url("blobs", &digest.to_string());
    let resp = registry.get(&url, None, have)?;
    if resp.status() == 200 && have > 0 {
        // The registry ignored the range: start over.
        file.set_len(0).map_err(io("truncate", &partial))?;
        hasher = Hasher::new(digest.algorithm());
        have = 0;
    }
    file.seek(SeekFrom::Start(have))
        .map_err(io("seek", &partial))?;
    let mut reader = resp.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let mut total = have;
    loop {
        let n = reader.read(&mut buf).map_err(|e| PullError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > size {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io("write", &partial))?;
        if let Some(p) = progress {
            p.inc(n as u64);
        }
    }
    if let Some(p) = progress {
        p.status("Verifying Checksum");
    }
    let actual = hasher.finish();
    if total != size || &actual != digest {
        drop(file);
        let _ = std::fs::remove_file(&partial);
        return Err(PullError::Verification {
            digest: digest.to_string(),
            reason: if total != size {
                format!("expected {size} bytes, got {total}")
            } else {
                format!("content has digest {actual}")
            },
        });
    }
    // No fsync: the import verifies every blob again before anything refers to it.
    std::fs::rename(&partial, &done).map_err(io("rename", &done))?;
    Ok(done)
}

/// Feeds the first `len` bytes of `file` to `hasher`.
fn hash_prefix(file: &mut File, len: u64, hasher: &mut Hasher) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut left = len;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}
