//! `ebrun oci` under a real containerd: Debian's containerd 1.6 and its io.containerd.runc.v2
//! shim exec the runtime binary given to `ctr run --runc-binary`. The harness is proved with
//! the real runc first, so a failure with ebrun is ebrun's. The `ebrun oci` tests run bundles
//! directly too (runc's command line, state JSON, bad configs).

use ebrun_tests::common;
use ebrun_tests::containerd;
use ebrun_tests::serve_support;

use std::path::{Path, PathBuf};

use common::Instance;
use containerd::{Containerd, RUNC};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn containerd_harness_runs_busybox_with_runc() {
    let _serial = containerd::serial();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let out = ctrd.run_with(
        Path::new(RUNC),
        &["--rm", image, "id1", "/bin/sh", "-c", "echo hi; exit 3"],
    );
    assert_eq!(text(&out.stdout), "hi\n", "stderr: {}", text(&out.stderr));
    // ctr run exits with the container's exit code.
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    // --rm removed the task and the container.
    assert_eq!(ctrd.ok(&["containers", "ls", "-q"]), "");

    let footprint = ctrd.footprint();
    drop(ctrd);
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[test]
fn containerd_harness_cleans_up_a_paused_container_and_its_exec() {
    let _serial = containerd::serial();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let out = ctrd.run_with(Path::new(RUNC), &["-d", image, "bg", "sleep", "600"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    // An exec left running, and the whole container frozen: Drop must still kill it all.
    let mut exec = ctrd
        .command(&["task", "exec", "--exec-id", "x1"])
        .arg("--fifo-dir")
        .arg(ctrd.fifo_dir())
        .args(["bg", "sleep", "600"])
        // It loses containerd at the drop and says so: not worth printing.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ctr task exec");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ctrd.ok(&["task", "ps", "bg"]).lines().count() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "exec x1 never showed up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ctrd.ok(&["task", "pause", "bg"]);
    assert!(ctrd.ok(&["task", "ls"]).contains("PAUSED"));
    assert!(ctrd.runtime_root().join("bg/state.json").is_file());

    let footprint = ctrd.footprint();
    let before = footprint.leftovers();
    for what in ["process", "cgroup: ", "dir: "] {
        assert!(
            before.iter().any(|l| l.starts_with(what)),
            "no {what} in {before:#?}"
        );
    }
    drop(ctrd);
    // ctr itself was ours too: it ends once its task is gone.
    let _ = exec.kill();
    let _ = exec.wait();
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

/// A runtime binary for the shim: `ebrun oci` with the test instance's root, so its meters
/// pin under that instance's prefix and its teardown removes them.
fn ebrun_runtime(inst: &Instance, dir: &Path) -> PathBuf {
    let path = dir.join("ebrun-oci");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nEBRUN_ROOT='{}' exec '{}' oci \"$@\"\n",
            inst.root().display(),
            common::ebrun_bin().display()
        ),
    )
    .expect("write runtime wrapper");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod runtime wrapper");
    path
}

/// A bundle whose root is busybox-static with a few applets, and `ebrun oci spec`'s
/// default config with `args` and a cgroups path of this test's own.
fn bundle(inst: &Instance, dir: &Path, args: &[&str]) -> PathBuf {
    let bundle = dir.join("bundle");
    let bin = bundle.join("rootfs/bin");
    std::fs::create_dir_all(&bin).expect("mkdir rootfs");
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "id", "cat", "sleep", "hostname", "uname"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("symlink applet");
    }
    let out = oci(inst, dir, &["spec", "--bundle", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut spec = read_spec(&bundle);
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = args.iter().map(|a| a.to_string()).collect();
    spec["hostname"] = "ocitest".into();
    // `spec`'s default root is read-only; the hooks test writes into it.
    spec["root"]["readonly"] = false.into();
    spec["linux"]["cgroupsPath"] = format!("/{}-oci/c1", inst.prefix()).into();
    write_spec(&bundle, &spec);
    bundle
}

/// `ebrun oci --root <dir>/state ARGS` with the instance's root for the meters. A created
/// container's init keeps `create`'s stdio (as under runc): its output goes to files here, so
/// that reading it does not wait for the container to end.
fn oci(inst: &Instance, dir: &Path, args: &[&str]) -> std::process::Output {
    let out_file = |name: &str| std::fs::File::create(dir.join(name)).expect("create output file");
    let status = std::process::Command::new(common::ebrun_bin())
        .env("EBRUN_ROOT", inst.root())
        .arg("oci")
        .arg("--root")
        .arg(dir.join("state"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out_file("oci.stdout"))
        .stderr(out_file("oci.stderr"))
        .status()
        .expect("spawn ebrun oci");
    std::process::Output {
        status,
        stdout: std::fs::read(dir.join("oci.stdout")).unwrap_or_default(),
        stderr: std::fs::read(dir.join("oci.stderr")).unwrap_or_default(),
    }
}

/// The bundle's config.json, to edit.
fn read_spec(bundle: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

fn write_spec(bundle: &Path, spec: &serde_json::Value) {
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
}

/// Removes the test's cgroup parents (`/<prefix>-oci`) when dropped, also when it fails.
struct CgroupParents(String);

impl Drop for CgroupParents {
    fn drop(&mut self) {
        for base in common::cgroup_bases() {
            let _ = std::fs::remove_dir(base.join(format!("{}-oci", self.0)));
        }
    }
}

fn cgroup_parents(inst: &Instance) -> CgroupParents {
    CgroupParents(inst.prefix())
}

/// The test's cgroup parent in every hierarchy (`/<prefix>-oci`).
fn oci_cgroups(inst: &Instance) -> Vec<PathBuf> {
    common::cgroup_bases()
        .into_iter()
        .map(|b| b.join(format!("{}-oci", inst.prefix())))
        .filter(|d| d.exists())
        .collect()
}

#[test]
fn oci_bundle_runs_through_create_start_state_kill_delete() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["sh", "-c", "echo out; hostname; id -u; exit 4"]);
    let bs = b.to_str().unwrap();

    // run: the exit code and output of the container's process.
    let out = oci(&inst, d, &["run", "--bundle", bs, "r1"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\nocitest\n0\n");
    assert!(!d.join("state/r1").exists(), "run leaves no state");

    // create -> created (held before exec), start -> running, kill -> stopped, delete.
    let mut spec = read_spec(&b);
    spec["process"]["args"] = serde_json::json!(["sleep", "600"]);
    write_spec(&b, &spec);
    let pid_file = d.join("c1.pid");
    let out = oci(
        &inst,
        d,
        &[
            "create",
            "--bundle",
            bs,
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .parse()
        .expect("a bare pid");
    let state = |id: &str| -> serde_json::Value {
        let out = oci(&inst, d, &["state", id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let s = state("c1");
    assert_eq!(
        (s["status"].as_str(), s["pid"].as_i64()),
        (Some("created"), Some(pid as i64))
    );
    assert_eq!(s["bundle"].as_str(), Some(bs));
    // Held before exec: still ebrun's code, not sleep.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");
    // The process is in the spec's cgroup already.
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cgroup.contains(&format!("/{}-oci/c1", inst.prefix())),
        "{cgroup}"
    );
    assert!(oci(&inst, d, &["start", "c1"]).status.success());
    assert_eq!(state("c1")["status"].as_str(), Some("running"));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "sleep"
    );
    let out = oci(
        &inst,
        d,
        &["exec", "c1", "sh", "-c", "echo exec $(hostname)"],
    );
    assert_eq!(text(&out.stdout), "exec ocitest\n", "{}", text(&out.stderr));
    let out = oci(&inst, d, &["ps", "--format", "json", "c1"]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, vec![pid]);
    // A running container is not deleted without --force.
    let out = oci(&inst, d, &["delete", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(oci(&inst, d, &["kill", "c1", "9"]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while state("c1")["status"].as_str() != Some("stopped") {
        assert!(std::time::Instant::now() < deadline, "never stopped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // As runc says it, so containerd's shim knows what it means.
    let out = oci(&inst, d, &["kill", "c1", "9"]);
    assert!(
        text(&out.stderr).contains("not running"),
        "{}",
        text(&out.stderr)
    );
    assert!(oci(&inst, d, &["delete", "c1"]).status.success());
    let out = oci(&inst, d, &["delete", "c1"]);
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    // Nothing of the container is left: no state, no cgroup of its own.
    assert!(!d.join("state/c1").exists());
    for parent in oci_cgroups(&inst) {
        assert!(!parent.join("c1").exists(), "{}", parent.display());
    }
}

#[test]
fn oci_bad_config_names_the_json_path_and_creates_nothing() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["true"]);
    let good = read_spec(&b);
    // (JSON pointer to change, its new value, the path the error must name)
    let cases = [
        (
            "/linux/namespaces/1/type",
            serde_json::json!("bogus"),
            "linux.namespaces[1].type",
        ),
        (
            "/process/user/uid",
            serde_json::json!("root"),
            "process.user.uid",
        ),
        (
            "/mounts/0/destination",
            serde_json::json!("proc"),
            "mounts[0].destination",
        ),
        (
            "/process/capabilities/bounding/0",
            serde_json::json!("CAP_BOGUS"),
            "process.capabilities.bounding",
        ),
        ("/process/args", serde_json::json!([]), "process.args"),
        (
            "/linux/uidMappings",
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            "linux.uidMappings",
        ),
        (
            "/linux/intelRdt",
            serde_json::json!({"closID": "guaranteed"}),
            "linux.intelRdt",
        ),
        (
            "/hooks",
            serde_json::json!({"prestart": [{"path": "relative/hook"}]}),
            "hooks.prestart[0].path",
        ),
    ];
    for (pointer, value, path) in cases {
        let mut spec = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = spec
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{parent} in the default spec"));
        match parent {
            serde_json::Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
            other => other[key] = value,
        }
        write_spec(&b, &spec);
        let out = oci(
            &inst,
            d,
            &["create", "--bundle", b.to_str().unwrap(), "bad"],
        );
        assert_eq!(out.status.code(), Some(1), "{path}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(path),
            "{path}: {}",
            text(&out.stderr)
        );
        assert!(!d.join("state/bad").exists(), "{path}: state left behind");
        for parent in oci_cgroups(&inst) {
            assert!(!parent.join("c1").exists(), "{path}: cgroup left behind");
        }
    }
}

#[test]
fn ctr_runs_containers_on_ebrun_oci() {
    let inst = Instance::new();
    let dir = tempfile::tempdir().unwrap();
    let runtime = ebrun_runtime(&inst, dir.path());
    let _serial = containerd::serial();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();

    // To completion: output and exit code through the shim.
    let out = ctrd.run_with(
        &runtime,
        &["--rm", image, "e1", "/bin/sh", "-c", "echo hi; exit 3"],
    );
    assert_eq!(
        text(&out.stdout),
        "hi\n",
        "stderr: {}\n{}",
        text(&out.stderr),
        ctrd.log()
    );
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    assert_eq!(ctrd.ok(&["containers", "ls", "-q"]), "");

    // Detached: exec, ps, pause/resume, kill, delete.
    let out = ctrd.run_with(&runtime, &["-d", image, "e2", "sleep", "600"]);
    assert!(
        out.status.success(),
        "stderr: {}\n{}",
        text(&out.stderr),
        ctrd.log()
    );
    let out = ctrd.exec(&[
        "--exec-id",
        "x1",
        "e2",
        "sh",
        "-c",
        "echo from-exec; exit 5",
    ]);
    assert_eq!(
        text(&out.stdout),
        "from-exec\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(5));
    let ps = ctrd.ok(&["task", "ps", "e2"]);
    assert_eq!(ps.lines().count(), 2, "{ps}");
    // Metered like any container: ebrun serve of the runtime's instance exports it.
    let serve = serve_support::Serve::start(&inst, &[]);
    serve_support::eventually(&serve, 20, |m| {
        let info = m.values("ebrun_container_info", &[("id", "e2"), ("runtime", "oci")]);
        let switches = m.values("ebrun_container_sched_switches_total", &[("id", "e2")]);
        match (info.as_slice(), switches.first()) {
            ([1.0], Some(n)) if *n > 0.0 => Ok(()),
            _ => Err(format!("info {info:?}, context switches {switches:?}")),
        }
    });
    serve.stop();
    ctrd.ok(&["task", "pause", "e2"]);
    assert!(ctrd.ok(&["task", "ls"]).contains("PAUSED"));
    ctrd.ok(&["task", "resume", "e2"]);
    assert!(ctrd.ok(&["task", "ls"]).contains("RUNNING"));
    // sleep is pid 1 of its namespace: SIGTERM has no handler there and is ignored.
    ctrd.ok(&["task", "kill", "-s", "SIGKILL", "e2"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ctrd.ok(&["task", "ls"]).contains("STOPPED") {
        assert!(std::time::Instant::now() < deadline, "e2 never stopped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ctrd.ok(&["task", "delete", "e2"]);
    ctrd.ok(&["containers", "delete", "e2"]);
    assert!(
        !ctrd.runtime_root().join("e2").exists(),
        "runtime state left behind"
    );

    let footprint = ctrd.footprint();
    drop(ctrd);
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[test]
fn oci_containers_are_metered_in_serve_with_their_pod_labels() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["sh", "-c", "while :; do :; done"]);
    let mut spec = read_spec(&b);
    // What containerd's CRI plugin writes on a pod's container.
    spec["annotations"] = serde_json::json!({
        "io.kubernetes.cri.sandbox-name": "web-0",
        "io.kubernetes.cri.sandbox-namespace": "shop",
        "io.kubernetes.cri.container-name": "app",
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.image-name": "busybox:latest",
    });
    write_spec(&b, &spec);
    let out = oci(&inst, d, &["create", "--bundle", b.to_str().unwrap(), "m1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(oci(&inst, d, &["start", "m1"]).status.success());

    let serve = serve_support::Serve::start(&inst, &[]);
    let id = [("id", "m1")];
    let m = serve_support::eventually(&serve, 20, |m| {
        let info = m.values(
            "ebrun_container_info",
            &[
                ("id", "m1"),
                ("pod", "web-0"),
                ("namespace", "shop"),
                ("container", "app"),
                ("sandbox", "false"),
                ("runtime", "oci"),
                ("name", "web-0/app"),
            ],
        );
        let oncpu = m.values("ebrun_container_sched_oncpu_seconds_total", &id);
        if info != vec![1.0] {
            return Err(format!("info {info:?}"));
        }
        if oncpu.first().is_none_or(|v| *v < 0.5) {
            return Err(format!("on-CPU seconds {oncpu:?}"));
        }
        Ok(())
    });
    // The eBPF scheduler meter agrees with the cgroup's own count of the same spinner.
    let oncpu = m.value("ebrun_container_sched_oncpu_seconds_total", &id);
    let usage = m.value("ebrun_container_cpu_usage_seconds_total", &id);
    assert!(
        (oncpu - usage).abs() / usage < 0.05,
        "oncpu {oncpu} vs cgroup {usage}"
    );

    let out = oci(&inst, d, &["delete", "--force", "m1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serve_support::eventually(&serve, 10, |m| {
        if m.mentions("m1") {
            Err("m1 still exported".into())
        } else {
            Ok(())
        }
    });
    serve.stop();
    assert!(
        !inst
            .root()
            .join("oci")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "mirror left"
    );
    for parent in oci_cgroups(&inst) {
        assert!(!parent.join("c1").exists(), "{}", parent.display());
    }
}

/// `sh -c SCRIPT` as a hook of the spec.
fn hook(script: &str) -> serde_json::Value {
    serde_json::json!({
        "path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/bin:/usr/bin"], "timeout": 10,
    })
}

#[test]
fn oci_hooks_run_at_every_stage_with_the_state_and_a_failing_one_undoes_create() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["sleep", "600"]);
    let mut spec = read_spec(&b);
    let out = |stage: &str| d.join(format!("{stage}.json"));
    let save = |stage: &str| hook(&format!("cat > {}", out(stage).display()));
    spec["hooks"] = serde_json::json!({
        "prestart": [save("prestart")],
        "createRuntime": [save("createRuntime")],
        "createContainer": [save("createContainer")],
        // Resolved in the container: busybox's sh, writing into its root (the bundle's).
        "startContainer": [hook("cat > /startContainer.json")],
        "poststart": [save("poststart")],
        "poststop": [save("poststop")],
    });
    write_spec(&b, &spec);
    let bs = b.to_str().unwrap();
    let ok = |args: &[&str]| {
        let o = oci(&inst, d, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    };
    ok(&["create", "--bundle", bs, "h1"]);
    let read = |path: PathBuf| -> serde_json::Value {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let pid = read(out("prestart"))["pid"].as_i64().unwrap();
    assert!(pid > 0);
    for stage in ["prestart", "createRuntime", "createContainer"] {
        let s = read(out(stage));
        assert_eq!(s["id"], "h1", "{stage}: {s}");
        assert_eq!(s["pid"].as_i64(), Some(pid), "{stage}: the host's pid: {s}");
        assert_eq!(s["bundle"].as_str(), Some(bs), "{stage}: {s}");
    }
    assert!(
        !b.join("rootfs/startContainer.json").exists(),
        "startContainer before start"
    );
    assert!(!out("poststart").exists());
    ok(&["start", "h1"]);
    // The process runs it once start has let it go on (start does not wait for it).
    let started = b.join("rootfs/startContainer.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&started).map_or(true, |m| m.len() == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "no startContainer hook ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(read(started)["pid"].as_i64(), Some(pid));
    assert_eq!(read(out("poststart"))["status"], "running");
    ok(&["delete", "--force", "h1"]);
    assert_eq!(read(out("poststop"))["status"], "stopped");

    // A failing prestart hook fails create, naming the stage, and leaves nothing.
    spec["hooks"] = serde_json::json!({"prestart": [hook("echo no way >&2; exit 3")]});
    write_spec(&b, &spec);
    let o = oci(&inst, d, &["create", "--bundle", bs, "h2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("prestart hook"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("no way"), "{}", text(&o.stderr));
    assert!(!d.join("state/h2").exists());
    // A hook past its timeout is killed and fails the operation.
    spec["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    write_spec(&b, &spec);
    let o = oci(&inst, d, &["create", "--bundle", bs, "h3"]);
    assert!(text(&o.stderr).contains("timed out"), "{}", text(&o.stderr));
    assert!(!d.join("state/h3").exists());
    for parent in oci_cgroups(&inst) {
        assert!(!parent.join("c1").exists(), "{}", parent.display());
    }
}

#[test]
fn oci_update_events_and_preserved_fds() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The container writes to descriptor 3 when --preserve-fds 1 hands it over.
    let b = bundle(
        &inst,
        d,
        &["sh", "-c", "echo through-fd3 >&3; exec sleep 600"],
    );
    let bs = b.to_str().unwrap();
    let fd3 = d.join("fd3.out");
    let file = std::fs::File::create(&fd3).unwrap();
    let mut cmd = std::process::Command::new(common::ebrun_bin());
    cmd.env("EBRUN_ROOT", inst.root())
        .arg("oci")
        .arg("--root")
        .arg(d.join("state"))
        .args([
            "run",
            "--detach",
            "--preserve-fds",
            "1",
            "--bundle",
            bs,
            "u1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: dup2 in the child between fork and exec, onto descriptor 3, no allocation.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&fd3).unwrap_or_default() != "through-fd3\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing arrived through fd 3"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // update: new limits land in the container's cgroup.
    let resources = d.join("resources.json");
    std::fs::write(
        &resources,
        r#"{"memory":{"limit":67108864},"pids":{"limit":42}}"#,
    )
    .unwrap();
    let o = oci(
        &inst,
        d,
        &["update", "--resources", resources.to_str().unwrap(), "u1"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cg = format!("{}-oci/c1", inst.prefix());
    let pids_max = common::cgroup_bases()
        .into_iter()
        .map(|base| base.join(&cg))
        .find_map(|dir| std::fs::read_to_string(dir.join("pids.max")).ok())
        .expect("a pids controller");
    assert_eq!(pids_max.trim(), "42");
    let memory = common::cgroup_bases()
        .into_iter()
        .map(|base| base.join(&cg))
        .find_map(|dir| {
            std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
                .or_else(|_| std::fs::read_to_string(dir.join("memory.max")))
                .ok()
        })
        .expect("a memory controller");
    assert_eq!(memory.trim(), "67108864");
    // Wrong types are refused with their JSON path.
    std::fs::write(&resources, r#"{"memory":{"limit":"lots"}}"#).unwrap();
    let o = oci(
        &inst,
        d,
        &["update", "--resources", resources.to_str().unwrap(), "u1"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("memory.limit"),
        "{}",
        text(&o.stderr)
    );

    // events --stats: runc's stats event.
    let o = oci(&inst, d, &["events", "--stats", "u1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let event: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["id"].as_str()),
        (Some("stats"), Some("u1"))
    );
    assert_eq!(
        event["data"]["memory"]["usage"]["limit"].as_u64(),
        Some(67108864)
    );
    assert!(event["data"]["pids"]["current"].as_u64() >= Some(1));

    assert!(oci(&inst, d, &["delete", "--force", "u1"]).status.success());
}

#[test]
fn ctr_run_t_gets_a_terminal_through_the_console_socket() {
    let inst = Instance::new();
    let dir = tempfile::tempdir().unwrap();
    let runtime = ebrun_runtime(&inst, dir.path());
    let _serial = containerd::serial();
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    // ctr wants a terminal of its own for -t: script(1) gives it one.
    let runtime_root = ctrd.runtime_root();
    let ctr = format!(
        "ctr --address {} --namespace {} run --fifo-dir {} --runc-binary {} --runc-root {} -t --rm {image} t1 sh -c 'tty; stty size; exit 2'",
        ctrd.socket().display(),
        ctrd.namespace(),
        ctrd.fifo_dir().display(),
        runtime.display(),
        runtime_root.parent().unwrap().display(),
    );
    let out = std::process::Command::new("script")
        .args(["-qefc", &ctr, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn script");
    let output = text(&out.stdout);
    assert!(output.contains("/dev/pts/0"), "{output}\n{}", ctrd.log());
    assert_eq!(out.status.code(), Some(2), "{output}");
    let footprint = ctrd.footprint();
    drop(ctrd);
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[test]
fn oci_device_rules_decide_what_a_container_may_open() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // /dev/kmsg (c 1:11) made in the container; writing to it needs the rules to allow it.
    let b = bundle(
        &inst,
        d,
        &[
            "sh",
            "-c",
            "echo ebrun-oci-device-test > /dev/kmsg && echo wrote",
        ],
    );
    let mut spec = read_spec(&b);
    spec["linux"]["devices"] = serde_json::json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}]);
    let deny_all = serde_json::json!({"allow": false, "access": "rwm"});
    let allow_kmsg =
        serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"});
    let run = |spec: &serde_json::Value, id: &str| {
        write_spec(&b, spec);
        oci(&inst, d, &["run", "--bundle", b.to_str().unwrap(), id])
    };
    spec["linux"]["resources"]["devices"] = serde_json::json!([deny_all]);
    let out = run(&spec, "d1");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    let v1_devices = common::cgroup_bases()
        .iter()
        .any(|b| b.ends_with("devices"));
    if v1_devices {
        // Rules apply in order: the allow after the deny opens this one device.
        spec["linux"]["resources"]["devices"] = serde_json::json!([deny_all, allow_kmsg]);
        let out = run(&spec, "d2");
        assert_eq!(text(&out.stdout), "wrote\n", "{}", text(&out.stderr));
    }
}

#[test]
fn oci_personality_sysctl_and_domainname_reach_the_process() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(
        &inst,
        d,
        &["sh", "-c", "uname -m; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/domainname"],
    );
    let mut spec = read_spec(&b);
    spec["linux"]["personality"] = serde_json::json!({"domain": "LINUX32"});
    spec["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_unprivileged_port_start": "42"});
    spec["domainname"] = "ebrun.test".into();
    write_spec(&b, &spec);
    let out = oci(&inst, d, &["run", "--bundle", b.to_str().unwrap(), "p1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "i686\n42\nebrun.test\n");
}

/// The OCI bundle path honours the same contract as `ebrun run`: the spec's `cgroup` mount
/// shows the container's own cgroup (a new namespace's root, or its own directories in the
/// host's namespace), read-only; `linux.sysctl` is written inside the container's namespaces
/// and a sysctl that would reach the host is refused in runc's words, naming the field.
#[test]
fn oci_cgroup_mount_and_sysctl_rules() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = "cat /proc/self/cgroup; grep ' /sys/fs/cgroup' /proc/self/mountinfo; \
                  cat /proc/sys/net/core/somaxconn";
    let b = bundle(&inst, d, &["sh", "-c", script]);
    let mut spec = read_spec(&b);
    spec["linux"]["sysctl"] = serde_json::json!({"net.core.somaxconn": "77"});
    let private = spec.clone();
    // Without a cgroup namespace: the container's own directories, bound.
    let list = spec["linux"]["namespaces"].as_array().unwrap().clone();
    spec["linux"]["namespaces"] = list
        .into_iter()
        .filter(|n| n["type"] != "cgroup")
        .collect::<Vec<_>>()
        .into();
    for (name, spec) in [("host", &spec), ("private", &private)] {
        write_spec(&b, spec);
        let out = oci(&inst, d, &["run", "--bundle", b.to_str().unwrap(), name]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let cgroup_lines: Vec<&str> = stdout.lines().filter(|l| l.contains(":/")).collect();
        let mounts: Vec<&str> = stdout.lines().filter(|l| l.contains(" - ")).collect();
        assert!(!mounts.is_empty(), "{name}: no cgroup mount: {stdout}");
        assert!(
            mounts
                .iter()
                .all(|m| m.split(' ').nth(5).unwrap().starts_with("ro,")),
            "{name}: not read-only: {stdout}"
        );
        if name == "private" {
            assert!(cgroup_lines.iter().all(|l| l.ends_with(":/")), "{stdout}");
        } else {
            let own = format!("/{}-oci/c1", inst.prefix());
            assert!(
                cgroup_lines.iter().any(|l| l.ends_with(&own)),
                "{own} not in {stdout}"
            );
            // Each v1 hierarchy's mount is a bind of the container's directory (on cgroup v2
            // the host's namespace sees the whole hierarchy, as under runc).
            assert!(
                mounts.iter().all(|m| !m.contains(" - cgroup cgroup ")
                    || m.split(' ').nth(3) == Some(own.as_str())),
                "{stdout}"
            );
        }
        assert_eq!(stdout.lines().last(), Some("77"), "{name}: {stdout}");
    }

    // A sysctl of the host's network namespace, or of no namespace: refused, nothing made.
    for (sysctl, namespaces, message) in [
        (
            "net.ipv4.ip_forward",
            vec!["pid", "ipc", "uts", "mount"],
            "linux.sysctl[\"net.ipv4.ip_forward\"]: sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        ),
        (
            "vm.swappiness",
            vec!["pid", "ipc", "uts", "mount", "network"],
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        ),
        (
            "kernel.shmmax",
            vec!["pid", "uts", "mount", "network"],
            "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace",
        ),
    ] {
        let mut spec = private.clone();
        spec["linux"]["sysctl"] = serde_json::json!({ sysctl: "1" });
        spec["linux"]["namespaces"] = namespaces
            .iter()
            .map(|t| serde_json::json!({ "type": t }))
            .collect::<Vec<_>>()
            .into();
        write_spec(&b, &spec);
        let out = oci(&inst, d, &["run", "--bundle", b.to_str().unwrap(), "bad"]);
        assert!(!out.status.success(), "{sysctl} was accepted");
        assert!(
            text(&out.stderr).contains(message),
            "{sysctl}: {}",
            text(&out.stderr)
        );
    }
    for parent in oci_cgroups(&inst) {
        assert!(!parent.join("bad").exists(), "a refused spec left a cgroup");
    }
}

#[test]
fn oci_user_namespace_maps_the_containers_root_to_an_unprivileged_host_uid() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The mapped root must reach the bundle: the tempdir is root's 0700.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let b = bundle(
        &inst,
        d,
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; echo hi > /owned; exec sleep 600",
        ],
    );
    // The root filesystem belongs to the container's root as the host sees it, as containerd
    // prepares it for a pod in a user namespace.
    let host_root = 200_000u32;
    let status = std::process::Command::new("chown")
        .args(["-R", &format!("{host_root}:{host_root}")])
        .arg(b.join("rootfs"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut spec = read_spec(&b);
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    let map = serde_json::json!([{"containerID": 0, "hostID": host_root, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
    write_spec(&b, &spec);
    let bs = b.to_str().unwrap();
    let out = oci(&inst, d, &["run", "--detach", "--bundle", bs, "n1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let owned = b.join("rootfs/owned");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&owned).map_or(true, |m| m.len() == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Root inside; the file it wrote belongs to the mapped uid on the host.
    let meta = std::fs::metadata(&owned).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (host_root, host_root));
    let state: serde_json::Value =
        serde_json::from_slice(&oci(&inst, d, &["state", "n1"]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.contains(&host_root.to_string()), "{uid_line}");
    // exec joins the user namespace too: root inside, the same mapping.
    let out = oci(
        &inst,
        d,
        &["exec", "n1", "sh", "-c", "id -u; cat /proc/self/uid_map"],
    );
    let lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        vec!["0".to_string(), format!("0 {host_root} 65536")],
        "{}",
        text(&out.stderr)
    );
    assert!(oci(&inst, d, &["delete", "--force", "n1"]).status.success());

    // Mappings without a user namespace are refused, naming the field.
    spec["linux"]["namespaces"].as_array_mut().unwrap().pop();
    write_spec(&b, &spec);
    let out = oci(&inst, d, &["create", "--bundle", bs, "n2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("linux.uidMappings"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn oci_process_of_another_user_waits_for_start_and_runs() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["id"]);
    let mut spec = read_spec(&b);
    spec["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [27]});
    write_spec(&b, &spec);
    // Not root when it waits for start: the start FIFO must still be its to open.
    let out = oci(&inst, d, &["run", "--bundle", b.to_str().unwrap(), "o1"]);
    assert_eq!(
        text(&out.stdout),
        "uid=1000 gid=1000 groups=27\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_create_killed_at_any_step_is_undone_by_delete() {
    let inst = Instance::new();
    let _cgroups = cgroup_parents(&inst);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(&inst, d, &["sleep", "600"]);
    for point in ["oci:dir", "oci:cgroups", "oci:spawned"] {
        let out = std::process::Command::new(common::ebrun_bin())
            .env("EBRUN_ROOT", inst.root())
            .env("EBRUN_FAULT_AT", point)
            .arg("oci")
            .arg("--root")
            .arg(d.join("state"))
            .args(["create", "--bundle", b.to_str().unwrap(), "k1"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out),
            Some(libc::SIGKILL),
            "{point}"
        );
        assert!(d.join("state/k1").exists(), "{point}: nothing was made");
        let out = oci(&inst, d, &["delete", "k1"]);
        assert!(out.status.success(), "{point}: {}", text(&out.stderr));
        assert!(!d.join("state/k1").exists(), "{point}: state left");
        for parent in oci_cgroups(&inst) {
            assert!(!parent.join("c1").exists(), "{point}: cgroup left");
        }
        assert!(
            !inst
                .root()
                .join("oci")
                .read_dir()
                .is_ok_and(|mut e| e.next().is_some()),
            "{point}: mirror left"
        );
    }
}
