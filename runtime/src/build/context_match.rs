//! COPY/ADD sources against the build context on disk, as Docker's classic builder finds
//! them (moby `builder/dockerfile/copy.go` over the context it received): a source with
//! `*`, `?` or `[` is a Go `filepath.Match` glob tried against every path of the context
//! (depth-first, in name order; `*` never crosses a `/`), any other source is one path.
//!
//! The context is what Docker would have sent: files excluded by `.dockerignore` do not
//! exist, and a directory excluded but holding re-included files exists with just those.
//! Symbolic links are followed inside the context (an absolute target or a `..` above the
//! root stays at the root, as moby's `FollowSymlinkInScope` does); a source whose own `..`
//! leaves the context is an error. URLs (ADD) are not sources here.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::dockerignore::{clean, match_pattern, DockerIgnore};

/// How many symbolic links one path may go through (moby's limit).
const MAX_LINKS: usize = 255;

/// A source that cannot be used. The messages are Docker's; the classic builder prefixes
/// them with `COPY failed: ` (or `ADD failed: `).
#[derive(Debug, Error)]
pub enum ContextError {
    /// A path that is not in the context (or is excluded by `.dockerignore`).
    #[error("file not found in build context or excluded by .dockerignore: stat {path}: file does not exist")]
    NotFound { path: String },
    /// A glob that matched nothing.
    #[error("no source files were specified")]
    NoMatch { pattern: String },
    /// A path whose `..` leads out of the context.
    #[error("forbidden path outside the build context: {path} ()")]
    OutsideContext { path: String },
    #[error("too many links in {path}")]
    TooManyLinks { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl ContextError {
    /// The source pattern or path the error is about.
    pub fn pattern(&self) -> &str {
        match self {
            ContextError::NotFound { path }
            | ContextError::OutsideContext { path }
            | ContextError::TooManyLinks { path }
            | ContextError::Io { path, .. } => path,
            ContextError::NoMatch { pattern } => pattern,
        }
    }
}

/// The context paths (relative to `context_root`) that a COPY/ADD source names. A path is
/// returned cleaned and as named (a symbolic link stays a link: copy what
/// [`resolve_in_context`] gives for it); the context root itself is `.`.
pub fn resolve_sources(
    context_root: &Path,
    pattern: &str,
    ignore: &DockerIgnore,
) -> Result<Vec<PathBuf>, ContextError> {
    let source = pattern.strip_prefix('/').unwrap_or(pattern);
    let source = source.strip_prefix("./").unwrap_or(source);
    if !contains_wildcards(source) {
        resolve_in_context(context_root, source, ignore)?;
        return Ok(vec![PathBuf::from(clean(source))]);
    }
    let context = Context {
        root: context_root,
        ignore,
    };
    let mut found = Vec::new();
    context.walk(Path::new(""), &mut |rel| {
        let rel_str = rel.to_string_lossy();
        if match_pattern(source, &rel_str).unwrap_or(false) {
            resolve_in_context(context_root, &rel_str, ignore)?;
            found.push(rel.to_path_buf());
        }
        Ok(())
    })?;
    if found.is_empty() {
        return Err(ContextError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
    Ok(found)
}

/// Where the context path `rel` really is, relative to the root: symbolic links followed
/// inside the context. Not found (also when excluded) and `..` out of the context are
/// Docker's errors.
pub fn resolve_in_context(
    context_root: &Path,
    rel: &str,
    ignore: &DockerIgnore,
) -> Result<PathBuf, ContextError> {
    // Go's filepath.Join(root, rel), with a stand-in for the root.
    let joined = clean(&format!("root/{rel}"));
    if joined != "root" && !joined.starts_with("root/") {
        return Err(ContextError::OutsideContext {
            path: rel.to_string(),
        });
    }
    let cleaned = &joined["root".len()..];
    let context = Context {
        root: context_root,
        ignore,
    };
    match context.follow(cleaned, rel)? {
        Some(real) => Ok(real),
        None => Err(ContextError::NotFound {
            path: rel.to_string(),
        }),
    }
}

/// Docker's `containsWildcards`: `*`, `?` or `[` not escaped by `\`.
fn contains_wildcards(name: &str) -> bool {
    let mut bytes = name.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => {
                bytes.next();
            }
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
    }
    false
}

struct Context<'a> {
    root: &'a Path,
    ignore: &'a DockerIgnore,
}

impl Context<'_> {
    fn io_error(rel: &Path, source: io::Error) -> ContextError {
        ContextError::Io {
            path: rel.to_string_lossy().into_owned(),
            source,
        }
    }

    /// Whether the entry at `rel` is in the context Docker would have sent.
    fn present(&self, rel: &Path, is_dir: bool) -> Result<bool, ContextError> {
        let rel_str = rel.to_string_lossy();
        if !self.ignore.is_excluded(&rel_str) {
            return Ok(true);
        }
        if !is_dir || !self.ignore.may_include_below(&rel_str) {
            return Ok(false);
        }
        // An excluded directory exists when something below it is re-included.
        let mut any = false;
        self.walk(rel, &mut |_| {
            any = true;
            Ok(())
        })?;
        Ok(any)
    }

    /// Calls `visit` for every context entry below `dir` (depth-first, in name order, links
    /// not followed), skipping what is not in the context.
    fn walk(
        &self,
        dir: &Path,
        visit: &mut dyn FnMut(&Path) -> Result<(), ContextError>,
    ) -> Result<(), ContextError> {
        let entries = fs::read_dir(self.root.join(dir)).map_err(|e| Self::io_error(dir, e))?;
        let mut names = entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Self::io_error(dir, e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let rel = dir.join(&name);
            let meta =
                fs::symlink_metadata(self.root.join(&rel)).map_err(|e| Self::io_error(&rel, e))?;
            if !self.present(&rel, meta.is_dir())? {
                continue;
            }
            visit(&rel)?;
            if meta.is_dir() {
                self.walk(&rel, visit)?;
            }
        }
        Ok(())
    }

    /// moby's `FollowSymlinkInScope` over the context: the real path of `cleaned` (absolute,
    /// i.e. from the context root), or None when some part of it is not in the context.
    fn follow(&self, cleaned: &str, named: &str) -> Result<Option<PathBuf>, ContextError> {
        let mut todo: VecDeque<String> = cleaned.split('/').map(String::from).collect();
        let mut real: Vec<String> = Vec::new();
        // The depth at which the path left the context (deeper parts cannot exist).
        let mut missing: Option<usize> = None;
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    real.pop();
                    if missing.is_some_and(|depth| real.len() < depth) {
                        missing = None;
                    }
                    continue;
                }
                _ => real.push(part),
            }
            if missing.is_some() {
                continue;
            }
            let rel = PathBuf::from(real.join("/"));
            let meta = match fs::symlink_metadata(self.root.join(&rel)) {
                Ok(meta) => meta,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    missing = Some(real.len());
                    continue;
                }
                Err(e) => return Err(Self::io_error(&rel, e)),
            };
            if !self.present(&rel, meta.is_dir())? {
                missing = Some(real.len());
                continue;
            }
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ContextError::TooManyLinks {
                        path: named.to_string(),
                    });
                }
                let target =
                    fs::read_link(self.root.join(&rel)).map_err(|e| Self::io_error(&rel, e))?;
                real.pop();
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    real.clear();
                }
                for part in target.split('/').rev() {
                    todo.push_front(part.to_string());
                }
            }
        }
        if missing.is_some() {
            return Ok(None);
        }
        Ok(Some(if real.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(real.join("/"))
        }))
    }
}

#[cfg(test)]
#[path = "context_match_tests.rs"]
mod tests;
