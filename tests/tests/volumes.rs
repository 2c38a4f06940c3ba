//! Volumes, bind mounts, `--volumes-from` and tmpfs end to end: the real binary, real mounts
//! in the container's mount namespace, checked from inside the container and on the host.

use ebrun_tests::common;
use ebrun_tests::common::stderr;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::Instance;
use serde_json::Value;

fn mounts(inst: &Instance, name: &str) -> Vec<Value> {
    let out = inst.ok(&["inspect", "-f", "{{json .Mounts}}", name]);
    serde_json::from_str::<Value>(&out)
        .expect("Mounts JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn volume_names(inst: &Instance) -> Vec<String> {
    inst.ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A host directory for bind mounts, removed on drop.
fn host_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ebrun-bind-")
        .tempdir_in("/var/tmp")
        .unwrap()
}

#[test]
fn named_volume_outlives_its_container() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    let m = mounts(&inst, "writer");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["Type"], "volume");
    assert_eq!(m[0]["Name"], "keep");
    assert_eq!(m[0]["Destination"], "/data");
    assert_eq!(m[0]["Driver"], "local");
    assert_eq!(m[0]["Mode"], "z");
    assert_eq!(m[0]["RW"], true);
    let source = inst.root().join("volumes/keep/_data");
    assert_eq!(m[0]["Source"], source.to_str().unwrap());
    inst.ok(&["rm", "writer"]);
    assert_eq!(
        std::fs::read_to_string(source.join("f")).unwrap(),
        "persisted\n"
    );
    let out = inst.ok(&[
        "run",
        "--rm",
        "-v",
        "keep:/other",
        "busybox",
        "cat",
        "/other/f",
    ]);
    assert_eq!(out, "persisted\n");
}

#[test]
fn bind_mount_shows_host_files_and_ro_refuses_writes() {
    let inst = Instance::with_busybox();
    let dir = host_dir();
    std::fs::write(dir.path().join("hello"), "from the host\n").unwrap();
    let spec = format!("{}:/h", dir.path().display());
    let out = inst.ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /h/hello; echo back > /h/new",
    ]);
    assert_eq!(out, "from the host\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new")).unwrap(),
        "back\n"
    );

    let ro = format!("{spec}:ro");
    let out = inst.run(&[
        "run",
        "--name",
        "ro",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "cat /h/hello && echo x > /h/denied",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("denied").exists());
    let m = mounts(&inst, "ro");
    assert_eq!(m[0]["Type"], "bind");
    assert_eq!(m[0]["Source"], dir.path().to_str().unwrap());
    assert_eq!(m[0]["Mode"], "ro");
    assert_eq!(m[0]["RW"], false);
    assert_eq!(m[0]["Propagation"], "rprivate");

    // --mount readonly, and a file bind.
    let file = dir.path().join("hello");
    let mount = format!(
        "type=bind,source={},target=/etc/motd,readonly",
        file.display()
    );
    let out = inst.run(&[
        "run",
        "--rm",
        "--mount",
        &mount,
        "busybox",
        "sh",
        "-c",
        "cat /etc/motd; echo x >> /etc/motd",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from the host\n");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );

    // -v creates a missing host directory, as Docker does.
    let missing = dir.path().join("made/by/ebrun");
    let spec = format!("{}:/m", missing.display());
    inst.ok(&["run", "--rm", "-v", &spec, "busybox", "true"]);
    assert!(missing.is_dir());
}

#[test]
fn volumes_from_shares_the_same_volumes_and_modes() {
    let inst = Instance::with_busybox();
    let dir = host_dir();
    let bind = format!("{}:/bind:ro", dir.path().display());
    inst.ok(&[
        "run",
        "--name",
        "source",
        "-v",
        "shared:/shared",
        "-v",
        "/anon",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo s > /shared/x; echo a > /anon/y",
    ]);
    let out = inst.ok(&[
        "run",
        "--name",
        "follower",
        "--volumes-from",
        "source",
        "busybox",
        "sh",
        "-c",
        "cat /shared/x /anon/y; echo f > /shared/z",
    ]);
    assert_eq!(out, "s\na\n");
    let key = |m: &Value| {
        (
            m["Destination"].as_str().unwrap().to_string(),
            (
                m["Source"].clone(),
                m["RW"].clone(),
                m["Type"].clone(),
                m["Name"].clone(),
            ),
        )
    };
    let from: BTreeMap<_, _> = mounts(&inst, "source").iter().map(key).collect();
    let got: BTreeMap<_, _> = mounts(&inst, "follower").iter().map(key).collect();
    assert_eq!(from.len(), 3);
    assert_eq!(
        from, got,
        "--volumes-from must share the exact mounts with their modes"
    );
    assert!(inst.root().join("volumes/shared/_data/z").exists());

    // :ro makes every inherited mount read-only.
    let out = inst.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "source:ro",
        "busybox",
        "sh",
        "-c",
        "echo no > /shared/w",
    ]);
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );

    // rm -v of the follower keeps the source's anonymous volume: it is not the follower's own.
    let anon = from["/anon"].3.as_str().unwrap().to_string();
    inst.ok(&["rm", "-v", "follower"]);
    assert!(volume_names(&inst).contains(&anon));
    let out = inst.run(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("No such container: nosuch"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn new_volume_starts_with_the_image_files() {
    let inst = Instance::with_busybox();
    let image_etc = inst.ok(&["run", "--rm", "busybox", "ls", "/etc"]);
    assert!(image_etc.contains("passwd"));
    let out = inst.ok(&["run", "--rm", "-v", "etc:/etc", "busybox", "ls", "/etc"]);
    assert_eq!(
        out, image_etc,
        "a new volume over /etc starts with the image's /etc"
    );
    let data = inst.root().join("volumes/etc/_data");
    let host = std::fs::metadata(data.join("passwd")).unwrap();
    assert_eq!((host.uid(), host.gid()), (0, 0));
    // Not again once the volume has content: a removed file stays removed.
    inst.ok(&[
        "run",
        "--rm",
        "-v",
        "etc:/etc",
        "busybox",
        "rm",
        "/etc/passwd",
    ]);
    let out = inst.ok(&["run", "--rm", "-v", "etc:/etc", "busybox", "ls", "/etc"]);
    assert!(!out.contains("passwd"), "{out}");
    // nocopy: an empty volume stays empty.
    let out = inst.ok(&[
        "run",
        "--rm",
        "-v",
        "bare:/etc:nocopy",
        "busybox",
        "ls",
        "-A",
        "/etc",
    ]);
    assert_eq!(out, "hostname\nhosts\nresolv.conf\n");
}

#[test]
fn rm_v_removes_anonymous_volumes_only() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "--name",
        "c1",
        "-v",
        "named:/n",
        "-v",
        "/anon",
        "--mount",
        "type=volume,target=/anon2",
        "busybox",
        "true",
    ]);
    let m = mounts(&inst, "c1");
    let anon: Vec<String> = m
        .iter()
        .filter(|m| m["Destination"] != "/n")
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(anon.len(), 2);
    assert!(anon.iter().all(|n| n.len() == 64));
    let out = inst.run(&["volume", "rm", "named"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
    inst.ok(&["rm", "-v", "c1"]);
    assert_eq!(volume_names(&inst), vec!["named".to_string()]);
    // Without -v, anonymous volumes stay (dangling).
    inst.ok(&["run", "--name", "d1", "-v", "/anon", "busybox", "true"]);
    inst.ok(&["rm", "d1"]);
    assert_eq!(volume_names(&inst).len(), 2);
    let dangling = inst.ok(&["volume", "ls", "-q", "-f", "dangling=true"]);
    assert_eq!(dangling.lines().count(), 2);
    let out = inst.ok(&["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert_eq!(volume_names(&inst), vec!["named".to_string()]);
    inst.ok(&["volume", "rm", "named"]);
    assert!(volume_names(&inst).is_empty());
}

/// Every file under `dir` with its size and mtime.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = e.path().symlink_metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            }
            out.insert(e.path(), (meta.len(), meta.mtime()));
        }
    }
    out
}

#[test]
fn writes_go_only_to_the_upper_dir_and_volumes() {
    let inst = Instance::with_busybox();
    let dir = host_dir();
    std::fs::write(dir.path().join("ro-file"), "x").unwrap();
    let layers = snapshot(&inst.root().join("image"));
    let host_before = snapshot(dir.path());
    let bind = format!("{}:/ro:ro", dir.path().display());
    inst.ok(&["run", "--name", "wr", "-v", "vol:/vol", "-v", &bind, "--tmpfs", "/scratch", "busybox", "sh", "-c",
        "echo a > /rootfile; echo b > /vol/volfile; echo c > /scratch/gone; echo d > /etc/passwd; echo e > /ro/x 2>/dev/null; true"]);
    let id = inst
        .ok(&["inspect", "-f", "{{.Id}}", "wr"])
        .trim()
        .to_string();
    let upper = inst.root().join("containers").join(&id).join("upper");
    assert_eq!(
        std::fs::read_to_string(upper.join("rootfile")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/passwd")).unwrap(),
        "d\n"
    );
    assert!(upper.join("vol").is_dir() && !upper.join("vol/volfile").exists());
    assert!(
        !upper.join("scratch/gone").exists(),
        "tmpfs writes must not reach the disk"
    );
    assert_eq!(
        std::fs::read_to_string(inst.root().join("volumes/vol/_data/volfile")).unwrap(),
        "b\n"
    );
    assert_eq!(
        snapshot(&inst.root().join("image")),
        layers,
        "image layers were written to"
    );
    assert_eq!(
        snapshot(dir.path()),
        host_before,
        "a read-only bind source was written to"
    );
    let tmpfs = inst.ok(&["inspect", "-f", "{{json .HostConfig.Tmpfs}}", "wr"]);
    assert_eq!(tmpfs.trim(), r#"{"/scratch":""}"#);
}

#[test]
fn tmpfs_mounts_take_their_options() {
    let inst = Instance::with_busybox();
    let out = inst.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m,mode=700",
        "--mount",
        "type=tmpfs,dst=/u,tmpfs-size=2m",
        "busybox",
        "sh",
        "-c",
        "grep -E ' /(t|u) ' /proc/mounts; stat -c %a /t",
    ]);
    let line = |p: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {p} tmpfs ")))
            .unwrap_or_else(|| panic!("no tmpfs at {p}: {out}"))
            .to_string()
    };
    let t = line("/t");
    assert!(
        t.contains("size=1024k") && t.contains("noexec") && t.contains("nosuid"),
        "{t}"
    );
    assert!(line("/u").contains("size=2048k"), "{out}");
    assert_eq!(out.lines().last(), Some("700"));
}

#[test]
fn bad_specs_are_refused_and_create_nothing() {
    let inst = Instance::with_busybox();
    let dir = host_dir();
    let missing = dir.path().join("missing");
    let missing_bind = format!("type=bind,source={},target=/x", missing.display());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--mount".into(),
                "type=bind,source=relative/dir,target=/x".into(),
            ],
            "must be absolute",
        ),
        (
            vec!["--mount".into(), missing_bind.clone()],
            "bind source path does not exist",
        ),
        (
            vec!["--mount".into(), "type=bind,target=/x".into()],
            "Source must not be empty",
        ),
        (vec!["-v".into(), "vol:relative".into()], "must be absolute"),
        (
            vec!["--mount".into(), "type=volume,target=rel".into()],
            "must be absolute",
        ),
        (
            vec!["-v".into(), "vol:/x:bogus".into()],
            "invalid mode: bogus",
        ),
        (
            vec!["--mount".into(), "type=volume,target=/x,colour=red".into()],
            "unexpected key 'colour'",
        ),
        (
            vec!["--tmpfs".into(), "/t:bogus".into()],
            "unknown tmpfs option",
        ),
        (
            vec!["-v".into(), "./rel:/x".into()],
            "includes invalid characters",
        ),
        (
            vec!["-v".into(), "va:/x".into(), "-v".into(), "vb:/x".into()],
            "Duplicate mount point: /x",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rm", "-v", "fresh:/fresh"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["busybox", "true"]);
        let out = inst.run(&args);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(err.lines().count() == 1, "{flags:?}: one clear line: {err}");
        assert!(volume_names(&inst).is_empty(), "{flags:?} created a volume");
        let containers = std::fs::read_dir(inst.root().join("containers"))
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        assert_eq!(containers, 0, "{flags:?} created a container");
    }
    assert!(!missing.exists());
}

#[test]
fn volume_commands() {
    let inst = Instance::with_busybox();
    assert_eq!(
        inst.ok(&["volume", "create", "--label", "team=a", "v1"]),
        "v1\n"
    );
    assert_eq!(inst.ok(&["volume", "create", "v1"]), "v1\n");
    let anon = inst.ok(&["volume", "create"]).trim().to_string();
    assert_eq!(anon.len(), 64);
    let table = inst.ok(&["volume", "ls"]);
    assert!(table.starts_with("DRIVER    VOLUME NAME\n"), "{table}");
    assert!(table.contains("local     v1\n"), "{table}");
    let v: Value = serde_json::from_str(&inst.ok(&["volume", "inspect", "v1"])).unwrap();
    assert_eq!(v[0]["Name"], "v1");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Labels"]["team"], "a");
    assert_eq!(
        v[0]["Mountpoint"],
        inst.root().join("volumes/v1/_data").to_str().unwrap()
    );
    assert_eq!(
        inst.ok(&["volume", "ls", "-q", "-f", "label=team=a"]),
        "v1\n"
    );
    assert_eq!(
        inst.ok(&["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "v1"]),
        "v1 local\n"
    );
    let out = inst.run(&["volume", "inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such volume"));
    let out = inst.run(&["volume", "create", "bad/name"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("invalid characters"));
    // A user-created volume is named: plain prune keeps it, prune -a removes it.
    inst.ok(&["volume", "prune", "-f"]);
    assert_eq!(volume_names(&inst).len(), 2);
    inst.ok(&["volume", "prune", "-f", "-a"]);
    assert!(volume_names(&inst).is_empty());
    assert_eq!(
        inst.run(&["volume", "rm", "-f", "gone"]).status.code(),
        Some(0)
    );
}

/// A tmpfs the test mounts on a host directory (a submount of a bind source); unmounted on
/// drop, also when the test fails.
struct Submount(PathBuf);

impl Submount {
    fn new(at: &Path) -> Submount {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "ebrun-test-sub"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {}", at.display());
        std::fs::write(at.join("in-sub"), "sub\n").unwrap();
        Submount(at.to_path_buf())
    }
}

impl Drop for Submount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Runs `sh -c SCRIPT` with `mount_args`; returns (exit code, stdout + stderr).
fn run_sh(inst: &Instance, mount_args: &[&str], script: &str) -> (Option<i32>, String) {
    let mut args = vec!["run", "--rm", "--net", "none"];
    args.extend_from_slice(mount_args);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    let out = inst.run(&args);
    (
        out.status.code(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)),
    )
}

#[test]
fn read_only_binds_are_recursively_read_only_with_dockers_bind_recursive_options() {
    let inst = Instance::with_busybox();
    let host = host_dir();
    std::fs::write(host.path().join("top"), "top\n").unwrap();
    let _sub = Submount::new(&host.path().join("sub"));
    let src = host.path().to_str().unwrap();
    let write_both = "touch /c/new-top; echo top=$?; touch /c/sub/new-sub; echo sub=$?; \
                      cat /c/sub/in-sub";

    // -v :ro and --mount readonly: the submount is read-only too (EROFS inside it).
    for mount in [
        vec!["-v".to_string(), format!("{src}:/c:ro")],
        vec![
            "--mount".into(),
            format!("type=bind,src={src},dst=/c,readonly"),
        ],
        vec![
            "--mount".into(),
            format!("type=bind,src={src},dst=/c,readonly,bind-recursive=readonly"),
        ],
        vec![
            "--mount".into(),
            format!("type=bind,src={src},dst=/c,ro=true,bind-recursive=enabled"),
        ],
    ] {
        let args: Vec<&str> = mount.iter().map(String::as_str).collect();
        let (code, out) = run_sh(&inst, &args, write_both);
        assert_eq!(code, Some(0), "{mount:?}: {out}");
        assert!(
            out.contains("top=1") && out.contains("sub=1"),
            "{mount:?}: {out}"
        );
        assert!(out.contains("Read-only file system"), "{mount:?}: {out}");
        assert!(out.contains("sub\n"), "the submount is there: {out}");
    }
    assert!(!host.path().join("new-top").exists());
    assert!(!host.path().join("sub/new-sub").exists());

    // writable: the bind is read-only, its submount is not.
    let (code, out) = run_sh(
        &inst,
        &[
            "--mount",
            &format!("type=bind,src={src},dst=/c,readonly,bind-recursive=writable"),
        ],
        write_both,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("top=1") && out.contains("sub=0"), "{out}");
    assert!(
        host.path().join("sub/new-sub").exists(),
        "written through the submount"
    );

    // disabled: the submount is not bound at all (its mount point is an empty directory).
    let (code, out) = run_sh(
        &inst,
        &[
            "--mount",
            &format!("type=bind,src={src},dst=/c,bind-recursive=disabled"),
        ],
        "ls -A /c/sub | wc -l; cat /c/top",
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "0\ntop\n");

    // A plain read-write bind keeps the submount writable.
    let (code, out) = run_sh(&inst, &["-v", &format!("{src}:/c")], write_both);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("top=0") && out.contains("sub=0"), "{out}");

    // Docker's errors: a bad value, and writable/readonly without readonly.
    for (value, expect) in [
        (
            format!("type=bind,src={src},dst=/c,bind-recursive=sometimes"),
            "invalid bind-recursive value \"sometimes\" (allowed: enabled, disabled, writable, readonly)",
        ),
        (
            format!("type=bind,src={src},dst=/c,bind-recursive=writable"),
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction",
        ),
        (
            "type=volume,dst=/c,bind-recursive=readonly".to_string(),
            "field bind-recursive is not allowed for this type",
        ),
    ] {
        let out = inst.run(&["run", "--rm", "--mount", &value, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{value}");
        assert!(stderr(&out).contains(expect), "{value}: {}", stderr(&out));
    }
    assert_eq!(inst.ok(&["ps", "-aq"]), "");
    assert_eq!(volume_names(&inst), Vec::<String>::new());
}
