//! Crash at every step of create, start, stop and rm (`EBRUN_FAULT_AT` makes ebrun SIGKILL
//! itself at a named point): the next ebrun command reconciles, and the container either
//! exists completely or not at all, with nothing orphaned.

use ebrun_tests::common;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use common::Instance;

/// Runs ebrun with a fault point armed; asserts it was killed there.
fn crash_at(inst: &Instance, point: &str, args: &[&str]) {
    let out = inst
        .command(args)
        .env("EBRUN_FAULT_AT", point)
        .output()
        .expect("spawn ebrun");
    let killed = out.status.signal() == Some(libc::SIGKILL)
        // `run -d`: the monitor (which starts the container) died, the CLI reports it.
        || (args.contains(&"-d") && out.status.code() == Some(125));
    assert!(
        killed,
        "{point}: ebrun was not killed: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn container_dirs(inst: &Instance) -> Vec<PathBuf> {
    std::fs::read_dir(inst.root().join("containers"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// Cgroup directories of containers under this instance's prefix, in every hierarchy.
fn container_cgroups(inst: &Instance) -> Vec<PathBuf> {
    let prefix = inst.prefix();
    common::cgroup_bases()
        .into_iter()
        .flat_map(|b| {
            std::fs::read_dir(b.join(&prefix))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Links enslaved to this instance's default bridge (the containers' veths).
fn bridge_ports(inst: &Instance) -> String {
    let bridge = format!("{}0", inst.prefix());
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", &bridge])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// After reconciliation: either no container, or one that `rm -f` removes completely.
fn assert_all_or_nothing(inst: &Instance, point: &str) {
    let listed = inst.ok(&["ps", "-a", "-q", "--no-trunc"]);
    let dirs = container_dirs(inst);
    assert_eq!(
        listed.lines().count(),
        dirs.len(),
        "{point}: listed {listed:?} but dirs {dirs:?}"
    );
    for id in listed.lines() {
        let dir = inst.root().join("containers").join(id);
        assert!(
            dir.join("config.json").exists(),
            "{point}: half a container"
        );
        inst.ok(&["rm", "-f", "-v", id]);
    }
    assert!(
        container_dirs(inst).is_empty(),
        "{point}: {:?}",
        container_dirs(inst)
    );
    assert!(
        container_cgroups(inst).is_empty(),
        "{point}: cgroups left {:?}",
        container_cgroups(inst)
    );
    // The kernel deletes a container's veth with its network namespace, in the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !bridge_ports(inst).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(bridge_ports(inst), "", "{point}: veths left on the bridge");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(inst.root().to_str().unwrap()),
        "{point}: mounts left"
    );
    assert_eq!(
        inst.ok(&["volume", "ls", "-q"]),
        "",
        "{point}: anonymous volumes left"
    );
}

#[test]
fn a_crash_at_any_step_of_create_or_start_leaves_all_or_nothing() {
    let inst = Instance::with_busybox();
    // The instance's lifetime objects (bridge, firewall table, meters) come up first.
    inst.ok(&["run", "--rm", "-p", "127.0.0.1::80", "busybox", "true"]);
    for point in [
        "create:dir",
        "create:config",
        "start:cgroups",
        "start:spawned",
        "start:network",
        "start:state",
    ] {
        crash_at(
            &inst,
            point,
            &[
                "run",
                "--name",
                "crashy",
                "-p",
                "127.0.0.1::80",
                "-v",
                "/data",
                "busybox",
                "sleep",
                "60",
            ],
        );
        assert_all_or_nothing(&inst, point);
        crash_at(
            &inst,
            point,
            &[
                "run", "-d", "--name", "crashy-d", "-v", "/data", "busybox", "sleep", "60",
            ],
        );
        assert_all_or_nothing(&inst, &format!("{point} (detached)"));
    }
}

#[test]
fn a_crash_during_stop_or_rm_is_finished_by_the_next_command() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 3' TERM; while true; do sleep 0.1; done",
    ]);
    crash_at(&inst, "stop:signalled", &["stop", "victim"]);
    assert_eq!(inst.ok(&["wait", "victim"]).trim(), "3");
    for point in ["rm:marked", "rm:undone"] {
        crash_at(&inst, point, &["rm", "victim"]);
        // The next command finishes the removal.
        assert_eq!(inst.ok(&["ps", "-a", "-q"]), "", "{point}");
        assert_all_or_nothing(&inst, point);
        inst.ok(&[
            "run",
            "--name",
            "victim",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "true",
        ]);
    }
    inst.ok(&["rm", "victim"]);
    assert_all_or_nothing(&inst, "end");
}

// ---------------------------------------------------------------------------------------
// A full disk and corrupted state files: clear diagnostics, no panic, nothing else affected.

/// What this instance's containers hold on the host: cgroup dirs, veths on the default
/// bridge, published-port rules, per-container BPF links, ebrun processes, mounts under the
/// root (other than the root itself, which may be a tmpfs the test mounted).
fn footprint(inst: &Instance) -> Vec<String> {
    let prefix = inst.prefix();
    let root = inst.root().to_string_lossy().into_owned();
    let mut found: Vec<String> = container_cgroups(inst)
        .into_iter()
        .map(|p| format!("cgroup {}", p.display()))
        .collect();
    found.extend(bridge_ports(inst).lines().map(|l| {
        // "12: vethX@if11: <...>": the name only (flags change with the carrier).
        format!("veth {}", l.split(": ").nth(1).unwrap_or(l))
    }));
    let rules = std::process::Command::new("nft")
        .args(["-a", "list", "chain", "inet", &prefix, "published"])
        .output()
        .unwrap();
    found.extend(
        String::from_utf8_lossy(&rules.stdout)
            .lines()
            .filter(|l| l.contains("comment"))
            .map(|l| format!("rule {}", l.trim())),
    );
    if let Ok(links) = std::fs::read_dir(format!("/sys/fs/bpf/{prefix}/links")) {
        found.extend(
            links
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("cg"))
                .map(|n| format!("bpf link {n}")),
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    found.extend(
        mountinfo
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|m| m.starts_with(&root) && m != root)
            })
            .map(|l| format!("mount {l}")),
    );
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        if entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&root) {
                found.push(format!("process {}", cmdline.trim()));
            }
        }
    }
    found.sort();
    found
}

/// Waits (up to 10 s) for the kernel's background clean-up (a veth goes after its network
/// namespace), then returns the footprint.
fn settled_footprint(inst: &Instance, expected: &[String]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = footprint(inst);
        if now == expected || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Every file under `dir` whose name contains `needle` (temp files left behind).
fn files_named(dir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_named(&path, needle));
        } else if e.file_name().to_string_lossy().contains(needle) {
            out.push(path);
        }
    }
    out
}

/// An instance whose root is a small tmpfs, so that its disk can be filled; the tmpfs is
/// unmounted (after the instance's teardown) on drop, also when the test fails.
struct SmallDisk {
    inst: Instance,
}

impl SmallDisk {
    fn new(size: &str) -> SmallDisk {
        let inst = Instance::new();
        let target = std::ffi::CString::new(inst.root().to_str().unwrap()).unwrap();
        let data = std::ffi::CString::new(format!("size={size},mode=0711")).unwrap();
        // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c"ebrun-test-tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount a tmpfs: {}", std::io::Error::last_os_error());
        let disk = SmallDisk { inst };
        disk.inst.ok(&[
            "image",
            "import",
            common::image_layout("busybox").to_str().unwrap(),
            "busybox:latest",
        ]);
        disk
    }

    fn filler(&self) -> PathBuf {
        self.inst.root().join("filler")
    }

    /// Fills the disk, then frees `leave` bytes (whole pages).
    fn fill(&self, leave: u64) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(leave)).unwrap();
    }

    fn unfill(&self) {
        let _ = std::fs::remove_file(self.filler());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        self.unfill(); // a failed test may have left the disk full
        let _ = self.inst.run(&["system", "teardown"]);
        let target = std::ffi::CString::new(self.inst.root().to_str().unwrap()).unwrap();
        // SAFETY: umount2(2) with a NUL-terminated path that outlives the call.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn id_of(inst: &Instance, name: &str) -> String {
    inst.ok(&["inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_string()
}

#[test]
fn a_full_disk_fails_cleanly_and_damages_no_existing_container() {
    let disk = SmallDisk::new("8m");
    let inst = &disk.inst;
    let root = inst.root().to_string_lossy().into_owned();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "keep",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "300",
    ]);
    // Long lines: on a full disk, an entry is cut short where the log's last page ends.
    let talk = format!(
        "i=0; while true; do echo line $i {}; i=$((i+1)); sleep 0.01; done",
        "x".repeat(300)
    );
    inst.ok(&[
        "run", "-d", "--name", "talker", "busybox", "sh", "-c", &talk,
    ]);
    let keep = inst.root().join("containers").join(id_of(inst, "keep"));
    let talker = inst.root().join("containers").join(id_of(inst, "talker"));
    let before = footprint(inst);
    let config = std::fs::read(keep.join("config.json")).unwrap();
    let state = std::fs::read(keep.join("state.json")).unwrap();
    // The running container's files stay byte for byte, and no temp file is left.
    let assert_untouched = |case: &str| {
        assert_eq!(
            files_named(inst.root(), ".tmp"),
            Vec::<PathBuf>::new(),
            "{case}"
        );
        assert_eq!(
            std::fs::read(keep.join("config.json")).unwrap(),
            config,
            "{case}"
        );
        assert_eq!(
            std::fs::read(keep.join("state.json")).unwrap(),
            state,
            "{case}"
        );
    };

    for leave in [0, 4096] {
        for args in [
            &[
                "run",
                "--rm",
                "-p",
                "127.0.0.1::8080",
                "-v",
                "/data",
                "busybox",
                "true",
            ][..],
            &[
                "run",
                "-d",
                "--name",
                "new",
                "-p",
                "127.0.0.1::8081",
                "busybox",
                "sleep",
                "60",
            ],
            &["run", "--name", "fg", "-v", "/data", "busybox", "true"],
        ] {
            disk.fill(leave);
            let out = inst.run(args);
            disk.unfill();
            let stderr = stderr_of(&out);
            let case = format!("{args:?} with {leave} bytes free");
            assert_eq!(out.status.code(), Some(125), "{case}: {stderr}");
            assert!(
                stderr.contains("no space left on device") && stderr.contains(&root),
                "{case}: the diagnostic names the cause and the file: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
            assert_eq!(settled_footprint(inst, &before), before, "{case}: leak");
            let mut dirs = container_dirs(inst);
            dirs.sort();
            let mut expected = vec![keep.clone(), talker.clone()];
            expected.sort();
            assert_eq!(dirs, expected, "{case}: a container directory left");
            assert_untouched(&case);
        }
    }

    // Changes to an existing container fail as a whole: the old state and config files stay
    // byte for byte (a write is a temp file renamed over the old one, never in place), and
    // the container runs on.
    // With one page free, the state file (over 4 KiB) is written in part, then dropped.
    let config_writes: [&[&str]; 2] = [
        &["rename", "keep", "kept"],
        &["update", "-m", "64m", "keep"],
    ];
    let state_writes: [&[&str]; 2] = [&["stop", "-t", "1", "keep"], &["pause", "keep"]];
    assert!(state.len() > 4096);
    for (leave, args) in state_writes
        .iter()
        .chain(&config_writes)
        .map(|a| (0, *a))
        .chain(state_writes.iter().map(|a| (4096, *a)))
    {
        {
            disk.fill(leave);
            let out = inst.run(args);
            disk.unfill();
            let stderr = stderr_of(&out);
            let case = format!("{args:?} with {leave} bytes free");
            assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
            assert!(
                stderr.contains("no space left on device")
                    && stderr.contains(&*keep.to_string_lossy()),
                "{case}: the diagnostic names the cause and the file: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
            assert_untouched(&case);
            let ps = inst.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
            assert!(ps.contains("keep Up"), "{case}: {ps}");
        }
    }

    // An image import that runs out of space says so (not a digest mismatch of what it
    // managed to read), and leaves no partial layer or blob behind.
    let images_before = inst.ok(&["images", "-q"]);
    let layers_before = std::fs::read_dir(inst.root().join("image/layers"))
        .unwrap()
        .count();
    disk.fill(0);
    let out = inst.run(&[
        "image",
        "import",
        common::image_layout("debian-tools").to_str().unwrap(),
        "tools:latest",
    ]);
    disk.unfill();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("no space left on device") && stderr.contains(&root),
        "{stderr}"
    );
    assert_eq!(inst.ok(&["images", "-q"]), images_before);
    assert_eq!(
        std::fs::read_dir(inst.root().join("image/layers"))
            .unwrap()
            .count(),
        layers_before
    );
    assert_eq!(files_named(inst.root(), ".tmp"), Vec::<PathBuf>::new());

    // Commands that only read work on a full disk.
    disk.fill(0);
    let ps = inst.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("keep Up") && ps.contains("talker Up"), "{ps}");
    // A container that ends while the disk is full is still listed, as exited (with 137, or
    // 255 when its monitor could not record the code); its state file is whole.
    let pid: i32 = inst
        .ok(&["inspect", "-f", "{{.State.Pid}}", "keep"])
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) of the container process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut ps = String::new();
    while std::time::Instant::now() < deadline {
        ps = inst.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        if ps.contains("keep Exited (") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ps.contains("keep Exited ("), "{ps}");
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(keep.join("state.json")).unwrap())
            .expect("the state file is whole");
    assert!(on_disk.is_object());
    // Its cgroups, port rule and veth went with its process (the talker's veth stays).
    let keep_id = keep.file_name().unwrap().to_string_lossy().into_owned();
    let keeps = |f: &[String]| -> Vec<String> {
        f.iter()
            .filter(|l| l.contains(&keep_id) || l.starts_with("rule"))
            .cloned()
            .collect()
    };
    let veths = |f: &[String]| f.iter().filter(|l| l.starts_with("veth")).count();
    assert_eq!(veths(&before), 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut now = footprint(inst);
    while (!keeps(&now).is_empty() || veths(&now) != 1) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        now = footprint(inst);
    }
    assert_eq!(
        keeps(&now),
        Vec::<String>::new(),
        "the exited container's host objects"
    );
    assert_eq!(veths(&now), 1, "the exited container's veth: {now:?}");
    // The log has lost lines while the disk was full, but holds whole entries only.
    std::thread::sleep(std::time::Duration::from_millis(200));
    disk.unfill();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read_to_string(talker.join(format!(
        "{}-json.log",
        talker.file_name().unwrap().to_string_lossy()
    )))
    .unwrap();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a broken log entry {line:?}: {e}"));
        assert!(
            entry["log"].as_str().unwrap().starts_with("line "),
            "{line}"
        );
    }
    // Removal works on a full disk, of a running container too (it frees the space).
    disk.fill(0);
    let out = inst.run(&["rm", "-f", "keep", "talker"]);
    disk.unfill();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(settled_footprint(inst, &[]), Vec::<String>::new());
    assert_eq!(container_dirs(inst), Vec::<PathBuf>::new());
    assert_eq!(
        inst.ok(&[
            "run",
            "--rm",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "echo",
            "ok"
        ])
        .trim(),
        "ok"
    );
}

#[test]
fn a_corrupt_container_file_breaks_only_that_container() {
    let inst = Instance::with_busybox();
    let containers = inst.root().join("containers");
    inst.ok(&["run", "-d", "--name", "good", "busybox", "sleep", "300"]);
    let before = footprint(&inst);
    // Running containers with a port, a volume and meters, whose config or state is then
    // truncated or replaced with garbage; a stopped one whose config is empty.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "badcfg",
        "-p",
        "127.0.0.1::80",
        "-v",
        "/data",
        "busybox",
        "sleep",
        "300",
    ]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "badstate",
        "-p",
        "127.0.0.1::81",
        "busybox",
        "sleep",
        "300",
    ]);
    inst.ok(&["run", "--name", "emptycfg", "busybox", "true"]);
    let host_port = |name: &str| -> String {
        let port = inst.ok(&["port", name]);
        port.trim().rsplit(':').next().unwrap().to_string()
    };
    let ports = [host_port("badcfg"), host_port("badstate")];
    let badcfg = id_of(&inst, "badcfg");
    let badstate = id_of(&inst, "badstate");
    inst.ok(&["pause", "badstate"]); // frozen processes must be thawed to be killed
    let emptycfg = id_of(&inst, "emptycfg");
    std::fs::write(
        containers.join(&badcfg).join("config.json"),
        b"{\"id\": \"garb",
    )
    .unwrap();
    let state = std::fs::read(containers.join(&badstate).join("state.json")).unwrap();
    std::fs::write(
        containers.join(&badstate).join("state.json"),
        &state[..state.len() / 2],
    )
    .unwrap();
    std::fs::write(containers.join(&emptycfg).join("config.json"), b"").unwrap();
    std::fs::create_dir(containers.join("not-a-container")).unwrap();
    std::fs::write(containers.join("stray-file"), b"").unwrap();

    // `ps -a` lists the good one and warns about each broken one by name.
    let out = inst.run(&["ps", "-a", "--format", "{{.Names}}"]);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "good");
    for broken in [&badcfg, &badstate, &emptycfg] {
        assert!(
            stderr.contains(&format!("WARNING: container {broken} is unreadable")),
            "{broken}: {stderr}"
        );
    }
    assert!(
        stderr.contains("not-a-container") && stderr.contains("stray-file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Commands on a broken container fail with Docker's exit code and name the bad file;
    // without -f, rm refuses (it cannot tell whether the container runs).
    for (args, file) in [
        (vec!["inspect", &badcfg[..12]], "config.json"),
        (vec!["inspect", "badstate"], "state.json"),
        (vec!["start", "badstate"], "state.json"),
        (vec!["start", &emptycfg], "config.json"),
        (vec!["stop", &badcfg], "config.json"),
        (vec!["logs", &emptycfg[..12]], "config.json"),
        (vec!["rm", &badcfg], "config.json"),
        (vec!["rm", "badstate"], "state.json"),
    ] {
        let out = inst.run(&args);
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(file) && stderr.contains("corrupt") && stderr.contains("rm -f"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert_eq!(
        inst.ok(&["inspect", "-f", "{{.State.Status}}", "good"])
            .trim(),
        "running"
    );

    // `rm -f` removes each broken container completely: processes (and its monitor),
    // cgroups, veth, port rule, meters, endpoint and directory.
    inst.ok(&["rm", "-f", &badcfg[..12], "badstate", &emptycfg]);
    assert_eq!(
        settled_footprint(&inst, &before),
        before,
        "rm -f left objects"
    );
    for id in [&badcfg, &badstate, &emptycfg] {
        assert!(!containers.join(id).exists(), "{id}: directory left");
    }
    let endpoints = inst.root().join("network").join("endpoints");
    for id in [&badcfg, &badstate] {
        assert!(
            !endpoints.join(format!("{id}.json")).exists(),
            "{id}: network endpoint left"
        );
    }
    // Their host ports are free again, and everything else works as before.
    for port in &ports {
        inst.ok(&[
            "run",
            "--rm",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "true",
        ]);
    }
    assert_eq!(inst.ok(&["exec", "good", "echo", "hi"]).trim(), "hi");
    inst.ok(&["stop", "-t", "1", "good"]);
    inst.ok(&["rm", "good"]);
    let out = inst.run(&["ps", "-a", "-q"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // The stray entries are the user's: warned about, never deleted.
    assert!(containers.join("not-a-container").is_dir());
    assert!(containers.join("stray-file").is_file());
    std::fs::remove_dir(containers.join("not-a-container")).unwrap();
    std::fs::remove_file(containers.join("stray-file")).unwrap();
    assert_eq!(settled_footprint(&inst, &[]), Vec::<String>::new());

    // A state file left unreadable by a power loss (it is written without fsync) from before
    // this boot describes nothing that still exists: the container reads as not running.
    inst.ok(&["run", "--name", "oldboot", "busybox", "true"]);
    let oldboot = containers.join(id_of(&inst, "oldboot")).join("state.json");
    std::fs::write(&oldboot, b"").unwrap();
    let before_boot = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    std::fs::File::options()
        .write(true)
        .open(&oldboot)
        .unwrap()
        .set_modified(before_boot)
        .unwrap();
    let out = inst.run(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "oldboot created"
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    inst.ok(&["start", "oldboot"]);
    assert_eq!(inst.ok(&["wait", "oldboot"]).trim(), "0");
    inst.ok(&["rm", "oldboot"]);

    // A config deleted from under a running container: the next command takes it as an
    // interrupted create, and undoes all of it.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "noconfig",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "300",
    ]);
    let noconfig = id_of(&inst, "noconfig");
    std::fs::remove_file(containers.join(&noconfig).join("config.json")).unwrap();
    assert_eq!(inst.ok(&["ps", "-a", "-q"]), "");
    assert!(!containers.join(&noconfig).exists());
    assert_eq!(settled_footprint(&inst, &[]), Vec::<String>::new());

    // `system teardown` takes a broken running container with the rest.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "last",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "300",
    ]);
    let last = id_of(&inst, "last");
    std::fs::write(containers.join(&last).join("config.json"), b"garbage").unwrap();
    inst.ok(&["system", "teardown"]);
    assert_eq!(settled_footprint(&inst, &[]), Vec::<String>::new());
    assert_eq!(inst.host_objects(), Vec::<String>::new());
}

/// The record files of networks, endpoints, volumes and images under `root`.
fn record_files(root: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut add = |dir: PathBuf, nested: Option<&str>| {
        for e in std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            let path = match nested {
                Some(name) => e.path().join(name),
                None => e.path(),
            };
            if path.is_file() && path.to_string_lossy().ends_with(".json") {
                files.push(path);
            }
        }
    };
    add(root.join("network/networks"), None);
    add(root.join("network/endpoints"), None);
    add(root.join("volumes"), Some("volume.json"));
    add(root.join("image/images"), None);
    add(root.join("image/layers"), Some("layer.json"));
    files.push(root.join("image/repositories.json"));
    files.sort();
    files
}

#[test]
fn a_corrupt_network_volume_or_image_record_is_named_and_never_panics() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "network",
        "create",
        "--subnet",
        "10.213.47.0/24",
        "faultnet",
    ]);
    inst.ok(&["volume", "create", "faultvol"]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "faultnet",
        "-v",
        "faultvol:/d",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        "echo kept > /d/marker; sleep 300",
    ]);
    inst.ok(&["run", "-d", "--name", "c2", "busybox", "sleep", "300"]);
    let marker = inst.root().join("volumes/faultvol/_data/marker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let files = record_files(inst.root());
    assert!(files.len() >= 8, "{files:?}");
    let commands: [&[&str]; 8] = [
        &["ps", "-a"],
        &["images"],
        &["network", "ls"],
        &["network", "inspect", "faultnet"],
        &["volume", "ls"],
        &["volume", "inspect", "faultvol"],
        &["inspect", "c1"],
        &[
            "run",
            "--rm",
            "--network",
            "faultnet",
            "-v",
            "faultvol:/d",
            "busybox",
            "cat",
            "/d/marker",
        ],
    ];
    for file in &files {
        let original = std::fs::read(file).unwrap();
        for (kind, bad) in [
            ("truncated", &original[..original.len() / 2]),
            ("empty", &b""[..]),
            ("garbage", &b"\x00\xffnot json"[..]),
        ] {
            std::fs::write(file, bad).unwrap();
            for args in commands {
                let out = inst.run(args);
                let stderr = stderr_of(&out);
                let case = format!("{} {kind}, {args:?}", file.display());
                assert!(!stderr.contains("panicked"), "{case}: {stderr}");
                let code = out.status.code();
                assert!(
                    matches!(code, Some(0 | 1 | 125)),
                    "{case}: {code:?} {stderr}"
                );
                if code != Some(0) {
                    assert!(
                        stderr.contains(&*file.to_string_lossy()),
                        "{case}: the error names the broken file: {stderr}"
                    );
                }
                assert!(marker.exists(), "{case}: the volume's data is gone");
            }
            std::fs::write(file, &original).unwrap();
        }
    }
    // An unreadable record was never replaced by a second one of the same network.
    let bridges = std::fs::read_dir(inst.root().join("network/networks"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(e.path()).ok()?).ok()
        })
        .filter(|n| n["name"] == "bridge")
        .count();
    assert_eq!(bridges, 1, "records of the default bridge");
    // With every record whole again, everything works as before.
    assert_eq!(
        inst.ok(&[
            "run",
            "--rm",
            "--network",
            "faultnet",
            "-v",
            "faultvol:/d",
            "busybox",
            "cat",
            "/d/marker",
        ])
        .trim(),
        "kept"
    );
    let ps = inst.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(ps.contains("c1") && ps.contains("c2"), "{ps}");
    inst.ok(&["rm", "-f", "c1", "c2"]);
    inst.ok(&["volume", "rm", "faultvol"]);
    inst.ok(&["network", "rm", "faultnet"]);
    assert_eq!(settled_footprint(&inst, &[]), Vec::<String>::new());
}

#[test]
fn a_disk_running_out_at_any_step_of_run_leaves_nothing_behind() {
    let disk = SmallDisk::new("8m");
    let inst = &disk.inst;
    let root = inst.root().to_string_lossy().into_owned();
    // The instance's lifetime objects (bridge, firewall table, meters) come up first.
    inst.ok(&["run", "--rm", "-p", "127.0.0.1::80", "busybox", "true"]);
    let before = footprint(inst);
    for detached in [true, false] {
        // One more page free each round: the disk runs out at every step of create and
        // start in turn, until the run succeeds.
        let mut successes = 0;
        for pages in 0..48u64 {
            let mut args = vec![
                "run",
                "--name",
                "sweep",
                "-p",
                "127.0.0.1::80",
                "-v",
                "/data",
            ];
            args.extend(match detached {
                true => &["-d", "busybox", "sleep", "60"][..],
                false => &["--rm", "busybox", "echo", "done"][..],
            });
            disk.fill(pages * 4096);
            let out = inst.run(&args);
            disk.unfill();
            let stderr = stderr_of(&out);
            let case = format!("{args:?} with {pages} pages free");
            assert!(!stderr.contains("panicked"), "{case}: {stderr}");
            if out.status.success() {
                successes += 1;
            } else {
                let cause = stderr.lines().last().unwrap_or_default().to_string();
                eprintln!("{pages} pages free: {}", cause.replace(&root, "ROOT"));
                assert_eq!(out.status.code(), Some(125), "{case}: {stderr}");
                assert!(
                    stderr.to_lowercase().contains("no space left on device")
                        && stderr.contains(&root),
                    "{case}: the diagnostic names the cause and the file: {stderr}"
                );
            }
            // As with Docker, a container whose start failed may stay created: then whole,
            // listed and removable.
            let listed = inst.ok(&["ps", "-a", "-q"]);
            assert_eq!(listed.lines().count(), container_dirs(inst).len(), "{case}");
            if !listed.is_empty() {
                inst.ok(&["rm", "-f", "-v", "sweep"]);
            }
            assert_eq!(settled_footprint(inst, &before), before, "{case}: leak");
            assert_eq!(container_dirs(inst), Vec::<PathBuf>::new(), "{case}");
            assert_eq!(inst.ok(&["volume", "ls", "-q"]), "", "{case}: volumes left");
            assert_eq!(
                files_named(inst.root(), ".tmp"),
                Vec::<PathBuf>::new(),
                "{case}"
            );
            if successes == 3 {
                break;
            }
        }
        assert_eq!(successes, 3, "detached {detached}: the run never succeeded");
    }
}
