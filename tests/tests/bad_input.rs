//! A catalogue of bad inputs across ebrun's commands: each gets a clear message naming what
//! was wrong, Docker's exit code, and leaves the host exactly as it was.

use ebrun_tests::common;

use common::snapshot::HostSnapshot;
use common::Instance;

/// (arguments, expected exit code, text the error must contain)
type Case = (Vec<String>, i32, &'static str);

fn case(args: &[&str], code: i32, needle: &'static str) -> Case {
    (args.iter().map(|s| s.to_string()).collect(), code, needle)
}

fn catalogue(fixtures: &std::path::Path) -> Vec<Case> {
    let broken = fixtures.join("broken.tar").display().to_string();
    let empty = fixtures.join("empty").display().to_string();
    let traversal = fixtures.join("traversal").display().to_string();
    fn r<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["run", "--rm"];
        v.extend_from_slice(extra);
        v
    }
    vec![
        // run: images and commands
        case(
            &r(&["nosuchimage:1.0", "true"]),
            125,
            "Unable to find image 'nosuchimage:1.0' locally",
        ),
        case(&r(&["Bad/Image!", "true"]), 125, "invalid reference format"),
        case(
            &r(&["busybox", "nosuchcmd"]),
            127,
            "executable file not found in $PATH",
        ),
        case(&r(&["busybox", "/notexec.sh"]), 126, "permission denied"),
        case(&r(&["busybox", "/etc"]), 126, "is a directory"),
        case(
            &r(&["--entrypoint", "", "busybox"]),
            125,
            "No command specified",
        ),
        case(
            &r(&["--name=-x", "busybox", "true"]),
            125,
            "Invalid container name (-x)",
        ),
        case(
            &r(&["--name", "a b", "busybox", "true"]),
            125,
            "Invalid container name (a b)",
        ),
        case(
            &r(&["-u", "nosuchuser", "busybox", "true"]),
            125,
            "unable to find user nosuchuser",
        ),
        case(
            &r(&["-u", "app:nosuchgroup", "busybox", "true"]),
            125,
            "unable to find group nosuchgroup",
        ),
        case(
            &r(&["-w", "relative/dir", "busybox", "true"]),
            125,
            "--workdir",
        ),
        case(
            &r(&["--env-file", "/nonexistent/env", "busybox", "true"]),
            125,
            "--env-file",
        ),
        case(
            &r(&["--restart", "always", "busybox", "true"]),
            125,
            "--restart and --rm",
        ),
        case(
            &["run", "--restart", "sometimes", "busybox", "true"],
            125,
            "--restart",
        ),
        case(
            &["run", "--restart", "on-failure:x", "busybox", "true"],
            125,
            "--restart",
        ),
        case(
            &["run", "--restart", "always:3", "busybox", "true"],
            125,
            "--restart",
        ),
        case(&r(&["--no-such-flag", "busybox"]), 125, "--no-such-flag"),
        case(&["run"], 125, "IMAGE"),
        // run: security
        case(
            &r(&["--cap-add", "BOGUS", "busybox", "true"]),
            125,
            "--cap-add",
        ),
        case(
            &r(&["--cap-drop", "NOPE", "busybox", "true"]),
            125,
            "--cap-drop",
        ),
        case(
            &r(&["--security-opt", "bogus", "busybox", "true"]),
            125,
            "--security-opt",
        ),
        case(
            &r(&[
                "--security-opt",
                "seccomp=/nonexistent.json",
                "busybox",
                "true",
            ]),
            125,
            "--security-opt",
        ),
        // run: resources
        case(
            &r(&["-m", "1k", "busybox", "true"]),
            125,
            "Minimum memory limit allowed is 6MB",
        ),
        case(&r(&["-m", "lots", "busybox", "true"]), 125, "lots"),
        case(
            &r(&["-m", "64m", "--memory-swap", "32m", "busybox", "true"]),
            125,
            "memoryswap",
        ),
        case(
            &r(&["--memory-swappiness", "101", "busybox", "true"]),
            125,
            "swappiness",
        ),
        case(
            &r(&[
                "-m",
                "64m",
                "--memory-reservation",
                "128m",
                "busybox",
                "true",
            ]),
            125,
            "reservation",
        ),
        case(&r(&["--cpus", "0.001", "busybox", "true"]), 125, "--cpus"),
        case(
            &r(&["--cpus", "999", "busybox", "true"]),
            125,
            "Range of CPUs",
        ),
        case(
            &r(&["--cpus", "1", "--cpu-quota", "50000", "busybox", "true"]),
            125,
            "Conflicting options",
        ),
        case(
            &r(&["--cpu-period", "100", "busybox", "true"]),
            125,
            "CPU cfs period",
        ),
        case(
            &r(&["--cpu-quota", "500", "busybox", "true"]),
            125,
            "CPU cfs quota",
        ),
        case(
            &r(&["--cpuset-cpus", "0-99", "busybox", "true"]),
            125,
            "cpuset",
        ),
        case(
            &r(&["--cpuset-cpus", "x", "busybox", "true"]),
            125,
            "cpuset",
        ),
        case(
            &r(&["--cpu-shares", "-5", "busybox", "true"]),
            125,
            "cpu-shares",
        ),
        case(
            &r(&["--pids-limit", "abc", "busybox", "true"]),
            125,
            "pids-limit",
        ),
        case(
            &r(&["--blkio-weight", "5", "busybox", "true"]),
            125,
            "blkio",
        ),
        case(
            &r(&["--oom-score-adj", "5000", "busybox", "true"]),
            125,
            "oom-score-adj",
        ),
        case(
            &r(&["--device-read-bps", "/dev/nosuch:1mb", "busybox", "true"]),
            125,
            "/dev/nosuch",
        ),
        // run: network
        case(&r(&["-p", "99999:80", "busybox", "true"]), 125, "99999"),
        case(&r(&["-p", "80/sctpx", "busybox", "true"]), 125, "sctpx"),
        case(
            &r(&["-p", "1.2.3.4.5::80", "busybox", "true"]),
            125,
            "1.2.3.4.5",
        ),
        case(
            &r(&["-p", "8000-8002:80-81", "busybox", "true"]),
            125,
            "8000-8002",
        ),
        case(
            &r(&["--net", "nosuchnet", "busybox", "true"]),
            125,
            "nosuchnet",
        ),
        case(
            &r(&["--net", "container:ghost", "busybox", "true"]),
            125,
            "ghost",
        ),
        case(
            &r(&["--dns", "not-an-ip", "busybox", "true"]),
            125,
            "not-an-ip",
        ),
        case(
            &r(&["--add-host", "nocolon", "busybox", "true"]),
            125,
            "nocolon",
        ),
        case(
            &r(&["--mac-address", "zz:zz", "busybox", "true"]),
            125,
            "zz:zz",
        ),
        case(
            &r(&["--ip", "10.0.0.5", "busybox", "true"]),
            125,
            "user specified IP address",
        ),
        // run: volumes
        case(
            &r(&["-v", "relative:dir", "busybox", "true"]),
            125,
            "relative:dir",
        ),
        case(
            &r(&["-v", "/tmp:relative", "busybox", "true"]),
            125,
            "relative",
        ),
        case(
            &r(&[
                "--mount",
                "type=bind,source=/nonexistent-src,target=/x",
                "busybox",
                "true",
            ]),
            125,
            "/nonexistent-src",
        ),
        case(
            &r(&[
                "--mount",
                "type=bind,source=rel,target=/x",
                "busybox",
                "true",
            ]),
            125,
            "rel",
        ),
        case(
            &r(&["--mount", "type=weird,target=/x", "busybox", "true"]),
            125,
            "weird",
        ),
        case(
            &r(&[
                "--mount",
                "type=volume,target=/x,bogus=1",
                "busybox",
                "true",
            ]),
            125,
            "bogus",
        ),
        case(
            &r(&["-v", "/tmp:/x:badopt", "busybox", "true"]),
            125,
            "badopt",
        ),
        case(
            &r(&["--tmpfs", "relative", "busybox", "true"]),
            125,
            "relative",
        ),
        case(
            &r(&["--volumes-from", "ghost", "busybox", "true"]),
            125,
            "ghost",
        ),
        // other commands
        case(&["rm", "ghost"], 1, "No such container: ghost"),
        case(&["stop", "ghost"], 1, "No such container: ghost"),
        case(&["start", "ghost"], 1, "No such container: ghost"),
        case(&["kill", "ghost"], 1, "No such container: ghost"),
        case(&["kill", "-s", "NOTASIG", "ghost"], 125, "NOTASIG"),
        case(&["logs", "--tail", "x", "ghost"], 125, "--tail"),
        case(&["exec", "ghost", "true"], 1, "No such container: ghost"),
        case(&["rename", "ghost", "other"], 1, "No such container: ghost"),
        case(&["inspect", "ghost"], 1, "No such object: ghost"),
        case(&["ps", "-f", "status=bogus"], 125, "status=bogus"),
        case(&["ps", "-f", "nokey"], 125, "filter"),
        case(&["rmi", "ghost:1"], 1, "No such image: ghost:1"),
        case(
            &["image", "import", "/nonexistent/layout"],
            125,
            "/nonexistent/layout",
        ),
        case(&["image", "import", &broken], 125, "broken.tar"),
        case(&["image", "import", &empty], 125, "empty"),
        case(&["image", "import", &traversal], 125, "../"),
        case(&["volume", "rm", "ghostvol"], 1, "ghostvol"),
        case(&["volume", "create", "bad/name"], 125, "bad/name"),
        case(
            &["network", "create", "--subnet", "300.1.0.0/16", "badnet"],
            125,
            "300.1.0.0/16",
        ),
        case(
            &[
                "network",
                "create",
                "--subnet",
                "10.99.0.0/16",
                "--gateway",
                "10.98.0.1",
                "badgw",
            ],
            1,
            "10.98.0.1",
        ),
        case(&["network", "rm", "ghostnet"], 1, "ghostnet"),
        case(&["update", "--memory", "lots", "ghost"], 125, "lots"),
        case(&["pull", "bad@@ref"], 1, "invalid reference format"),
        case(
            &["pull", "--platform", "linux/bogus/x/y", "busybox"],
            125,
            "linux/bogus/x/y",
        ),
        case(
            &r(&["--platform", "notaplatform", "busybox", "true"]),
            125,
            "notaplatform",
        ),
        // save / load
        case(
            &["save", "-o", "/tmp/ebrun-never.tar", "ghostimage"],
            1,
            "No such image: ghostimage",
        ),
        case(
            &["save", "-o", "/nonexistent-dir/x.tar", "busybox"],
            1,
            "does not exist",
        ),
        case(&["load", "-i", &broken], 1, "broken.tar"),
        case(&["load", "-i", "/nonexistent.tar"], 1, "/nonexistent.tar"),
        // mounts, detach keys, restart policy, ports, hosts (later additions)
        case(
            &r(&[
                "--mount",
                "type=bind,source=/tmp,target=/h,bind-recursive=maybe",
                "busybox",
                "true",
            ]),
            125,
            "maybe",
        ),
        case(
            &r(&[
                "--mount",
                "type=volume,target=/h,bind-recursive=readonly",
                "busybox",
                "true",
            ]),
            125,
            "bind-recursive",
        ),
        case(
            &["run", "-d", "--detach-keys", "ctrl-zz", "busybox", "true"],
            125,
            "Invalid detach keys (ctrl-zz)",
        ),
        case(&["attach", "--detach-keys", "ctrl-", "ghost"], 1, "ctrl-"),
        case(
            &["update", "--restart", "sometimes", "ghost"],
            125,
            "sometimes",
        ),
        case(&r(&["-p", "80/bogus", "busybox", "true"]), 125, "bogus"),
        case(
            &r(&["--add-host", "nohostgw", "busybox", "true"]),
            125,
            "nohostgw",
        ),
    ]
}

/// Test fixtures: a broken archive, an empty dir, a layout whose layer escapes with `../`.
fn fixtures(dir: &std::path::Path) {
    std::fs::write(dir.join("broken.tar"), b"this is not a tar archive").unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    make_traversal_layout(&dir.join("traversal"));
}

/// An OCI layout of one layer holding `../escaped` — a hostile entry the importer refuses.
fn make_traversal_layout(dir: &std::path::Path) {
    use sha2::Digest;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut layer = Vec::new();
    {
        let mut b = tar::Builder::new(&mut layer);
        let data = b"escaped\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Bypass the tar crate's own path checks: write the name bytes directly.
        h.as_gnu_mut().unwrap().name[..10].copy_from_slice(b"../escaped");
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
        b.finish().unwrap();
    }
    let put = |bytes: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer_digest, layer_size) = put(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["true"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    });
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size}]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

#[test]
fn every_bad_input_gets_a_clear_error_and_leaves_the_host_unchanged() {
    let inst = Instance::exclusive();
    inst.ok(&[
        "image",
        "import",
        common::image_layout("busybox").to_str().unwrap(),
        "busybox:latest",
    ]);
    // Bring up what the instance keeps for its lifetime (bridge, firewall table, pinned
    // meters, cgroup parents) so that the snapshots compare only what the cases could leave.
    inst.ok(&["run", "--rm", "-p", "127.0.0.1::80", "busybox", "true"]);
    let fixtures_dir = tempfile::tempdir().unwrap();
    fixtures(fixtures_dir.path());
    let cases = catalogue(fixtures_dir.path());
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let before = HostSnapshot::take();
    let images_before = inst.ok(&["images", "-q"]);
    let mut failures = Vec::new();
    for (args, code, needle) in &cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = inst.run(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(*code) || !stderr.contains(needle) {
            failures.push(format!(
                "{args:?}: exit {:?} (want {code}), stderr {:?} (want it to contain {needle:?})",
                out.status.code(),
                stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let diff = HostSnapshot::settled_diff(&before, 10);
    assert!(
        diff.is_empty(),
        "bad inputs changed the host:\n{}",
        diff.join("\n")
    );
    assert_eq!(inst.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(inst.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(inst.ok(&["images", "-q"]), images_before);
}
