//! End-to-end tests of the image store through the real `ebrun` binary: `image import` of
//! each format, `images`, `rmi`, `image inspect`, refused corrupt images, concurrent imports.
//! The test images come from `cargo xtask image` (`/var/cache/ebrun/images`).

use ebrun_tests::common;
use ebrun_tests::common::{stderr, stdout};

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Instance;
use serde_json::Value;

/// A test image file, with a clear message when `cargo xtask image` has not been run.
fn test_image(name: &str) -> PathBuf {
    let p = common::image_layout(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask image` first",
        p.display()
    );
    p
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Names in a directory, sorted (empty if it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 64];
    // SAFETY: NUL-terminated strings and a buffer of buf.len() writable bytes.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (rc >= 0).then(|| buf[..rc as usize].to_vec())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn inspect(inst: &Instance, image: &str) -> Value {
    let out = inst.ok(&["image", "inspect", image]);
    let v: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

/// The state an instance's image store must be in when it holds no image.
fn assert_store_empty(inst: &Instance) {
    let store = inst.root().join("image");
    assert_eq!(
        entries(&store.join("layers")),
        Vec::<String>::new(),
        "no layer, no temp dir"
    );
    assert_eq!(
        entries(&store.join("images")),
        Vec::<String>::new(),
        "no image record"
    );
    assert_eq!(
        entries(&store.join("tmp")),
        Vec::<String>::new(),
        "no scratch file"
    );
    let repos = std::fs::read_to_string(store.join("repositories.json")).unwrap_or_default();
    assert!(!repos.contains("sha256:"), "no tag left: {repos}");
    assert_eq!(inst.ok(&["images", "-q"]), "");
}

#[test]
fn imports_each_format_and_lists_it() {
    let cases: [(&str, Option<&str>, &str); 4] = [
        (
            "busybox",
            Some("busybox:latest"),
            "Loaded image: busybox:latest\n",
        ),
        ("busybox-oci.tar", None, "Loaded image: busybox:latest\n"),
        ("busybox-docker.tar", None, "Loaded image: busybox:latest\n"),
        (
            "busybox-docker.tar",
            Some("localhost:5000/team/bb:v1"),
            "Loaded image: localhost:5000/team/bb:v1\n",
        ),
    ];
    let mut ids = Vec::new();
    for (file, name, expect) in cases {
        let inst = Instance::new();
        let src = test_image(file);
        let mut args = vec!["image", "import", path_str(&src)];
        args.extend(name);
        assert_eq!(inst.ok(&args), expect, "{file}");

        let table = inst.ok(&["images"]);
        let mut lines = table.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
        );
        let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
        let (repo, tag) = expect
            .trim_start_matches("Loaded image: ")
            .trim_end()
            .rsplit_once(':')
            .unwrap();
        assert_eq!(&row[..2], [repo, tag], "{table}");
        assert_eq!(row[2].len(), 12);
        assert!(row.last().unwrap().ends_with("MB") || row.last().unwrap().ends_with("kB"));
        assert!(table.contains(" ago "), "{table}");
        ids.push(inst.ok(&["images", "-q", "--no-trunc"]).trim().to_string());
    }
    // The three formats carry the same image.
    assert!(
        ids.iter().all(|i| i == &ids[0] && i.starts_with("sha256:")),
        "{ids:?}"
    );

    // A layout whose ref.name is only a tag ("latest") stays untagged without a name.
    let inst = Instance::new();
    let out = inst.ok(&["image", "import", path_str(&test_image("busybox"))]);
    assert_eq!(out, format!("Loaded image ID: {}\n", ids[0]));
    let row = inst.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(row, format!("<none>:<none> {}\n", &ids[0][7..19]));
}

#[test]
fn layers_hold_overlayfs_whiteouts() {
    let inst = Instance::with_busybox();
    let upper = inst.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.GraphDriver.Data.UpperDir}}",
        "busybox",
    ]);
    let top = PathBuf::from(upper.trim());
    let wh = std::fs::symlink_metadata(top.join("etc/deleteme")).expect("whiteout");
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!top.join("etc/.wh.deleteme").exists());
    assert_eq!(
        lgetxattr(&top.join("etc/opaque"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!top.join("etc/opaque/.wh..wh..opq").exists());
    let lower = inst.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.GraphDriver.Data.LowerDir}}",
        "busybox",
    ]);
    let base = PathBuf::from(lower.trim());
    assert!(base.join("bin/busybox").is_file() || base.join("bin/sh").exists());
    assert!(base.starts_with(inst.root()));
}

#[test]
fn wrong_layer_digest_is_refused_and_nothing_stays() {
    let inst = Instance::new();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("busybox");
    copy_dir(&test_image("busybox"), &layout);
    // Corrupt the biggest blob (a layer), keeping its size.
    let blobs = layout.join("blobs/sha256");
    let biggest = entries(&blobs)
        .into_iter()
        .max_by_key(|n| std::fs::metadata(blobs.join(n)).unwrap().len())
        .unwrap();
    let path = blobs.join(&biggest);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    let out = inst.run(&["image", "import", path_str(&layout), "busybox"]);
    assert_eq!(out.status.code(), Some(125), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(err.contains(&format!("expected sha256:{biggest}")), "{err}");
    assert!(err.contains("layer"), "{err}");
    assert_eq!(stdout(&out), "");
    assert_store_empty(&inst);
}

#[test]
fn wrong_diff_id_in_docker_archive_is_refused_and_nothing_stays() {
    let inst = Instance::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    std::fs::create_dir(&dir).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(test_image("busybox-docker.tar"))
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest[0]["Layers"][0].as_str().unwrap().to_string();
    let path = dir.join(&layer);
    let target = std::fs::canonicalize(&path).unwrap();
    let mut bytes = std::fs::read(&target).unwrap();
    // Flip a byte of the first member's content (after its 512-byte header).
    bytes[600] ^= 0x55;
    std::fs::write(&target, &bytes).unwrap();
    let archive = tmp.path().join("bad.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());

    let out = inst.run(&["image", "import", path_str(&archive)]);
    assert_eq!(out.status.code(), Some(125), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("diff id") && err.contains("digest mismatch"),
        "{err}"
    );
    assert!(err.contains(&layer), "{err}");
    assert_store_empty(&inst);
}

#[test]
fn rmi_removes_image_and_unused_layers() {
    let inst = Instance::with_busybox();
    let id = inspect(&inst, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let short = &id[7..19];
    inst.ok(&[
        "image",
        "import",
        path_str(&test_image("busybox-oci.tar")),
        "busybox:v2",
    ]);
    assert_eq!(
        entries(&inst.root().join("image/layers")).len(),
        2,
        "layers are shared"
    );

    // Untagging one of two tags keeps the image.
    assert_eq!(inst.ok(&["rmi", "busybox:v2"]), "Untagged: busybox:v2\n");
    assert_eq!(inst.ok(&["images", "-q"]), format!("{short}\n"));

    // A container using the image blocks removal.
    let cdir = inst.root().join("containers/0123456789abcdef");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::write(
        cdir.join("config.json"),
        format!(r#"{{"id": "0123456789abcdef0123", "image_id": "{id}"}}"#),
    )
    .unwrap();
    let out = inst.run(&["rmi", "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("Error: conflict: unable to remove repository reference \"busybox\" (must force) - container 0123456789ab is using its referenced image {short}\n")
    );
    let out = inst.run(&["rmi", "-f", short]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("image is being used by stopped container 0123456789ab"));
    std::fs::remove_dir_all(&cdir).unwrap();

    // The last tag: untagged, deleted, and its layers with it.
    let out = inst.ok(&["rmi", "busybox"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Untagged: busybox:latest");
    assert!(lines.contains(&format!("Deleted: {id}").as_str()), "{out}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("Deleted: sha256:"))
            .count(),
        3,
        "{out}"
    );
    assert_store_empty(&inst);
    assert_eq!(
        entries(&inst.root().join("image/blobs/sha256")),
        Vec::<String>::new()
    );

    // Gone: Docker's wording, exit 1.
    let out = inst.run(&["rmi", "busybox", "nope:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error: No such image: busybox:latest\nError: No such image: nope:1\n"
    );
}

#[test]
fn image_inspect_has_dockers_shape() {
    let inst = Instance::with_busybox();
    let v = inspect(&inst, "busybox");
    let id = v["Id"].as_str().unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71);
    assert_eq!(v["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert!(v["RepoDigests"].is_array());
    assert!(v["Created"].as_str().unwrap().contains('T'));
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert!(v["Size"].as_u64().unwrap() > 100_000);
    let config = &v["Config"];
    for key in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "Volumes",
        "Labels",
    ] {
        assert!(config.get(key).is_some(), "Config.{key} missing: {config}");
    }
    assert!(config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str().unwrap().starts_with("PATH=")));
    assert_eq!(v["RootFS"]["Type"], "layers");
    let layers = v["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(v["GraphDriver"]["Name"], "overlay2");
    let upper = v["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(Path::new(upper).is_dir());
    assert!(upper.contains(layers[1].as_str().unwrap().trim_start_matches("sha256:")));

    // The same image by id, short id and full name; templates.
    for r in [
        id,
        &id[7..19],
        &id[7..10],
        "docker.io/library/busybox:latest",
    ] {
        assert_eq!(
            inst.ok(&["image", "inspect", "-f", "{{.Id}}", r]),
            format!("{id}\n")
        );
    }
    assert_eq!(
        inst.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .RepoTags}} {{.RootFS.Type}} {{len .RootFS.Layers}}",
            "busybox"
        ]),
        "[\"busybox:latest\"] layers 2\n"
    );

    // Missing: an empty array and Docker's error, exit 1.
    let out = inst.run(&["image", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "[]\n");
    assert_eq!(stderr(&out), "Error: No such image: nope\n");
}

#[test]
fn images_output_formats() {
    let inst = Instance::with_busybox();
    let id = inspect(&inst, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let table = inst.ok(&["images"]);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"));
    assert_eq!(
        inst.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    assert_eq!(inst.ok(&["image", "ls", "-q"]), format!("{}\n", &id[7..19]));
    assert_eq!(inst.ok(&["images", "--no-trunc", "-q"]), format!("{id}\n"));
    let json: Value =
        serde_json::from_str(inst.ok(&["images", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Repository"], "busybox");
    assert_eq!(json["Tag"], "latest");
    assert_eq!(json["ID"], &id[7..19]);
    assert!(json["CreatedSince"].as_str().unwrap().ends_with(" ago"));
    assert!(json["Size"].as_str().unwrap().ends_with("MB"));
    // Filters and the reference argument.
    assert_eq!(
        inst.ok(&["images", "-q", "busybox"]),
        format!("{}\n", &id[7..19])
    );
    assert_eq!(inst.ok(&["images", "-q", "other"]), "");
    assert_eq!(inst.ok(&["images", "-q", "--filter", "dangling=true"]), "");
    assert_eq!(
        inst.ok(&["images", "-q", "--filter", "reference=busy*"]),
        format!("{}\n", &id[7..19])
    );
}

#[test]
fn concurrent_imports_do_not_corrupt_the_store() {
    let inst = Instance::new();
    let sources = [
        test_image("busybox"),
        test_image("busybox-oci.tar"),
        test_image("busybox-docker.tar"),
        test_image("busybox"),
    ];
    let children: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, src)| {
            inst.command(&["image", "import", path_str(src), &format!("c{i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mut tags: Vec<String> = inst
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    assert_eq!(tags, ["c0:latest", "c1:latest", "c2:latest", "c3:latest"]);
    let layers = entries(&inst.root().join("image/layers"));
    assert_eq!(
        layers.len(),
        2,
        "each layer unpacked once, no temp dir left: {layers:?}"
    );

    // Concurrent removals of all four tags leave an empty store.
    let children: Vec<_> = (0..4)
        .map(|i| {
            inst.command(&["rmi", &format!("c{i}")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    assert_store_empty(&inst);
}

/// The members of a tar file: path -> content (directories as empty content).
fn tar_members(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.insert(name, data);
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn save_writes_dockers_archive_and_load_restores_the_same_image() {
    let inst = Instance::with_busybox();
    let id = inst.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    let diff_ids: Vec<String> = inspect(&inst, "busybox")["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bb.tar");
    assert_eq!(inst.ok(&["save", "-o", path_str(&file), "busybox"]), "");

    // What `docker save` writes: manifest.json, the config, a tar per diff id, repositories,
    // and Docker 25+'s OCI index.json / oci-layout beside them.
    let members = tar_members(&file);
    for (name, data) in &members {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(sha256_hex(data), hex, "{name} is named by its digest");
        }
    }
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let item = &manifest.as_array().unwrap()[0];
    assert_eq!(
        item["Config"],
        format!("blobs/sha256/{}", id.trim_start_matches("sha256:"))
    );
    assert_eq!(item["RepoTags"], serde_json::json!(["busybox:latest"]));
    let layers: Vec<String> = item["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(&members[l.as_str().unwrap()])))
        .collect();
    assert_eq!(layers, diff_ids, "layer tars hash to the config's diff ids");
    let repositories: Value = serde_json::from_slice(&members["repositories"]).unwrap();
    assert_eq!(
        repositories["busybox"]["latest"],
        diff_ids.last().unwrap().trim_start_matches("sha256:")
    );
    assert_eq!(
        members["oci-layout"],
        br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()
    );
    let index: Value = serde_json::from_slice(&members["index.json"]).unwrap();
    let desc = &index["manifests"][0];
    assert_eq!(
        desc["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    let oci_manifest: Value = serde_json::from_slice(
        &members[&format!(
            "blobs/sha256/{}",
            desc["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )],
    )
    .unwrap();
    assert_eq!(oci_manifest["config"]["digest"], id.as_str());
    let oci_layers: Vec<&str> = oci_manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(oci_layers, diff_ids);

    // skopeo reads it both as a docker archive and as an OCI archive, with the same layers.
    for transport in ["docker-archive", "oci-archive"] {
        let out = Command::new("skopeo")
            .args(["inspect", &format!("{transport}:{}", path_str(&file))])
            .output()
            .expect("skopeo is installed");
        assert!(out.status.success(), "{transport}: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<&str> = v["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(got, diff_ids, "{transport}");
    }

    // To stdout (not a terminal): the same bytes.
    let piped = inst.command(&["save", "busybox"]).output().unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(piped.stdout, std::fs::read(&file).unwrap());

    // rmi, then load from the file: the same image id, and it runs.
    inst.ok(&["rmi", "busybox"]);
    assert_store_empty(&inst);
    assert_eq!(
        inst.ok(&["load", "-i", path_str(&file)]),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(inst.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        inst.ok(&["run", "--rm", "--net", "none", "busybox", "echo", "alive"]),
        "alive\n"
    );

    // And from stdin, after another rmi.
    inst.ok(&["rmi", "busybox"]);
    let out = inst
        .command(&["load", "-q"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Loaded image: busybox:latest\n");
    assert_eq!(inst.ok(&["images", "-q", "--no-trunc"]).trim(), id);
}

#[test]
fn save_by_id_is_untagged_and_loads_as_an_id() {
    let inst = Instance::with_busybox();
    let id = inst.ok(&["images", "-q", "--no-trunc"]).trim().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("byid.tar");
    inst.ok(&["image", "save", "-o", path_str(&file), &id[7..19]]);
    let members = tar_members(&file);
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"], Value::Null);
    assert!(!members.contains_key("repositories"));
    inst.ok(&["rmi", "busybox"]);
    assert_eq!(
        inst.ok(&["load", "-i", path_str(&file)]),
        format!("Loaded image ID: {id}\n")
    );
}

#[test]
fn save_of_an_unknown_image_fails_and_writes_no_file() {
    let inst = Instance::with_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out.tar");
    let out = inst.run(&["save", "-o", path_str(&file), "busybox", "nosuch:v1"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "Error response from daemon: No such image: nosuch:v1\n"
    );
    assert_eq!(
        entries(tmp.path()),
        Vec::<String>::new(),
        "no file, no temp file"
    );
    let missing = tmp.path().join("missing/out.tar");
    let out = inst.run(&["save", "-o", path_str(&missing), "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "failed to save image: invalid output path: directory \"{}\" does not exist\n",
            tmp.path().join("missing").display()
        )
    );

    // A terminal is refused (script(1) gives ebrun a pty as stdout).
    let cmd = format!(
        "{} --root {} save busybox",
        common::ebrun_bin().display(),
        inst.root().display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script is installed");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn load_of_a_broken_archive_fails_and_leaves_nothing() {
    let inst = Instance::with_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.tar");
    inst.ok(&["save", "-o", path_str(&good), "busybox"]);
    let bytes = std::fs::read(&good).unwrap();
    let target = Instance::new();

    // Cut inside the big layer; flip a byte inside it; plain garbage.
    let truncated = tmp.path().join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = tmp.path().join("corrupt.tar");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x55;
    std::fs::write(&corrupt, &flipped).unwrap();
    let garbage = tmp.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not an image archive").unwrap();

    for (file, expect) in [
        (&truncated, "not an image"),
        (&corrupt, "digest mismatch"),
        (&garbage, "not an image"),
    ] {
        let out = target.run(&["load", "-i", path_str(file)]);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let err = stderr(&out);
        assert!(err.starts_with("Error response from daemon: "), "{err}");
        assert!(err.contains(expect), "{}: {err}", file.display());
        assert_eq!(stdout(&out), "");
        assert_store_empty(&target);
    }
    // The same through stdin: the spooled copy goes too.
    let out = target
        .command(&["load"])
        .stdin(std::fs::File::open(&corrupt).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_store_empty(&target);
}

#[test]
fn save_of_several_names_writes_each_image_once_with_all_its_tags() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "image",
        "import",
        path_str(&test_image("busybox")),
        "localhost:5000/team/bb:v1",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("two.tar");
    inst.ok(&[
        "save",
        "-o",
        path_str(&file),
        "busybox",
        "localhost:5000/team/bb:v1",
    ]);
    let members = tar_members(&file);
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), 1, "one image");
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest", "localhost:5000/team/bb:v1"])
    );
    let layer_files = members
        .keys()
        .filter(|k| k.starts_with("blobs/sha256/") && k.len() > 13)
        .count();
    assert_eq!(
        layer_files,
        2 + 1 + 1,
        "two layers, the config, one manifest"
    );
    let index: Value = serde_json::from_slice(&members["index.json"]).unwrap();
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["io.containerd.image.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "docker.io/library/busybox:latest",
            "localhost:5000/team/bb:v1"
        ]
    );

    let other = Instance::new();
    assert_eq!(
        other.ok(&["load", "-i", path_str(&file)]),
        "Loaded image: busybox:latest\nLoaded image: localhost:5000/team/bb:v1\n"
    );
}

#[test]
fn save_refuses_a_damaged_or_missing_layer_blob_and_an_import_brings_it_back() {
    let inst = Instance::with_busybox();
    let layers = inst.root().join("image/layers");
    let biggest = entries(&layers)
        .into_iter()
        .max_by_key(|l| {
            std::fs::metadata(layers.join(l).join("blob"))
                .unwrap()
                .len()
        })
        .unwrap();
    let blob = layers.join(&biggest).join("blob");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out.tar");

    // A blob changed on disk: caught while the layer is written, and the file goes.
    let good = std::fs::read(&blob).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(&blob, &bad).unwrap();
    let out = inst.run(&["save", "-o", path_str(&file), "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // The test image's layers are gzip: its checksum or the diff id catches the damage.
    assert!(
        err.contains("corrupt") || err.contains("digest mismatch"),
        "{err}"
    );
    assert!(err.contains(&format!("layer sha256:{biggest}")), "{err}");
    assert_eq!(entries(tmp.path()), Vec::<String>::new());

    // No blob (a layer stored by an ebrun that did not keep them): a clear refusal.
    std::fs::remove_file(&blob).unwrap();
    let out = inst.run(&["save", "-o", path_str(&file), "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("its original blob was not kept"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(tmp.path()), Vec::<String>::new());

    // As an older ebrun left it (no blob, no tar size): importing the image again brings
    // the blob back, verified, without touching the unpacked layer; then save works.
    let meta_path = layers.join(&biggest).join("layer.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("tar_size");
    meta.as_object_mut().unwrap().remove("blob_size");
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let diff_inode = std::fs::metadata(layers.join(&biggest).join("diff"))
        .unwrap()
        .ino();
    inst.ok(&[
        "image",
        "import",
        path_str(&test_image("busybox")),
        "busybox",
    ]);
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        good,
        "the blob as the source has it"
    );
    assert_eq!(
        std::fs::metadata(layers.join(&biggest).join("diff"))
            .unwrap()
            .ino(),
        diff_inode
    );
    inst.ok(&["save", "-o", path_str(&file), "busybox"]);
    let other = Instance::new();
    assert_eq!(
        other.ok(&["load", "-i", path_str(&file)]),
        "Loaded image: busybox:latest\n"
    );
}

/// Image events as dockerd logs them: `load` per image loaded, `tag`, `save`, `untag` and
/// `delete`, each with the image id and its `name` attribute; `--filter image=` finds them.
#[test]
fn image_events_are_dockers() {
    let inst = Instance::with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bb.tar");
    inst.ok(&["tag", "busybox", "bb:1"]);
    inst.ok(&["save", "-o", path_str(&file), "bb:1"]);
    inst.ok(&["rmi", "bb:1"]);
    inst.ok(&["rmi", "busybox"]);
    inst.ok(&["load", "-i", path_str(&file)]);
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let events = |filter: &str| -> Vec<(String, String, String)> {
        inst.ok(&[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            filter,
            "--format",
            "{{json .}}",
        ])
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            (
                e["Action"].as_str().unwrap().to_string(),
                e["Actor"]["ID"].as_str().unwrap().to_string(),
                e["Actor"]["Attributes"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
    };
    let all = events("type=image");
    let actions: Vec<&str> = all.iter().map(|(a, _, _)| a.as_str()).collect();
    // One `untag` per reference removed: bb:1, busybox:latest and busybox@<digest>.
    assert_eq!(
        actions,
        ["load", "tag", "save", "untag", "untag", "untag", "delete", "load"],
        "{all:?}"
    );
    let id = &all[0].1;
    assert!(id.starts_with("sha256:"), "{all:?}");
    assert_eq!(all[1], ("tag".into(), id.clone(), "bb:1".into()));
    assert_eq!(all[6], ("delete".into(), id.clone(), id.clone()));
    let tagged = events("image=bb:1");
    assert_eq!(tagged.len(), 1, "{tagged:?}");
}
