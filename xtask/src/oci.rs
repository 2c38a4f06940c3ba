//! Writing OCI image layouts: [`pack_dir`] turns a directory tree into a gzip layer blob, and
//! [`LayoutWriter`] collects layer blobs and writes the config, manifest, `index.json` and
//! `oci-layout` around them (OCI image spec v1.1).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The usual PATH of Docker images.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A layer blob written into a layout.
#[derive(Debug, Clone)]
pub struct Layer {
    /// `sha256:...` of the compressed blob.
    pub digest: String,
    /// Size of the compressed blob in bytes.
    pub size: u64,
    /// `sha256:...` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// Entries in the tar (for progress output).
    pub entries: u64,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
}

/// How [`pack_dir`] turns the files of a tree into tar entries.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Give every entry this mtime (seconds since the epoch), for reproducible layers.
    pub mtime: Option<u64>,
    /// Directories (relative to the tree) that go into the layer empty, e.g. `dev`, `proc`.
    pub empty_dirs: Vec<PathBuf>,
}

/// A writer that hashes and counts what passes through it.
struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type LayerStream = tar::Builder<HashWriter<GzEncoder<HashWriter<BufWriter<File>>>>>;

/// Packs the tree below `src` (not `src` itself) into a gzip tar layer, written as a blob of
/// `layout`. Entries come in sorted order, parents before children, with the owner, mode and
/// (unless overridden) mtime of the files on disk. Hard links become link entries, device
/// nodes and fifos keep their type, sockets are skipped. Whiteouts are ordinary files named
/// `.wh.NAME` / `.wh..wh..opq` in the tree, as in the layer format.
pub fn pack_dir(layout: &LayoutWriter, src: &Path, opts: &PackOptions) -> Result<Layer> {
    let tmp = layout
        .blobs_dir()
        .join(format!(".tmp-layer-{}", std::process::id()));
    let file = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    let gz = GzEncoder::new(
        HashWriter::new(BufWriter::with_capacity(1 << 20, file)),
        Compression::default(),
    );
    let mut builder = tar::Builder::new(HashWriter::new(gz));
    let mut packer = Packer {
        src,
        opts,
        hard_links: HashMap::new(),
        entries: 0,
    };
    let result = packer.walk(&mut builder, Path::new(""));
    let finish = || -> Result<Layer> {
        result?;
        let tar_stream = builder.into_inner().context("finish tar")?;
        let (gz, diff_id, tar_size) = tar_stream.finish();
        let compressed = gz.finish().context("finish gzip")?;
        let (mut file, digest, size) = compressed.finish();
        file.flush().context("flush layer")?;
        file.into_inner()
            .map_err(|e| e.into_error())
            .context("flush layer")?
            .sync_all()
            .context("sync layer")?;
        let dest = layout.blob_path(&digest);
        std::fs::rename(&tmp, &dest).with_context(|| format!("rename to {}", dest.display()))?;
        Ok(Layer {
            digest,
            size,
            diff_id,
            entries: packer.entries,
            tar_size,
        })
    };
    let layer = finish();
    if layer.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    layer
}

struct Packer<'a> {
    src: &'a Path,
    opts: &'a PackOptions,
    /// (dev, ino) of files with several links -> the path of their first entry.
    hard_links: HashMap<(u64, u64), PathBuf>,
    entries: u64,
}

impl Packer<'_> {
    /// Appends the children of `rel` (a directory relative to the tree), recursively.
    fn walk(&mut self, builder: &mut LayerStream, rel: &Path) -> Result<()> {
        let dir = self.src.join(rel);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("read {}", dir.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("read {}", dir.display()))?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            let rel = rel.join(&name);
            let path = self.src.join(&rel);
            let meta = std::fs::symlink_metadata(&path)
                .with_context(|| format!("stat {}", path.display()))?;
            let ft = meta.file_type();
            let mut header = tar::Header::new_gnu();
            header.set_mode(meta.mode() & 0o7777);
            header.set_uid(u64::from(meta.uid()));
            header.set_gid(u64::from(meta.gid()));
            header.set_mtime(self.opts.mtime.unwrap_or(meta.mtime().max(0) as u64));
            header.set_size(0);
            let ctx = || format!("add {} to the layer", rel.display());
            if ft.is_dir() {
                header.set_entry_type(tar::EntryType::Directory);
                builder
                    .append_data(&mut header, &rel, std::io::empty())
                    .with_context(ctx)?;
                self.entries += 1;
                if !self.opts.empty_dirs.iter().any(|d| d == &rel) {
                    self.walk(builder, &rel)?;
                }
                continue;
            }
            if ft.is_symlink() {
                let target = std::fs::read_link(&path)
                    .with_context(|| format!("readlink {}", path.display()))?;
                header.set_entry_type(tar::EntryType::Symlink);
                builder
                    .append_link(&mut header, &rel, &target)
                    .with_context(ctx)?;
            } else if ft.is_file() {
                if meta.nlink() > 1 {
                    let key = (meta.dev(), meta.ino());
                    if let Some(first) = self.hard_links.get(&key) {
                        header.set_entry_type(tar::EntryType::Link);
                        builder
                            .append_link(&mut header, &rel, first)
                            .with_context(ctx)?;
                        self.entries += 1;
                        continue;
                    }
                    self.hard_links.insert(key, rel.clone());
                }
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(meta.len());
                let file = File::open(&path).with_context(|| format!("open {}", path.display()))?;
                builder
                    .append_data(&mut header, &rel, file)
                    .with_context(ctx)?;
            } else if ft.is_char_device() || ft.is_block_device() {
                header.set_entry_type(if ft.is_char_device() {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                let rdev = meta.rdev();
                let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
                let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
                header.set_device_major(major as u32).with_context(ctx)?;
                header.set_device_minor(minor as u32).with_context(ctx)?;
                builder
                    .append_data(&mut header, &rel, std::io::empty())
                    .with_context(ctx)?;
            } else if ft.is_fifo() {
                header.set_entry_type(tar::EntryType::Fifo);
                builder
                    .append_data(&mut header, &rel, std::io::empty())
                    .with_context(ctx)?;
            } else {
                // Sockets have no place in an image.
                continue;
            }
            self.entries += 1;
        }
        Ok(())
    }
}

/// An OCI image layout being written into a (temporary) directory.
pub struct LayoutWriter {
    dir: PathBuf,
    layers: Vec<Layer>,
    history: Vec<Value>,
}

impl LayoutWriter {
    /// Starts a layout in `dir` (created; must not hold another layout).
    pub fn new(dir: &Path) -> Result<Self> {
        let w = LayoutWriter {
            dir: dir.to_path_buf(),
            layers: Vec::new(),
            history: Vec::new(),
        };
        std::fs::create_dir_all(w.blobs_dir())
            .with_context(|| format!("create {}", w.blobs_dir().display()))?;
        std::fs::write(
            dir.join("oci-layout"),
            serde_json::to_vec(&json!({ "imageLayoutVersion": "1.0.0" }))?,
        )
        .context("write oci-layout")?;
        Ok(w)
    }

    fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs/sha256")
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.blobs_dir()
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    /// Packs `src` into the next layer; `created_by` goes into the config's history.
    pub fn add_dir_layer(
        &mut self,
        src: &Path,
        opts: &PackOptions,
        created: &str,
        created_by: &str,
    ) -> Result<Layer> {
        let layer = pack_dir(self, src, opts)?;
        self.layers.push(layer.clone());
        self.history
            .push(json!({ "created": created, "created_by": created_by }));
        Ok(layer)
    }

    /// Writes a blob (if absent) and returns its descriptor.
    fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Value> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let path = self.blob_path(&digest);
        std::fs::write(&path, bytes).with_context(|| format!("write {}", path.display()))?;
        Ok(json!({ "mediaType": media_type, "digest": digest, "size": bytes.len() }))
    }

    /// Writes the config (`image_config` is its `config` object), the manifest and
    /// `index.json` naming the manifest `tag`. Returns the manifest's digest.
    pub fn finish(self, image_config: Value, created: &str, tag: &str) -> Result<String> {
        let config = json!({
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": image_config,
            "rootfs": {
                "type": "layers",
                "diff_ids": self.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "history": self.history,
        });
        let config_desc = self.write_blob(MEDIA_CONFIG, &serde_json::to_vec(&config)?)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_desc,
            "layers": self.layers.iter().map(|l| json!({
                "mediaType": MEDIA_LAYER_GZIP,
                "digest": l.digest,
                "size": l.size,
            })).collect::<Vec<_>>(),
        });
        let mut manifest_desc = self.write_blob(MEDIA_MANIFEST, &serde_json::to_vec(&manifest)?)?;
        manifest_desc["annotations"] = json!({ REF_NAME: tag });
        let digest = manifest_desc["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [manifest_desc],
        });
        // index.json last: a layout with an index.json has all its blobs.
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)
            .context("write index.json")?;
        Ok(digest)
    }
}

/// Whether `dir` holds a complete layout: `oci-layout`, an `index.json` whose manifests,
/// their configs and layers all exist as blobs of the recorded sizes. (Sizes, not hashes:
/// the layouts are written to a temporary name and renamed, so a present one is whole.)
pub fn layout_complete(dir: &Path) -> bool {
    check_layout(dir).is_ok()
}

fn check_layout(dir: &Path) -> Result<()> {
    if !dir.join("oci-layout").is_file() {
        bail!("no oci-layout");
    }
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)?;
    let manifests = index["manifests"].as_array().context("no manifests")?;
    if manifests.is_empty() {
        bail!("empty index");
    }
    let blob = |desc: &Value| -> Result<PathBuf> {
        let digest = desc["digest"]
            .as_str()
            .context("descriptor without digest")?;
        let hex = digest.strip_prefix("sha256:").context("not sha256")?;
        let path = dir.join("blobs/sha256").join(hex);
        let size = std::fs::metadata(&path)?.len();
        if Some(size) != desc["size"].as_u64() {
            bail!("{} has the wrong size", path.display());
        }
        Ok(path)
    };
    for m in manifests {
        let manifest: Value = serde_json::from_slice(&std::fs::read(blob(m)?)?)?;
        blob(&manifest["config"])?;
        for layer in manifest["layers"].as_array().context("no layers")? {
            blob(layer)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn packs_a_tree_reproducibly_with_links() {
        let base = std::env::temp_dir().join(format!("xtask-oci-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let tree = base.join("tree");
        std::fs::create_dir_all(tree.join("etc/sub")).unwrap();
        std::fs::write(tree.join("etc/a"), "a\n").unwrap();
        std::fs::hard_link(tree.join("etc/a"), tree.join("etc/sub/a2")).unwrap();
        std::os::unix::fs::symlink("/etc/a", tree.join("link")).unwrap();
        std::fs::create_dir_all(tree.join("dev/x")).unwrap();
        let opts = PackOptions {
            mtime: Some(1),
            empty_dirs: vec!["dev".into()],
        };
        let mut digests = Vec::new();
        for i in 0..2 {
            let mut w = LayoutWriter::new(&base.join(format!("layout{i}"))).unwrap();
            let layer = w
                .add_dir_layer(&tree, &opts, "1970-01-01T00:00:01Z", "test")
                .unwrap();
            let blob = std::fs::read(w.blob_path(&layer.digest)).unwrap();
            let mut tar_bytes = Vec::new();
            flate2::read::GzDecoder::new(&blob[..])
                .read_to_end(&mut tar_bytes)
                .unwrap();
            assert_eq!(
                layer.diff_id,
                format!("sha256:{}", hex::encode(Sha256::digest(&tar_bytes)))
            );
            let mut archive = tar::Archive::new(&tar_bytes[..]);
            let entries: Vec<(String, tar::EntryType)> = archive
                .entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.path().unwrap().to_string_lossy().into_owned(),
                        e.header().entry_type(),
                    )
                })
                .collect();
            let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                ["dev", "etc", "etc/a", "etc/sub", "etc/sub/a2", "link"]
            );
            assert_eq!(entries[4].1, tar::EntryType::Link);
            assert_eq!(entries[5].1, tar::EntryType::Symlink);
            w.finish(json!({ "Cmd": ["sh"] }), "1970-01-01T00:00:01Z", "latest")
                .unwrap();
            assert!(layout_complete(&base.join(format!("layout{i}"))));
            digests.push(layer.digest);
        }
        assert_eq!(digests[0], digests[1]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
