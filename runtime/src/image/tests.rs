//! Store tests on tiny images built here with the tar crate. They run as root: mknod, chown,
//! trusted xattrs and an overlayfs mount of the unpacked layers are exercised for real.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use serde_json::{json, Value};

use super::digest::Digest;
use super::{ImageError, ImageStore};

// ---------------------------------------------------------------- fixtures

/// Builds layer tars entry by entry, names written raw (so `../evil` can be written).
struct LayerTar {
    b: tar::Builder<Vec<u8>>,
}

const MTIME: u64 = 1_600_000_000;

impl LayerTar {
    fn new() -> Self {
        LayerTar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        mode: u32,
        owner: (u64, u64),
        link: Option<&str>,
        data: &[u8],
        dev: Option<(u32, u32)>,
        pax: &[(&str, &[u8])],
    ) -> &mut Self {
        if !pax.is_empty() {
            let mut records = Vec::new();
            for (k, v) in pax {
                records.extend(pax_record(k, v));
            }
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            set_name(&mut h, "PaxHeader");
            h.set_size(records.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            self.b.append(&h, &records[..]).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        set_name(&mut h, name);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(MTIME);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name_literal(l).unwrap();
        }
        if let Some((ma, mi)) = dev {
            h.set_device_major(ma).unwrap();
            h.set_device_minor(mi).unwrap();
        }
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(
            name,
            tar::EntryType::Directory,
            mode,
            (0, 0),
            None,
            b"",
            None,
            &[],
        )
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(
            name,
            tar::EntryType::Regular,
            0o644,
            (0, 0),
            None,
            data,
            None,
            &[],
        )
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name,
            tar::EntryType::Symlink,
            0o777,
            (0, 0),
            Some(target),
            b"",
            None,
            &[],
        )
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(
            name,
            tar::EntryType::Link,
            0o644,
            (0, 0),
            Some(target),
            b"",
            None,
            &[],
        )
    }

    fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn set_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = 1 + key.len() + 1 + value.len() + 1; // " key=value\n"
    let mut len = body_len + 1;
    while len != body_len + len.to_string().len() {
        len = body_len + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

#[derive(Clone, Copy)]
enum Comp {
    None,
    Gzip,
    Zstd,
}

/// A layer blob ready for a layout: compressed bytes, media type, diff id.
#[derive(Clone)]
struct Blob {
    bytes: Vec<u8>,
    media_type: String,
    diff_id: String,
    tar: Vec<u8>,
}

fn blob(tar: Vec<u8>, comp: Comp) -> Blob {
    let diff_id = Digest::sha256_of(&tar).to_string();
    let (bytes, media_type) = match comp {
        Comp::None => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&tar).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Comp::Zstd => (
            zstd::encode_all(&tar[..], 1).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    };
    Blob {
        bytes,
        media_type: media_type.into(),
        diff_id,
        tar,
    }
}

fn config_for(layers: &[Blob], created: &str, cmd: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"], "WorkingDir": "/", "Labels": {"t": cmd}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
        "history": [],
    }))
    .unwrap()
}

fn put_blob(dir: &Path, bytes: &[u8]) -> Value {
    let d = Digest::sha256_of(bytes);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.hex()), bytes).unwrap();
    json!({"digest": d.to_string(), "size": bytes.len()})
}

/// Writes an OCI layout; returns the manifest digest.
fn oci_layout(dir: &Path, layers: &[Blob], config: &[u8], ref_name: Option<&str>) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut cfg = put_blob(dir, config);
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| {
            let mut d = put_blob(dir, &l.bytes);
            d["mediaType"] = l.media_type.clone().into();
            d
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": layer_descs,
    }))
    .unwrap();
    let mut mdesc = put_blob(dir, &manifest);
    mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    mdesc["platform"] = json!({"os": "linux", "architecture": "amd64"});
    if let Some(n) = ref_name {
        mdesc["annotations"] = json!({"org.opencontainers.image.ref.name": n});
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [mdesc.clone()]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    mdesc["digest"].as_str().unwrap().to_string()
}

/// Writes a legacy `docker save` tar (`<hex>.json`, `<n>/layer.tar`, a symlinked duplicate).
fn docker_save(path: &Path, layers: &[Blob], config: &[u8], tags: &[&str]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let cfg_name = format!("{}.json", Digest::sha256_of(config).hex());
    let add = |b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&mut b, &cfg_name, config);
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        if i > 0 && l.diff_id == layers[0].diff_id {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &name, "../layer0/layer.tar").unwrap();
        } else {
            add(&mut b, &name, &l.tar);
        }
        names.push(name);
    }
    let manifest = json!([{"Config": cfg_name, "RepoTags": tags, "Layers": names}]);
    add(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.into_inner().unwrap();
}

/// Tars a directory (an OCI archive from a layout).
fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let tmp = tempfile::Builder::new()
        .prefix("ebrun-image-test-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let s = ImageStore::open_dir(tmp.path().join("root/image")).unwrap();
    (tmp, s)
}

fn simple_image(marker: &str) -> (Vec<Blob>, Vec<u8>) {
    let l = blob(
        LayerTar::new()
            .dir("bin", 0o755)
            .file(&format!("bin/{marker}"), marker.as_bytes())
            .finish(),
        Comp::Gzip,
    );
    let cfg = config_for(std::slice::from_ref(&l), "2024-01-01T00:00:00Z", marker);
    (vec![l], cfg)
}

fn getxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of buf.len() bytes.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (rc >= 0).then(|| buf[..rc as usize].to_vec())
}

/// Everything under the store's layers dir (names only).
fn layer_entries(s: &ImageStore) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.dir().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// What `rmi` printed, as Docker's CLI prints it.
fn shown(deleted: Vec<super::Deletion>) -> Vec<String> {
    deleted.iter().map(ToString::to_string).collect()
}

fn no_use(_: &str) -> Option<super::usage::ImageUser> {
    None
}

// ---------------------------------------------------------------- tests

fn base_layer() -> Vec<u8> {
    let mut t = LayerTar::new();
    t.dir("./", 0o755)
        .dir("etc", 0o755)
        .file("etc/deleteme", b"bye")
        .dir("etc/opaque", 0o755)
        .file("etc/opaque/old", b"old")
        .dir("bin", 0o755)
        .raw(
            "bin/su",
            tar::EntryType::Regular,
            0o4755,
            (0, 0),
            None,
            b"su",
            None,
            &[],
        )
        .raw(
            "home",
            tar::EntryType::Directory,
            0o1777,
            (0, 0),
            None,
            b"",
            None,
            &[],
        )
        .raw(
            "home/user.txt",
            tar::EntryType::Regular,
            0o640,
            (1000, 1001),
            None,
            b"mine",
            None,
            &[],
        )
        .symlink("bin/sh", "/bin/busybox")
        .file("bin/busybox", b"BUSYBOX")
        .hardlink("bin/ls", "bin/busybox")
        .raw(
            "dev/fifo",
            tar::EntryType::Fifo,
            0o600,
            (0, 0),
            None,
            b"",
            None,
            &[],
        )
        .raw(
            "dev/null",
            tar::EntryType::Char,
            0o666,
            (0, 0),
            None,
            b"",
            Some((1, 3)),
            &[],
        )
        .raw(
            "dev/loop0",
            tar::EntryType::Block,
            0o660,
            (0, 6),
            None,
            b"",
            Some((7, 0)),
            &[],
        )
        .raw(
            "bin/ping",
            tar::EntryType::Regular,
            0o755,
            (0, 0),
            None,
            b"ping",
            None,
            &[
                ("SCHILY.xattr.user.ebrun", b"hello"),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/x"),
            ],
        );
    t.finish()
}

fn top_layer() -> Vec<u8> {
    LayerTar::new()
        .dir("etc", 0o755)
        .file("etc/.wh.deleteme", b"")
        .dir("etc/opaque", 0o755)
        .file("etc/opaque/.wh..wh..opq", b"")
        .file("etc/opaque/new", b"new")
        .finish()
}

#[test]
fn oci_layout_two_layers_whiteouts_and_metadata() {
    let (tmp, s) = store();
    let layers = vec![
        blob(base_layer(), Comp::None),
        blob(top_layer(), Comp::Gzip),
    ];
    let cfg = config_for(&layers, "2024-03-01T10:00:00Z", "sh");
    let layout = tmp.path().join("busybox");
    let mdigest = oci_layout(&layout, &layers, &cfg, Some("busybox:1.36"));

    let rec = s.import(&layout, None, false).unwrap();
    assert_eq!(rec.id, Digest::sha256_of(&cfg).to_string());
    assert_eq!(rec.repo_tags, vec!["busybox:1.36"]);
    assert_eq!(rec.repo_digests, vec![format!("busybox@{mdigest}")]);
    assert_eq!(rec.created.as_deref(), Some("2024-03-01T10:00:00Z"));
    assert_eq!(rec.size, (3 + 3 + 2 + 4 + 7 + 4 + 3) as u64);
    assert_eq!(
        rec.diff_ids,
        vec![layers[0].diff_id.clone(), layers[1].diff_id.clone()]
    );
    let dirs = s.layer_dirs(&rec);
    assert_eq!(dirs.len(), 2);
    assert!(dirs[0].ends_with(format!(
        "layers/{}/diff",
        layers[0].diff_id.strip_prefix("sha256:").unwrap()
    )));

    // Layer 1: metadata preserved.
    let l1 = &dirs[0];
    let m = |p: &str| std::fs::symlink_metadata(l1.join(p)).unwrap();
    assert_eq!(m("bin/su").mode() & 0o7777, 0o4755);
    assert_eq!(m("home").mode() & 0o7777, 0o1777);
    assert_eq!(
        (m("home/user.txt").uid(), m("home/user.txt").gid()),
        (1000, 1001)
    );
    assert_eq!(m("home/user.txt").mode() & 0o7777, 0o640);
    assert_eq!(m("home/user.txt").mtime(), MTIME as i64);
    assert_eq!(
        m("etc").mtime(),
        MTIME as i64,
        "directory mtimes are restored last"
    );
    assert_eq!(
        std::fs::read_link(l1.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(m("bin/ls").ino(), m("bin/busybox").ino());
    assert!(m("dev/fifo").file_type().is_fifo());
    assert!(m("dev/null").file_type().is_char_device());
    assert_eq!(m("dev/null").rdev(), libc::makedev(1, 3));
    assert!(m("dev/loop0").file_type().is_block_device());
    assert_eq!(m("dev/loop0").gid(), 6);
    assert_eq!(
        getxattr(&l1.join("bin/ping"), "user.ebrun").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        getxattr(&l1.join("bin/ping"), "trusted.overlay.redirect"),
        None
    );
    assert_eq!(m(".").mode() & 0o7777, 0o755);

    // Layer 2: OCI whiteouts became overlayfs whiteouts.
    let l2 = &dirs[1];
    let wh = std::fs::symlink_metadata(l2.join("etc/deleteme")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!l2.join("etc/.wh.deleteme").exists());
    assert_eq!(
        getxattr(&l2.join("etc/opaque"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!l2.join("etc/opaque/.wh..wh..opq").exists());
    assert_eq!(std::fs::read(l2.join("etc/opaque/new")).unwrap(), b"new");

    // And overlayfs agrees: mount the two lowerdirs (top first) and look.
    let merged = tmp.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    let opts = format!("lowerdir={}:{}", l2.display(), l1.display());
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::MS_RDONLY,
        Some(opts.as_str()),
    )
    .expect("mount overlay");
    let seen = (
        merged.join("etc/deleteme").exists(),
        merged.join("etc/opaque/old").exists(),
        merged.join("etc/opaque/new").exists(),
        std::fs::read(merged.join("bin/busybox")).ok(),
    );
    nix::mount::umount(&merged).unwrap();
    assert_eq!(seen, (false, false, true, Some(b"BUSYBOX".to_vec())));

    // Found by every spelling.
    for r in [
        "busybox:1.36",
        "docker.io/library/busybox:1.36",
        &rec.id,
        rec.hex(),
        &rec.hex()[..5],
        &format!("sha256:{}", &rec.hex()[..8]),
        &format!("busybox@{mdigest}"),
    ] {
        assert_eq!(s.resolve(r).unwrap().id, rec.id, "{r}");
    }
    let err = s.resolve("busybox").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to find image 'busybox:latest' locally"
    );
    let err = s
        .resolve(&format!("sha256:{}", "0".repeat(64)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("No such image: sha256:{}", "0".repeat(64))
    );

    // A re-import is a no-op for layers and keeps the image.
    let inode = m("bin/busybox").ino();
    s.import(&layout, Some("bb"), false).unwrap();
    assert_eq!(m("bin/busybox").ino(), inode);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(
        s.resolve("bb").unwrap().repo_tags,
        vec!["bb:latest", "busybox:1.36"]
    );
}

fn assert_store_empty(s: &ImageStore) {
    assert_eq!(
        layer_entries(s),
        Vec::<String>::new(),
        "no layer or temp dir may remain"
    );
    assert!(s.list().unwrap().is_empty());
    assert!(s.read_repositories().unwrap().repositories.is_empty());
    let tmp: Vec<_> = std::fs::read_dir(s.dir().join("tmp")).unwrap().collect();
    assert!(tmp.is_empty());
}

#[test]
fn wrong_blob_digest_is_refused_and_nothing_stays() {
    let (tmp, s) = store();
    let layers = vec![
        blob(base_layer(), Comp::Gzip),
        blob(top_layer(), Comp::Gzip),
    ];
    let cfg = config_for(&layers, "2024-03-01T10:00:00Z", "sh");
    let layout = tmp.path().join("bad");
    oci_layout(&layout, &layers, &cfg, Some("bad:1"));
    // Corrupt layer 2's blob, same size.
    let hex = Digest::sha256_of(&layers[1].bytes).hex().to_string();
    let path = layout.join("blobs/sha256").join(&hex);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let err = s.import(&layout, None, false).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{msg}");
    assert!(msg.contains("layer 2/2"), "{msg}");
    assert!(msg.contains(&format!("expected sha256:{hex}")), "{msg}");
    assert_store_empty(&s);
}

#[test]
fn wrong_diff_id_is_refused_and_nothing_stays() {
    let (tmp, s) = store();
    let mut layers = vec![blob(base_layer(), Comp::Zstd)];
    let real = layers[0].diff_id.clone();
    layers[0].diff_id = format!("sha256:{}", "1".repeat(64));
    let cfg = config_for(&layers, "2024-03-01T10:00:00Z", "sh");
    let layout = tmp.path().join("bad");
    oci_layout(&layout, &layers, &cfg, None);
    let err = s.import(&layout, Some("x"), false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("diff id"), "{msg}");
    assert!(msg.contains(&format!("got {real}")), "{msg}");
    assert_store_empty(&s);
}

#[test]
fn docker_save_and_oci_archive_tars() {
    let (tmp, s) = store();
    let l0 = blob(
        LayerTar::new().dir("a", 0o755).file("a/one", b"1").finish(),
        Comp::None,
    );
    let l1 = blob(
        LayerTar::new()
            .file("a/.wh.one", b"")
            .file("two", b"22")
            .finish(),
        Comp::None,
    );
    let layers = vec![l0.clone(), l1, l0];
    let cfg = config_for(&layers, "2023-01-01T00:00:00Z", "docker");
    let save = tmp.path().join("save.tar");
    docker_save(
        &save,
        &layers,
        &cfg,
        &["myapp:v1", "localhost:5000/team/app:2"],
    );

    let out = s.import_all(&save, None, false).unwrap();
    let rec = &out.loaded[0].image;
    assert_eq!(
        out.loaded[0].names,
        vec!["myapp:v1", "localhost:5000/team/app:2"]
    );
    assert_eq!(rec.repo_tags, vec!["localhost:5000/team/app:2", "myapp:v1"]);
    assert!(rec.repo_digests.is_empty());
    assert_eq!(rec.diff_ids.len(), 3);
    assert_eq!(
        layer_entries(&s).len(),
        2,
        "a repeated layer is unpacked once"
    );
    // The repeated layer is a lowerdir once, at its topmost place: [l1, l0].
    let dirs = s.layer_dirs(rec);
    assert_eq!(
        dirs,
        vec![
            s.layer_dir(&layers[1].diff_id),
            s.layer_dir(&layers[0].diff_id)
        ]
    );
    assert!(std::fs::symlink_metadata(dirs[0].join("a/one"))
        .unwrap()
        .file_type()
        .is_char_device());

    // The same save, gzip-compressed, is the same image.
    let gz = tmp.path().join("save.tar.gz");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(&std::fs::read(&save).unwrap()).unwrap();
    e.finish().unwrap();
    assert_eq!(s.import(&gz, Some("gz"), false).unwrap().id, rec.id);

    // An OCI archive (a tarred layout) of another image.
    let (ol, ocfg) = simple_image("oci");
    let layout = tmp.path().join("layout");
    oci_layout(&layout, &ol, &ocfg, Some("docker.io/library/ociarch:3"));
    let archive = tmp.path().join("oci.tar");
    tar_dir(&layout, &archive);
    let orec = s.import(&archive, None, false).unwrap();
    assert_eq!(orec.repo_tags, vec!["ociarch:3"]);

    // Newest first.
    let list = s.list().unwrap();
    assert_eq!(
        list.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![orec.id.clone(), rec.id.clone()]
    );

    // Not an image at all.
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(matches!(
        s.import(&junk, None, false),
        Err(ImageError::UnknownFormat { .. })
    ));
}

#[test]
fn path_traversal_stays_inside() {
    let (tmp, s) = store();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let marker = format!("ebrun-test-evil-{}", std::process::id());

    // `..` climbing out is refused, and nothing is written.
    let bad = blob(LayerTar::new().file("../evil", b"x").finish(), Comp::None);
    let cfg = config_for(std::slice::from_ref(&bad), "2024-01-01T00:00:00Z", "x");
    let layout = tmp.path().join("dotdot");
    oci_layout(&layout, &[bad], &cfg, None);
    let err = s.import(&layout, Some("evil"), false).unwrap_err();
    assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
    assert!(err.to_string().contains("path traversal"), "{err}");
    assert!(!s.dir().join("layers/evil").exists() && !s.dir().join("evil").exists());
    assert_store_empty(&s);

    // Symlinks are resolved inside the layer, like a chroot (Docker's chrootarchive): writes
    // through an absolute or climbing symlink land in the layer, never on the host.
    let rel = format!("../../../../../../../../..{}", outside.display());
    let tricky = blob(
        LayerTar::new()
            .symlink("etc", "/")
            .file(&format!("etc/{marker}"), b"x")
            .symlink("up", &rel)
            .file("up/escaped", b"y")
            .symlink("root", "/")
            .dir("root/made", 0o700)
            .symlink("passwd", "/etc/passwd")
            .hardlink("hl", "passwd")
            .file("./a/../b", b"fine")
            .symlink("lib", "usr/lib")
            .file("lib/early", b"z")
            .finish(),
        Comp::None,
    );
    let cfg = config_for(std::slice::from_ref(&tricky), "2024-01-01T00:00:00Z", "x");
    let layout = tmp.path().join("tricky");
    oci_layout(&layout, &[tricky], &cfg, None);
    let host_passwd = std::fs::metadata("/etc/passwd").unwrap();
    let rec = s.import(&layout, Some("tricky"), false).unwrap();
    let l = &s.layer_dirs(&rec)[0];
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "wrote into the host's /etc"
    );
    assert!(
        !Path::new("/").join(&marker).exists(),
        "wrote into the host's /"
    );
    assert!(!outside.join("escaped").exists(), "wrote outside the layer");
    assert!(!Path::new("/made").exists());
    // `etc -> /` resolved to the layer root.
    assert!(l.join("etc").is_symlink());
    assert_eq!(std::fs::read(l.join(&marker)).unwrap(), b"x");
    // The climbing symlink's target was created inside the layer.
    let inside = l.join(outside.strip_prefix("/").unwrap()).join("escaped");
    assert_eq!(std::fs::read(&inside).unwrap(), b"y");
    assert!(l.join("made").is_dir());
    // A hardlink to a symlink links the symlink, not what it points at.
    assert!(std::fs::symlink_metadata(l.join("hl"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::metadata("/etc/passwd").unwrap().nlink(),
        host_passwd.nlink()
    );
    assert_eq!(std::fs::read(l.join("b")).unwrap(), b"fine");
    // A symlinked directory created later than an entry under it: created like mkdir -p.
    assert_eq!(std::fs::read(l.join("usr/lib/early")).unwrap(), b"z");

    // A hardlink whose target climbs out is refused.
    let hl = blob(
        LayerTar::new()
            .hardlink("x", "../../../../etc/passwd")
            .finish(),
        Comp::None,
    );
    let cfg = config_for(std::slice::from_ref(&hl), "2024-01-01T00:00:00Z", "x");
    let layout = tmp.path().join("hl");
    oci_layout(&layout, &[hl], &cfg, None);
    let err = s.import(&layout, Some("hl"), false).unwrap_err();
    assert!(matches!(err, ImageError::UnsafeEntry { .. }), "{err}");
    assert_eq!(layer_entries(&s).len(), 1, "only the tricky image's layer");
}

#[test]
fn shared_layers_are_unpacked_once_and_freed_last() {
    let (tmp, s) = store();
    let shared = blob(
        LayerTar::new()
            .dir("usr", 0o755)
            .file("usr/shared", b"s")
            .finish(),
        Comp::Gzip,
    );
    let a_top = blob(LayerTar::new().file("a", b"a").finish(), Comp::Gzip);
    let b_top = blob(LayerTar::new().file("b", b"b").finish(), Comp::Zstd);
    let a_layers = vec![shared.clone(), a_top];
    let b_layers = vec![shared.clone(), b_top];
    let a_cfg = config_for(&a_layers, "2024-01-01T00:00:00Z", "a");
    let b_cfg = config_for(&b_layers, "2024-02-01T00:00:00Z", "b");
    oci_layout(&tmp.path().join("a"), &a_layers, &a_cfg, None);
    oci_layout(&tmp.path().join("b"), &b_layers, &b_cfg, None);

    let a = s.import(&tmp.path().join("a"), Some("a"), false).unwrap();
    let shared_dir = s.layer_dir(&shared.diff_id);
    let inode = std::fs::metadata(shared_dir.join("usr/shared"))
        .unwrap()
        .ino();
    let b = s.import(&tmp.path().join("b"), Some("b"), false).unwrap();
    assert_eq!(layer_entries(&s).len(), 3);
    assert_eq!(
        std::fs::metadata(shared_dir.join("usr/shared"))
            .unwrap()
            .ino(),
        inode,
        "not unpacked again"
    );
    assert_eq!(s.layer_dirs(&a)[0], s.layer_dirs(&b)[0]);

    let lines = shown(s.remove("a", false, &no_use).unwrap());
    assert_eq!(lines[0], "Untagged: a:latest");
    assert!(lines[1].starts_with("Untagged: a@sha256:"));
    assert_eq!(lines[2], format!("Deleted: {}", a.id));
    assert_eq!(lines.len(), 4, "only a's own layer goes: {lines:?}");
    assert!(shared_dir.exists());
    s.remove("b", false, &no_use).unwrap();
    assert!(!shared_dir.exists());
    assert_eq!(layer_entries(&s), Vec::<String>::new());
    let blobs: Vec<_> = std::fs::read_dir(s.dir().join("blobs/sha256"))
        .unwrap()
        .collect();
    assert!(blobs.is_empty());
}

#[test]
fn rmi_semantics() {
    let (tmp, s) = store();
    let (l, cfg) = simple_image("rmi");
    let layout = tmp.path().join("img");
    let mdigest = oci_layout(&layout, &l, &cfg, Some("x:1"));
    let rec = s.import(&layout, None, false).unwrap();
    s.import(&layout, Some("x:2"), false).unwrap();
    s.import(&layout, Some("y"), false).unwrap();
    let short = &rec.hex()[..12];

    // Missing.
    let err = s.remove("nope", false, &no_use).unwrap_err();
    assert_eq!(err.to_string(), "No such image: nope:latest");

    // By id with several tags: refused without force.
    let err = s.remove(short, false, &no_use).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );

    // Untagging one of several tags only untags.
    assert_eq!(
        shown(s.remove("x:2", false, &no_use).unwrap()),
        vec!["Untagged: x:2"]
    );
    // Last tag of repo x: its digest reference goes too.
    assert_eq!(
        shown(s.remove("x:1", false, &no_use).unwrap()),
        vec![
            "Untagged: x:1".to_string(),
            format!("Untagged: x@{mdigest}")
        ]
    );
    assert_eq!(s.resolve(short).unwrap().repo_tags, vec!["y:latest"]);

    // In use by a container.
    let used = |id: &str| {
        (id == rec.id).then(|| super::usage::ImageUser {
            container: "c0ffee1234567890".to_string(),
            running: true,
        })
    };
    let err = s.remove("y", false, &used).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("conflict: unable to remove repository reference \"y\" (must force) - container c0ffee123456 is using its referenced image {short}")
    );
    let err = s.remove(&rec.id, true, &used).unwrap_err();
    assert!(err
        .to_string()
        .contains("(cannot be forced) - image is being used by running container c0ffee123456"));
    // Forced untag of the last tag leaves the image, dangling, for its container.
    assert_eq!(
        shown(s.remove("y", true, &used).unwrap()),
        vec![
            "Untagged: y:latest".to_string(),
            format!("Untagged: y@{mdigest}")
        ]
    );
    let left = s.resolve(short).unwrap();
    assert!(left.repo_tags.is_empty() && left.is_dangling());
    assert!(s.layer_dirs(&left)[0].exists());

    // Container gone: delete by id prefix.
    let lines = shown(s.remove(&rec.hex()[..4], false, &no_use).unwrap());
    assert_eq!(lines[0], format!("Deleted: {}", rec.id));
    assert_eq!(lines[1], format!("Deleted: {}", l[0].diff_id));
    assert!(matches!(
        s.resolve(&rec.id),
        Err(ImageError::NotFound { .. })
    ));
    assert_store_empty(&s);

    // Force by id untags everything then deletes.
    s.import(&layout, Some("p:1"), false).unwrap();
    s.import(&layout, Some("q:1"), false).unwrap();
    let lines = shown(s.remove(&rec.id, true, &no_use).unwrap());
    assert_eq!(
        lines[..4],
        [
            "Untagged: p:1".to_string(),
            format!("Untagged: p@{mdigest}"),
            "Untagged: q:1".to_string(),
            format!("Untagged: q@{mdigest}")
        ]
    );
    assert_eq!(lines[4], format!("Deleted: {}", rec.id));
    assert_store_empty(&s);
}

#[test]
fn ambiguous_prefixes_and_moved_tags() {
    let (tmp, s) = store();
    let mut ids = HashMap::new();
    // Import images until two share a first hex digit.
    let mut i = 0;
    let (a, b) = loop {
        let (l, cfg) = simple_image(&format!("img{i}"));
        let dir = tmp.path().join(format!("img{i}"));
        oci_layout(&dir, &l, &cfg, None);
        let rec = s.import(&dir, Some("moving"), false).unwrap();
        if let Some(prev) = ids.insert(rec.hex()[..1].to_string(), rec.id.clone()) {
            break (prev, rec.id);
        }
        i += 1;
    };
    let err = s.resolve(&a[7..8]).unwrap_err();
    assert!(matches!(err, ImageError::AmbiguousId { .. }), "{err}");
    // The tag moved to the newest import; older ones are dangling.
    assert_eq!(s.resolve("moving").unwrap().id, b);
    assert!(s.resolve(&a).unwrap().repo_tags.is_empty());
    let out = s
        .import_all(&tmp.path().join("img0"), Some("moving"), false)
        .unwrap();
    if out.loaded[0].image.id != b {
        assert_eq!(
            out.notices,
            vec![format!("The image moving:latest already exists, renaming the old one with ID {b} to empty string")]
        );
    }
}

#[test]
fn concurrent_imports_and_removals_do_not_corrupt() {
    let (tmp, s) = store();
    let mut dirs = Vec::new();
    for i in 0..6 {
        let (l, cfg) = simple_image(&format!("c{i}"));
        let dir = tmp.path().join(format!("c{i}"));
        oci_layout(&dir, &l, &cfg, None);
        dirs.push(dir);
    }
    std::thread::scope(|scope| {
        for (i, dir) in dirs.iter().enumerate() {
            let s = s.clone();
            scope.spawn(move || {
                let name = format!("c{i}");
                s.import(dir, Some(&name), false).unwrap();
                if i % 2 == 0 {
                    s.remove(&name, false, &no_use).unwrap();
                }
            });
        }
    });
    let list = s.list().unwrap();
    let mut tags: Vec<String> = list.iter().flat_map(|r| r.repo_tags.clone()).collect();
    tags.sort();
    assert_eq!(tags, vec!["c1:latest", "c3:latest", "c5:latest"]);
    assert_eq!(layer_entries(&s).len(), 3);
}

#[test]
fn progress_flag_is_harmless_without_a_terminal() {
    let (tmp, s) = store();
    let (l, cfg) = simple_image("progress");
    let dir = tmp.path().join("p");
    oci_layout(&dir, &l, &cfg, None);
    s.import(&dir, Some("p"), true).unwrap();
    // Mode bits of the layer root default to 0755 when the tar has no "./" entry.
    let meta = std::fs::metadata(s.layer_dir(&l[0].diff_id)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
}
