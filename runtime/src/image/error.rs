//! The image store's error type: every message names the value at fault and what was expected.

use std::path::PathBuf;

use crate::state::StateError;

/// Everything that can go wrong in the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the reference. `local` selects Docker's wording: `Unable to find image
    /// 'busybox:latest' locally` for names (what `docker run` prints), `No such image: X`
    /// otherwise (what `docker rmi` / `docker image inspect` print).
    #[error("{}", if *local { format!("Unable to find image '{reference}' locally") } else { format!("No such image: {reference}") })]
    NotFound {
        /// The reference as Docker would show it (`busybox:latest`, or the id as typed).
        reference: String,
        /// Which wording to use (see above).
        local: bool,
    },

    /// A `--platform` value that is not `os/arch[/variant]`.
    #[error("invalid platform {platform:?}: {reason}")]
    InvalidPlatform { platform: String, reason: String },

    /// An id prefix matches more than one image.
    #[error("multiple IDs found with provided prefix: {prefix}")]
    AmbiguousId { prefix: String },

    /// The reference is not a valid `[domain/]path[:tag][@digest]`, nor an id.
    #[error("invalid reference format: {reason}")]
    InvalidReference { reference: String, reason: String },

    /// A request that is wrong as such (a filter dockerd would refuse, a tag with a digest),
    /// worded as Docker words it.
    #[error("{message}")]
    InvalidArgument { message: String },

    /// Docker's `conflict: ...` errors of `rmi` (the message is complete Docker wording).
    #[error("conflict: {message}")]
    Conflict { message: String },

    /// The import source is not something we know how to read.
    #[error(
        "{}: not an image: expected an OCI image layout directory (oci-layout, index.json), \
         an OCI archive, or a `docker save` archive (manifest.json)",
        path.display()
    )]
    UnknownFormat { path: PathBuf },

    /// A blob's content does not hash to the digest it is referenced by.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A blob's length differs from its descriptor's size.
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual} bytes")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    /// A layer entry would land outside the layer directory, or is otherwise unsafe.
    #[error("{layer}: refusing tar entry {entry:?}: {reason}")]
    UnsafeEntry {
        layer: String,
        entry: String,
        reason: String,
    },

    /// The source lacks a file it refers to.
    #[error("{source_name}: {what} is missing ({path})")]
    Missing {
        source_name: String,
        what: String,
        path: String,
    },

    /// A manifest, index, config or archive member is malformed.
    #[error("{what}: {reason}")]
    Malformed { what: String, reason: String },

    /// A feature of the source we do not support (compression, digest algorithm, ...).
    #[error("{what}: unsupported: {reason}")]
    Unsupported { what: String, reason: String },

    /// A system call or file operation failed. (The cause is part of the message and not
    /// also a `source()`, so `{:#}` chains do not repeat it.)
    #[error("{op} {}: {cause}", path.display())]
    Io {
        op: String,
        path: PathBuf,
        cause: std::io::Error,
    },

    /// Reading or writing a state file failed (message only, as for `Io`).
    #[error("{0}")]
    State(StateError),
}

impl From<StateError> for ImageError {
    fn from(e: StateError) -> Self {
        ImageError::State(e)
    }
}

impl ImageError {
    /// An [`ImageError::Io`] for `op` on `path`.
    pub(crate) fn io(
        op: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ImageError::Io {
            op: op.into(),
            path: path.into(),
            cause: source,
        }
    }

    /// A closure mapping an `io::Error` to [`ImageError::Io`], for `map_err`.
    pub(crate) fn io_fn<'a>(
        op: &'a str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> ImageError + 'a {
        move |source| ImageError::io(op, path, source)
    }

    /// An [`ImageError::Malformed`].
    pub(crate) fn malformed(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ImageError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// An [`ImageError::InvalidArgument`] with Docker's `message`.
    pub fn from_message(message: String) -> Self {
        ImageError::InvalidArgument { message }
    }

    /// A [`ImageError::NotFound`] worded `No such image: X` (what `rmi`, `image inspect`,
    /// `tag`, `history` and `save` say); other errors as they are.
    pub fn no_such(self) -> Self {
        match self {
            ImageError::NotFound { reference, .. } => ImageError::NotFound {
                reference,
                local: false,
            },
            other => other,
        }
    }

    /// Whether this is a "no such image" error (of either wording).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ImageError::NotFound { .. })
    }
}
