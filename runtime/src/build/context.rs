//! The build context: a directory on disk (a context sent as a tar is unpacked into a scratch
//! directory first), its `.dockerignore`, and the Dockerfile read from it or from elsewhere.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::dockerignore::DockerIgnore;
use super::error::BuildError;
use super::options::DockerfileSource;

/// Largest Dockerfile read.
const MAX_DOCKERFILE: u64 = 16 << 20;

/// The Dockerfile's text.
pub fn read_dockerfile(context: &Path, source: &DockerfileSource) -> Result<String, BuildError> {
    let path = match source {
        DockerfileSource::Text(t) => return Ok(t.clone()),
        DockerfileSource::File(p) => p.clone(),
        DockerfileSource::InContext(rel) => {
            let rel = Path::new(rel);
            if rel.components().any(|c| matches!(c, Component::ParentDir)) || rel.is_absolute() {
                // `-f ../x` or an absolute path given relative: read it where it is.
                rel.to_path_buf()
            } else {
                context.join(rel)
            }
        }
    };
    let meta = std::fs::metadata(&path).map_err(|e| match source {
        // Docker's words, naming the Dockerfile as the user gave it (not the context's
        // scratch directory a tar was unpacked into).
        DockerfileSource::InContext(rel) if e.kind() == std::io::ErrorKind::NotFound => {
            BuildError::Context(format!("Cannot locate specified Dockerfile: {rel}"))
        }
        _ => BuildError::Context(format!(
            "unable to find Dockerfile {}: {}",
            path.display(),
            crate::state::describe(&e)
        )),
    })?;
    if meta.len() > MAX_DOCKERFILE {
        return Err(BuildError::Context(format!(
            "Dockerfile {} is larger than {MAX_DOCKERFILE} bytes",
            path.display()
        )));
    }
    std::fs::read_to_string(&path)
        .map_err(|e| BuildError::Context(format!("reading Dockerfile {}: {e}", path.display())))
}

/// The context's `.dockerignore` (none: nothing excluded).
pub fn read_ignore(context: &Path) -> Result<DockerIgnore, BuildError> {
    let path = context.join(".dockerignore");
    match std::fs::read_to_string(&path) {
        Ok(text) => DockerIgnore::parse(&text)
            .map_err(|e| BuildError::Context(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerIgnore::empty()),
        Err(e) => Err(BuildError::Context(format!("{}: {e}", path.display()))),
    }
}

/// Unpacks a context sent as a tar (plain or gzip, as `docker build -` sends it) into `dir`.
/// Entries cannot leave `dir` (the tar crate refuses `..` and links out of it).
pub fn unpack_context(input: impl Read, dir: &Path) -> Result<(), BuildError> {
    let mut buffered = std::io::BufReader::new(input);
    let kind = crate::image::compression::sniff(&mut buffered)
        .map_err(|e| BuildError::Context(format!("reading the context: {e}")))?
        .map_err(|name| {
            BuildError::Context(format!("{name}-compressed contexts are not supported"))
        })?;
    let decoder = crate::image::compression::decoder(kind, buffered)
        .map_err(|e| BuildError::Context(format!("reading the context: {e}")))?;
    let mut archive = tar::Archive::new(decoder);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive
        .unpack(dir)
        .map_err(|e| BuildError::Context(format!("unpacking the context: {e}")))
}

/// A scratch directory for a context sent as a tar, removed when dropped.
pub fn scratch_context(base: &Path) -> Result<tempfile::TempDir, BuildError> {
    tempfile::Builder::new()
        .prefix("context-")
        .tempdir_in(base)
        .map_err(BuildError::io("create a context directory in", base))
}

/// The default context tar's Dockerfile name (`docker build -` without `-f`).
pub fn default_dockerfile() -> DockerfileSource {
    DockerfileSource::InContext("Dockerfile".into())
}

/// `-f` given with a context directory: relative to the current directory, as Docker reads
/// it, but kept in the context when it is inside.
pub fn dockerfile_flag(context: &Path, flag: &Path) -> DockerfileSource {
    if flag.as_os_str() == "-" {
        let mut text = String::new();
        let _ = std::io::stdin().read_to_string(&mut text);
        return DockerfileSource::Text(text);
    }
    match (std::fs::canonicalize(flag), std::fs::canonicalize(context)) {
        (Ok(f), Ok(c)) => match f.strip_prefix(&c) {
            Ok(rel) => DockerfileSource::InContext(rel.display().to_string()),
            Err(_) => DockerfileSource::File(f),
        },
        _ => DockerfileSource::File(PathBuf::from(flag)),
    }
}
