//! `docker import`: a root filesystem tarball (what `export` writes; plain, gzip or zstd) as
//! a one-layer image from scratch, with `-c` changes already applied to its config and
//! `-m` as its history comment (Docker's default: `Imported from <source>`).

use std::io::{BufReader, Read};

use serde_json::Value;

use super::commit::Commit;
use super::compression;
use super::platform::Platform;
use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};

/// What an import of a root filesystem is given besides the tarball.
#[derive(Debug, Default)]
pub struct RootfsImport {
    /// The source as the user named it (`-`, a path), for the default comment.
    pub source: String,
    /// The `config` object (`-c` changes applied to an empty one).
    pub config: Value,
    /// `-m`
    pub message: Option<String>,
    /// `--platform` (default: the host's).
    pub platform: Option<Platform>,
    pub name: Option<Reference>,
}

/// Whether `path` is a file holding a tar archive (plain, gzip or zstd): a root filesystem
/// tarball when it is not an image archive.
pub fn is_tarball(path: &std::path::Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut buffered = BufReader::new(file);
    let Ok(Ok(kind)) = compression::sniff(&mut buffered) else {
        return false;
    };
    let Ok(mut decoder) = compression::decoder(kind, buffered) else {
        return false;
    };
    let mut block = [0u8; 512];
    decoder.read_exact(&mut block).is_ok() && &block[257..262] == b"ustar"
}

impl ImageStore {
    /// Imports the root filesystem tarball read from `input`.
    pub fn import_rootfs(
        &self,
        input: impl Read,
        import: RootfsImport,
    ) -> Result<ImageRecord, ImageError> {
        let scratch = self.build_scratch()?;
        let root = scratch.path().join("rootfs");
        std::fs::create_dir(&root).map_err(ImageError::io_fn("create", &root))?;
        let mut buffered = BufReader::new(input);
        let kind = compression::sniff(&mut buffered)
            .map_err(|e| ImageError::io("read", &import.source, e))?
            .map_err(|name| ImageError::Unsupported {
                what: import.source.clone(),
                reason: format!("{name} compression (supported: gzip, zstd, none)"),
            })?;
        let decoder = compression::decoder(kind, buffered)
            .map_err(|e| ImageError::io("decompress", &import.source, e))?;
        let mut archive = tar::Archive::new(decoder);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_preserve_mtime(true);
        archive.set_unpack_xattrs(true);
        // The tar crate refuses entries (and links) that would leave `root`.
        archive
            .unpack(&root)
            .map_err(|e| ImageError::malformed(&import.source, format!("unpacking: {e}")))?;
        let comment = import
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {}", import.source));
        let config = if import.config.is_object() {
            import.config
        } else {
            Value::Object(Default::default())
        };
        let image = self.commit(Commit {
            base: None,
            changes: Some(&root),
            config,
            created_by: String::new(),
            comment: Some(comment),
            platform: import.platform,
            names: import.name.into_iter().collect(),
            ..Default::default()
        })?;
        self.event("import", &image.id, &image.id);
        Ok(image)
    }
}
