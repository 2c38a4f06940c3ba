//! Tar streams moved under a destination: the archive of a path in another stage's image
//! (`COPY --from`) rewritten under the destination directory, the one-entry tar of a
//! destination directory a copy step creates, and the placement of archive members.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path};

use tar::{EntryType, Header};

use super::copy_tar::Ownership;

/// Rewrites a tar stream (the archive of a path in another stage's image, top entry named
/// `name` or `.`) into `out` with every entry moved under directory `dir` (absolute, in the
/// container), `ownership` applied. Returns the number of entries written.
pub fn write_moved_tar(
    input: impl Read,
    dir: &str,
    ownership: Ownership,
    out: &mut tar::Builder<BufWriter<File>>,
) -> io::Result<u64> {
    let prefix = dir.trim_matches('/').to_string();
    let mut archive = tar::Archive::new(input);
    let mut n = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let name = under(dir, &path)?;
        if name == prefix {
            // The directory copied itself: its contents land in `dir`, which stays as it is.
            continue;
        }
        let mut header = entry.header().clone();
        if let Some((uid, gid)) = ownership.owner {
            header.set_uid(uid.into());
            header.set_gid(gid.into());
        }
        if let (Some(mode), false) = (ownership.mode, header.entry_type().is_symlink()) {
            header.set_mode(mode);
        }
        match header.entry_type() {
            EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                out.append_link(&mut header, &name, target)?;
            }
            EntryType::Link => continue,
            _ => {
                let mut content = Vec::new();
                entry.read_to_end(&mut content)?;
                out.append_data(&mut header, &name, content.as_slice())?;
            }
        }
        n += 1;
    }
    Ok(n)
}

/// A tar holding only the directory `dir` (absolute, in the container) with `owner` and
/// `mode`: a destination directory a copy step creates.
pub fn write_dir_entry(dir: &str, owner: (u32, u32), mode: u32, out: &Path) -> io::Result<()> {
    let mut builder = tar::Builder::new(BufWriter::new(File::create(out)?));
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Directory);
    header.set_mode(mode);
    header.set_uid(owner.0.into());
    header.set_gid(owner.1.into());
    header.set_size(0);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let name = format!("{}/", dir.trim_matches('/'));
    builder.append_data(&mut header, name, io::empty())?;
    builder.into_inner()?.flush()
}

/// The tar entry name of archive member `path` placed under directory `dir` (absolute, in
/// the container): `dir/path` without its leading slash; a member with `..` is refused.
pub(super) fn under(dir: &str, path: &Path) -> io::Result<String> {
    let mut out = dir.trim_matches('/').to_string();
    for c in path.components() {
        match c {
            Component::Normal(n) => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(&n.to_string_lossy());
            }
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(io::Error::other(format!(
                    "archive entry {} would leave the destination",
                    path.display()
                )))
            }
        }
    }
    Ok(out)
}
