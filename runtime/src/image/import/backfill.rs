//! Layers unpacked by an ebrun that did not keep layer blobs (or whose blob went missing) get
//! theirs back when an import brings the same layer again: the blob is read from the source,
//! checked (its digest, and the diff id of its uncompressed content), put beside the unpacked
//! content, and `layer.json` completed. The unpacked content is not touched: containers may
//! be using it.

use std::io::BufReader;
use std::path::PathBuf;

use tracing::{debug, warn};

use super::source::Source;
use super::tee::TeeReader;
use super::PendingLayer;
use crate::image::compression;
use crate::image::digest::{Algorithm, HashingReader};
use crate::image::store::{LAYER_BLOB, LAYER_META};
use crate::image::{ImageError, ImageStore};
use crate::state;

impl ImageStore {
    /// Whether the stored layer `diff_id` lacks its blob (and so cannot be saved).
    pub(crate) fn lacks_blob(&self, diff_id: &str) -> bool {
        self.layer_meta(diff_id)
            .is_some_and(|m| m.tar_size.is_none() || !self.layer_blob(diff_id).is_file())
    }

    /// Gives the stored `layer` its blob from `src`. A failure only warns: the image is
    /// complete without it, only `save` needs it (and says so).
    pub(super) fn backfill_blob(&self, src: &dyn Source, layer: &PendingLayer) {
        match self.try_backfill(src, layer) {
            Ok(()) => debug!("{}: kept its blob", layer.what),
            Err(e) => warn!("{}: cannot keep the layer blob: {e}", layer.what),
        }
    }

    fn try_backfill(&self, src: &dyn Source, layer: &PendingLayer) -> Result<(), ImageError> {
        let root = self.layer_root(&layer.diff_id);
        let Some(mut meta) = self.layer_meta(&layer.diff_id) else {
            return Ok(());
        };
        let what = || PathBuf::from(&layer.what);
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-blob-")
            .tempfile_in(&root)
            .map_err(ImageError::io_fn("create temp file in", &root))?;
        let copy = tmp
            .reopen()
            .map_err(ImageError::io_fn("open", tmp.path()))?;
        let (reader, _) = src.open(&layer.path)?;
        let mut tee = TeeReader::new(reader, Some(copy));
        let mut raw = HashingReader::new(&mut tee, layer.blob_algorithm());
        let (diff_digest, tar_size, kind) = {
            let mut buffered = BufReader::with_capacity(256 << 10, &mut raw);
            let kind = compression::sniff(&mut buffered)
                .map_err(|e| ImageError::io("read", what(), e))?
                .map_err(|name| ImageError::Unsupported {
                    what: layer.what.clone(),
                    reason: format!("{name} compression"),
                })?;
            let decoder = compression::decoder(kind, buffered)
                .map_err(|e| ImageError::io("decompress", what(), e))?;
            let mut diff = HashingReader::new(decoder, Algorithm::Sha256);
            diff.drain()
                .map_err(|e| ImageError::io("decompress", what(), e))?;
            (diff.digest(), diff.count(), kind)
        };
        raw.drain().map_err(|e| ImageError::io("read", what(), e))?;
        let (raw_digest, raw_count) = (raw.digest(), raw.count());
        tee.finish()
            .map_err(|e| ImageError::io("write", tmp.path(), e))?;
        if let Some(expected) = layer.blob_digest.as_ref().filter(|d| **d != raw_digest) {
            return Err(ImageError::DigestMismatch {
                what: format!("{} blob", layer.what),
                expected: expected.to_string(),
                actual: raw_digest.to_string(),
            });
        }
        if diff_digest.to_string() != layer.diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("{} uncompressed content (diff id)", layer.what),
                expected: layer.diff_id.clone(),
                actual: diff_digest.to_string(),
            });
        }
        let target = root.join(LAYER_BLOB);
        tmp.persist(&target)
            .map_err(|e| ImageError::io("rename into", &target, e.error))?;
        meta.blob_digest = Some(raw_digest.to_string());
        meta.compression = Some(kind.name().to_string());
        meta.blob_size = Some(raw_count);
        meta.tar_size = Some(tar_size);
        state::replace_json_atomic(&root.join(LAYER_META), &meta)?;
        Ok(())
    }
}
