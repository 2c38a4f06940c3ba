//! `ebrun cp` between the host and a container, as the docker CLI does it over the Engine
//! API: stat the destination, then copy into it (a directory) or next to it under its name.
//! Host-side extraction refuses entries landing outside the destination; the container
//! side runs in the confined helper (see `archive`).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::archive::{archive_path, extract_to, stat_path, ArchiveError, ExtractOptions};
use super::archive_tar::{base_name, extract, ExtractOwners, IdMap, TarWriter};
use super::config::ContainerConfig;
use crate::Paths;

fn io(op: &'static str) -> impl FnOnce(io::Error) -> ArchiveError {
    move |source| ArchiveError::Io { op, source }
}

/// The parent of a container path (`/a/b` -> `/a`, `b` -> `/`).
fn container_parent(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => t[..i].to_string(),
    }
}

/// Writes `path` of the container, as a tar, to `out` (`ebrun cp C:PATH -`).
pub fn copy_out_to_writer(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    path: &str,
    out: &mut dyn Write,
) -> Result<(), ArchiveError> {
    let (_, mut reader) = archive_path(paths, config, shown, path, None)?;
    io::copy(&mut reader, out).map_err(io("write the archive"))?;
    out.flush().map_err(io("write the archive"))?;
    reader.finish()
}

/// Copies `path` of the container to `dest` on the host: into `dest` when it is a
/// directory, else as `dest`.
pub fn copy_out(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    path: &str,
    dest: &Path,
) -> Result<(), ArchiveError> {
    let dest_text = dest.to_string_lossy();
    let (dir, rename) = match fs::metadata(dest) {
        Ok(m) if m.is_dir() => (dest.to_path_buf(), None),
        Ok(_) => {
            let parent = host_parent(dest);
            (parent, Some(base_name(&dest_text)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if dest_text.ends_with('/') {
                return Err(ArchiveError::BadParameter(format!(
                    "destination directory {dest_text:?} does not exist"
                )));
            }
            let parent = host_parent(dest);
            if !parent.is_dir() {
                return Err(ArchiveError::BadParameter(format!(
                    "invalid output path: directory {:?} does not exist",
                    parent.display().to_string()
                )));
            }
            (parent, Some(base_name(&dest_text)))
        }
        Err(e) => return Err(io("stat the destination")(e)),
    };
    let (stat, mut reader) = archive_path(paths, config, shown, path, rename.as_deref())?;
    if stat.is_dir() && rename.is_some() && dest.exists() {
        return Err(ArchiveError::BadParameter(format!(
            "cannot overwrite non-directory {dest_text:?} with directory {path:?}"
        )));
    }
    extract(&mut reader, &dir, true, ExtractOwners::default())
        .map_err(|e| ArchiveError::Failed(format!("extract into {}: {e}", dir.display())))?;
    reader.finish()
}

fn host_parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Extracts the tar stream `input` into directory `dir` of the container
/// (`ebrun cp - C:DIR`).
pub fn copy_in_from_reader(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    dir: &str,
    input: &mut dyn Read,
) -> Result<(), ArchiveError> {
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        copy_uid_gid: false,
    };
    extract_to(paths, config, shown, dir, options, input)
}

/// Copies host path `src` into the container as `dest` (into it when it is a directory).
/// `src` is archived with its links kept, never followed.
pub fn copy_in(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    src: &Path,
    dest: &str,
    options: ExtractOptions,
) -> Result<(), ArchiveError> {
    let src_text = src.to_string_lossy().to_string();
    let src_meta = fs::symlink_metadata(src).map_err(|e| {
        ArchiveError::BadParameter(format!("lstat {src_text}: {}", crate::state::describe(&e)))
    })?;
    let (dir, name) = match stat_path(paths, config, shown, dest) {
        Ok(stat) if stat.is_dir() => (dest.to_string(), base_name(&src_text)),
        Ok(_) if src_meta.is_dir() => {
            return Err(ArchiveError::BadParameter(format!(
                "cannot overwrite non-directory {dest:?} with directory {src_text:?}"
            )))
        }
        Ok(_) => (container_parent(dest), base_name(dest)),
        Err(ArchiveError::PathNotFound { .. }) if !dest.ends_with('/') => {
            (container_parent(dest), base_name(dest))
        }
        Err(e) => return Err(e),
    };
    let name = if name == "/" { ".".to_string() } else { name };
    let (reader, writer) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| ArchiveError::Io {
            op: "make a pipe",
            source: e.into(),
        })?;
    let src_path = src.to_path_buf();
    let producer = std::thread::spawn(move || -> io::Result<()> {
        let mut tar = TarWriter::new(BufWriter::new(File::from(writer)), IdMap::default());
        tar.append_tree(name.as_bytes(), &src_path)?;
        tar.finish().map(|_| ())
    });
    let mut reader = File::from(reader);
    let result = extract_to(paths, config, shown, &dir, options, &mut reader);
    // Ends the producer should it still be writing (the helper gave up).
    drop(reader);
    let produced = producer
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the archiving thread panicked")));
    result?;
    produced.map_err(io("archive the source"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_of_container_paths() {
        assert_eq!(container_parent("/a/b"), "/a");
        assert_eq!(container_parent("/a/b/"), "/a");
        assert_eq!(container_parent("/a"), "/");
        assert_eq!(container_parent("a"), "/");
    }
}
