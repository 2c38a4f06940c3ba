//! `ebrun pull`, `login`, `logout` and `run` of a missing image against a real registry:
//! Debian's `docker-registry`, started by each test on 127.0.0.1 with its own config and
//! storage in a temporary directory, loaded with the test images by `skopeo`, and killed by
//! pid on drop. Plain HTTP: the instance's daemon.json lists it as insecure.

use ebrun_tests::common;
use ebrun_tests::common::{stderr, stdout};

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Instance;
use ebrun_tests::registry::Registry;

/// An empty instance whose daemon.json lists `registry` as insecure, with its own DOCKER_CONFIG.
fn instance_for(registry: &Registry) -> Instance {
    let inst = Instance::new();
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"insecure-registries":["{}"]}}"#, registry.host()),
    )
    .unwrap();
    inst
}

fn docker_config(inst: &Instance) -> PathBuf {
    inst.root().join("docker-config")
}

fn run(inst: &Instance, args: &[&str]) -> std::process::Output {
    inst.command(args)
        .env("DOCKER_CONFIG", docker_config(inst))
        .output()
        .expect("spawn ebrun")
}

fn ok(inst: &Instance, args: &[&str]) -> String {
    let out = run(inst, args);
    assert!(
        out.status.success(),
        "ebrun {args:?}: {:?}\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The layer directories of the store, complete or not.
fn layer_entries(inst: &Instance) -> Vec<String> {
    std::fs::read_dir(inst.root().join("image/layers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pull_by_tag_and_by_digest_and_a_second_pull_downloads_nothing() {
    let registry = Registry::start(None);
    registry.push("busybox", "test/busybox", None);
    let inst = instance_for(&registry);
    let image = format!("{}/test/busybox", registry.host());

    let out = ok(&inst, &["pull", &image]);
    assert!(
        out.starts_with("Using default tag: latest\nlatest: Pulling from test/busybox\n"),
        "{out}"
    );
    assert!(out.contains("Status: Downloaded newer image for"), "{out}");
    assert!(out.ends_with(&format!("{image}:latest\n")), "{out}");
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .expect("Digest line")
        .to_string();
    let fetched = registry.blob_gets();
    assert!(
        fetched >= 2,
        "config and layers: {fetched}\n{}",
        registry.log()
    );
    assert_eq!(
        ok(&inst, &["run", "--rm", &image, "echo", "pulled"]),
        "pulled\n"
    );

    let again = ok(&inst, &["pull", &image]);
    assert!(again.contains("Status: Image is up to date for"), "{again}");
    assert!(again.contains("Already exists"), "{again}");
    assert_eq!(
        registry.blob_gets(),
        fetched,
        "a second pull downloaded blobs"
    );

    let by_digest = format!("{image}@{digest}");
    let out = ok(&inst, &["pull", &by_digest]);
    assert!(out.ends_with(&format!("{by_digest}\n")), "{out}");
    assert_eq!(registry.blob_gets(), fetched);
    let repo_digests = ok(
        &inst,
        &["image", "inspect", "-f", "{{json .RepoDigests}}", &image],
    );
    assert!(repo_digests.contains(&by_digest), "{repo_digests}");

    // By digest into an empty store, and the layers the store has are not downloaded.
    let fresh = instance_for(&registry);
    ok(&fresh, &["pull", "-q", &by_digest]);
    assert_eq!(
        ok(&fresh, &["run", "--rm", &by_digest, "echo", "by digest"]),
        "by digest\n"
    );
    let before = registry.blob_gets();
    let other = format!("{}/test/copy", registry.host());
    registry.push("busybox", "test/copy", None);
    let out = ok(&fresh, &["pull", &other]);
    assert!(out.contains("Already exists"), "{out}");
    assert!(
        registry.blob_gets() <= before + 1,
        "only the config may be fetched again"
    );

    // A missing image: `run` pulls it first, saying so as Docker does.
    let third = instance_for(&registry);
    let out = run(&third, &["run", "--rm", &image, "echo", "ran"]);
    assert_eq!(stdout(&out), "ran\n", "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!("Unable to find image '{image}:latest' locally\n")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Status: Downloaded newer image"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &third,
        &["pull", &format!("{}/test/nosuch", registry.host())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not found: manifest unknown"),
        "{}",
        stderr(&out)
    );
}

/// As in Docker, a registry on loopback (127.0.0.0/8) is insecure without any listing in
/// daemon.json: plain HTTP works. (Others need `insecure-registries`: the unit tests of
/// `is_insecure` cover them, since a test only talks to loopback.)
#[test]
fn loopback_registries_need_no_insecure_listing() {
    let registry = Registry::start(None);
    registry.push("busybox", "test/busybox", None);
    let inst = Instance::new();
    assert!(!inst.root().join("daemon.json").exists());
    let image = format!("{}/test/busybox", registry.host());
    let out = run(&inst, &["pull", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(registry.blob_gets() > 0);
    assert_eq!(
        inst.ok(&["run", "--rm", &image, "echo", "pulled"]).trim(),
        "pulled"
    );
}

#[test]
fn a_corrupted_blob_is_rejected() {
    let registry = Registry::start(None);
    registry.push("busybox", "test/busybox", None);
    // Flip bytes in the middle of the big layer, keeping its size.
    let layout = common::image_layout("busybox").join("blobs/sha256");
    let layer = std::fs::read_dir(&layout)
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&file, bytes).unwrap();

    let inst = instance_for(&registry);
    let layers_before = layer_entries(&inst);
    let image = format!("{}/test/busybox", registry.host());
    let out = run(&inst, &["pull", &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!(
            "filesystem layer verification failed for digest sha256:{layer}"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        run(&inst, &["image", "inspect", &image]).status.code(),
        Some(1)
    );
    assert_eq!(
        layer_entries(&inst),
        layers_before,
        "a layer of the bad image is in the store"
    );
    let leftovers: Vec<_> = std::fs::read_dir(inst.root().join("image/downloads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| {
            n.to_string_lossy().contains(&layer) || n.to_string_lossy().ends_with(".partial")
        })
        .collect();
    assert!(leftovers.is_empty(), "the bad blob was kept: {leftovers:?}");
}

#[test]
fn login_with_a_wrong_password_fails_clearly() {
    let registry = Registry::start(Some(("tester", "s3cret")));
    registry.push("busybox", "private/busybox", Some("tester:s3cret"));
    let inst = instance_for(&registry);
    let host = registry.host();
    let image = format!("{host}/private/busybox");

    let out = run(&inst, &["pull", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unauthorized: authentication required"),
        "{}",
        stderr(&out)
    );

    let out = run(&inst, &["login", "-u", "tester", "-p", "wrong", &host]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "login attempt to http://{host}/v2/ failed with status: 401 Unauthorized"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!docker_config(&inst).join("config.json").exists());

    let mut child = inst
        .command(&["login", "-u", "tester", "--password-stdin", &host])
        .env("DOCKER_CONFIG", docker_config(&inst))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "Login Succeeded\n", "{}", stderr(&out));
    let config = docker_config(&inst).join("config.json");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(doc["auths"][&host]["auth"], "dGVzdGVyOnMzY3JldA==");

    ok(&inst, &["pull", &image]);
    assert_eq!(
        ok(&inst, &["run", "--rm", &image, "echo", "private"]),
        "private\n"
    );

    assert_eq!(
        ok(&inst, &["logout", &host]),
        format!("Removing login credentials for {host}\n")
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert!(doc["auths"].get(&host).is_none());
}

/// Waits until `path` has a `*.partial` file with some bytes or an unpacking layer.
fn pull_in_progress(store: &Path, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        let partial = std::fs::read_dir(store.join("downloads"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name().to_string_lossy().ends_with(".partial")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            });
        if partial {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    false
}

#[test]
fn a_killed_pull_leaves_the_store_consistent_and_the_next_one_completes() {
    let registry = Registry::start(None);
    registry.push("debian-tools", "test/tools", None);
    let inst = instance_for(&registry);
    let image = format!("{}/test/tools", registry.host());
    let layers_before = layer_entries(&inst);

    let mut child = inst
        .command(&["pull", &image])
        .env("DOCKER_CONFIG", docker_config(&inst))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let caught = pull_in_progress(
        &inst.root().join("image"),
        Instant::now() + Duration::from_secs(30),
    );
    // SAFETY: kill(2) on the pid of the child this test spawned and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert!(caught, "the pull never started downloading");
    assert!(!status.success(), "the pull finished before it was killed");

    // Nothing half-visible: no image, no name, no new layer.
    assert_eq!(
        run(&inst, &["image", "inspect", &image]).status.code(),
        Some(1)
    );
    assert!(!ok(&inst, &["images"]).contains("test/tools"));
    let complete: Vec<String> = layer_entries(&inst)
        .into_iter()
        .filter(|l| !l.starts_with('.') && !layers_before.contains(l))
        .collect();
    assert!(complete.is_empty(), "a layer appeared: {complete:?}");

    let out = ok(&inst, &["pull", &image]);
    assert!(
        out.contains("Resuming at"),
        "the download did not resume: {out}"
    );
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    assert_eq!(
        ok(
            &inst,
            &["run", "--rm", &image, "sh", "-c", "command -v stress-ng"]
        )
        .trim(),
        "/usr/bin/stress-ng"
    );
    let leftovers: Vec<String> = std::fs::read_dir(inst.root().join("image/downloads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Writes `bytes` as a blob of `layout`; returns its OCI descriptor.
fn add_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let hex = sha256_hex(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

/// An OCI layout tagged `latest` whose image is a two-platform index: the busybox test image
/// (linux/amd64) and a copy of it whose config says linux/arm64/v8. Returns the layout and
/// both config digests (amd64, arm64).
fn multi_arch_layout(dir: &Path) -> (PathBuf, String, String) {
    let src = common::image_layout("busybox");
    let layout = dir.join("multi");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), layout.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join("oci-layout"), layout.join("oci-layout")).unwrap();
    let read_json = |digest: &str| -> serde_json::Value {
        let hex = digest.trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("index.json")).unwrap()).unwrap();
    let amd64_desc = index["manifests"][0].clone();
    let manifest = read_json(amd64_desc["digest"].as_str().unwrap());
    let amd64_config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let mut config = read_json(&amd64_config);
    config["architecture"] = "arm64".into();
    config["variant"] = "v8".into();
    let config_desc = add_blob(
        &layout,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let arm64_config = config_desc["digest"].as_str().unwrap().to_string();
    let mut arm_manifest = manifest.clone();
    arm_manifest["config"] = config_desc;
    let mut arm_desc = add_blob(
        &layout,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&arm_manifest).unwrap(),
    );
    arm_desc["platform"] =
        serde_json::json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
    let mut amd_desc = amd64_desc.clone();
    amd_desc.as_object_mut().unwrap().remove("annotations");
    amd_desc["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
    let inner = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [amd_desc, arm_desc],
    });
    let mut inner_desc = add_blob(
        &layout,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&inner).unwrap(),
    );
    inner_desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
    let top = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [inner_desc],
    });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    (layout, amd64_config, arm64_config)
}

/// Pushes [`multi_arch_layout`] as `test/multi:latest` with `skopeo copy --all`; returns the
/// image name and the two config digests (amd64, arm64).
fn push_multi_arch(registry: &Registry) -> (String, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, amd64_id, arm64_id) = multi_arch_layout(tmp.path());
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("docker://{}/test/multi:latest", registry.host()))
        .output()
        .expect("skopeo");
    assert!(out.status.success(), "skopeo copy --all: {}", stderr(&out));
    (
        format!("{}/test/multi", registry.host()),
        amd64_id,
        arm64_id,
    )
}

#[test]
fn pull_platform_chooses_from_a_multi_arch_index() {
    let registry = Registry::start(None);
    let (image, amd64_id, arm64_id) = push_multi_arch(&registry);
    let arch_of = |inst: &Instance| {
        ok(
            inst,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Id}} {{.Os}}/{{.Architecture}}",
                &image,
            ],
        )
    };

    // The host's platform by default, and the one --platform names.
    let inst = instance_for(&registry);
    ok(&inst, &["pull", "-q", &image]);
    assert_eq!(arch_of(&inst), format!("{amd64_id} linux/amd64\n"));
    for platform in ["linux/arm64", "linux/aarch64/v8", "Linux/ARM64"] {
        let other = instance_for(&registry);
        let out = ok(&other, &["pull", "--platform", platform, &image]);
        assert!(out.contains("Status: Downloaded newer image"), "{out}");
        assert_eq!(
            arch_of(&other),
            format!("{arm64_id} linux/arm64\n"),
            "{platform}"
        );
    }

    // A platform the index lacks: Docker's error, nothing stored.
    let none = instance_for(&registry);
    let out = run(&none, &["pull", "--platform", "linux/s390x", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Error response from daemon: no matching manifest for linux/s390x in the manifest list entries\n"
    );
    assert_eq!(ok(&none, &["images", "-q"]), "");
    let out = run(&none, &["pull", "--platform", "linux/xyz", &image]);
    assert!(
        stderr(&out).contains("no matching manifest for linux/xyz in the manifest list entries"),
        "{}",
        stderr(&out)
    );
    // Not os/arch at all: a usage error naming the flag.
    let out = run(&none, &["pull", "--platform", "linux", &image]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--platform"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("os/arch[/variant]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(layer_entries(&none), Vec::<String>::new());
}

#[test]
fn a_pulled_image_saves_with_its_layers_decompressed_to_the_diff_ids() {
    let registry = Registry::start(None);
    registry.push("busybox", "test/busybox", None);
    let inst = instance_for(&registry);
    let image = format!("{}/test/busybox", registry.host());
    ok(&inst, &["pull", "-q", &image]);
    // The registry holds compressed layers: the store keeps those blobs as they came.
    let compressions: Vec<String> = layer_entries(&inst)
        .iter()
        .map(|l| {
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(inst.root().join("image/layers").join(l).join("layer.json"))
                    .unwrap(),
            )
            .unwrap();
            meta["compression"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(compressions.iter().all(|c| c == "gzip"), "{compressions:?}");

    // A layer as an older ebrun stored it (no blob): the next pull downloads that blob
    // again instead of calling the image up to date.
    let old_layer = inst
        .root()
        .join("image/layers")
        .join(&layer_entries(&inst)[0]);
    std::fs::remove_file(old_layer.join("blob")).unwrap();
    let before = registry.blob_gets();
    let out = ok(&inst, &["pull", &image]);
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(
        registry.blob_gets(),
        before + 2,
        "the config and the missing layer blob only"
    );
    assert!(old_layer.join("blob").is_file());
    assert_eq!(
        ok(&inst, &["pull", &image])
            .matches("Already exists")
            .count(),
        2
    );
    let diff_ids = ok(
        &inst,
        &["image", "inspect", "-f", "{{json .RootFS.Layers}}", &image],
    );
    let diff_ids: Vec<String> = serde_json::from_str(&diff_ids).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pulled.tar");
    ok(&inst, &["save", "-o", file.to_str().unwrap(), &image]);
    let out = Command::new("skopeo")
        .args(["inspect", &format!("docker-archive:{}", file.display())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers: Vec<String> = serde_json::from_value(v["Layers"].clone()).unwrap();
    assert_eq!(layers, diff_ids);
    let id = ok(&inst, &["image", "inspect", "-f", "{{.Id}}", &image]);

    // Loaded into another instance, it is the same image and runs.
    let other = Instance::new();
    assert_eq!(
        ok(&other, &["load", "-i", file.to_str().unwrap()]),
        format!("Loaded image: {image}:latest\n")
    );
    assert_eq!(
        ok(&other, &["image", "inspect", "-f", "{{.Id}}", &image]),
        id
    );
    assert_eq!(
        ok(
            &other,
            &["run", "--rm", "--net", "none", &image, "echo", "loaded"]
        ),
        "loaded\n"
    );
}

#[test]
fn run_platform_pulls_the_platform_asked_for() {
    let registry = Registry::start(None);
    let (image, amd64_id, arm64_id) = push_multi_arch(&registry);
    let id_of = |inst: &Instance| ok(inst, &["image", "inspect", "-f", "{{.Id}}", &image]);

    // The tag holds the arm64 image; run --platform linux/amd64 treats it as missing and
    // pulls the amd64 one, as Docker does, then runs it.
    let inst = instance_for(&registry);
    ok(&inst, &["pull", "-q", "--platform", "linux/arm64", &image]);
    assert_eq!(id_of(&inst), format!("{arm64_id}\n"));
    let out = run(
        &inst,
        &[
            "run",
            "--rm",
            "--net",
            "none",
            "--platform",
            "linux/amd64",
            &image,
            "echo",
            "ran",
        ],
    );
    assert_eq!(stdout(&out), "ran\n", "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!("Unable to find image '{image}:latest' locally\n")),
        "{}",
        stderr(&out)
    );
    assert_eq!(id_of(&inst), format!("{amd64_id}\n"));
    // A local image of the right platform is used as it is.
    let out = run(
        &inst,
        &[
            "run",
            "--rm",
            "--net",
            "none",
            "--platform",
            "linux/x86_64",
            &image,
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");

    // A platform the index lacks: the pull's error, no container, no image.
    let fresh = instance_for(&registry);
    let out = run(
        &fresh,
        &["run", "--rm", "--platform", "linux/s390x", &image, "true"],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&fresh, &["ps", "-aq"]), "");
    assert_eq!(ok(&fresh, &["images", "-q"]), "");
    let out = run(
        &fresh,
        &["run", "--rm", "--platform", "amd64", &image, "true"],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--platform"), "{}", stderr(&out));
}
