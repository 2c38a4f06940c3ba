//! `ebrun run` end to end: namespaces, the overlay root, exit codes, the process's
//! environment, and nothing left behind.

use ebrun_tests::common;
use ebrun_tests::common::{stderr, stdout};

use std::path::PathBuf;

use common::Instance;
use serde_json::Value;

/// The container's cgroup directories under every hierarchy, whether or not they exist.
fn cgroup_dirs(inst: &Instance, id: &str) -> Vec<PathBuf> {
    let prefix = inst.prefix();
    common::cgroup_bases()
        .into_iter()
        .map(|b| b.join(&prefix).join(id))
        .collect()
}

/// Asserts that no trace of a container remains: directory, cgroups, mounts, processes.
fn assert_container_gone(inst: &Instance, id: &str) {
    assert!(
        !inst.root().join("containers").join(id).exists(),
        "container directory left behind"
    );
    for dir in cgroup_dirs(inst, id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(inst.root().to_str().unwrap()),
        "mount left behind under the root"
    );
}

/// Every container id that exists in this instance.
fn container_ids(inst: &Instance) -> Vec<String> {
    std::fs::read_dir(inst.root().join("containers"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pid_1_is_the_command_and_host_processes_are_invisible() {
    let inst = Instance::with_busybox();
    assert_eq!(
        inst.ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$"])
            .trim(),
        "1"
    );
    let ps = inst.ok(&["run", "--rm", "busybox", "ps", "-o", "pid,comm"]);
    let lines: Vec<&str> = ps.lines().skip(1).collect();
    assert_eq!(lines.len(), 1, "only ps itself is visible: {ps}");
    assert!(lines[0].trim().starts_with("1 "), "{ps}");
}

#[test]
fn hostname_is_set_and_defaults_to_the_short_id() {
    let inst = Instance::with_busybox();
    assert_eq!(
        inst.ok(&["run", "--rm", "-h", "web01", "busybox", "hostname"])
            .trim(),
        "web01"
    );
    assert_eq!(
        inst.ok(&[
            "run",
            "--rm",
            "--hostname",
            "db",
            "busybox",
            "cat",
            "/etc/hostname"
        ])
        .trim(),
        "db"
    );
    inst.ok(&["run", "--name", "named", "busybox", "true"]);
    let id = inst.inspect("named")["Id"].as_str().unwrap().to_string();
    let out = inst.ok(&["run", "--name", "h2", "busybox", "hostname"]);
    let id2 = inst.inspect("h2")["Id"].as_str().unwrap().to_string();
    assert_eq!(out.trim(), &id2[..12]);
    assert_ne!(id, id2);
}

#[test]
fn host_mounts_are_invisible_and_root_is_overlay() {
    let inst = Instance::with_busybox();
    let mounts = inst.ok(&["run", "--rm", "busybox", "cat", "/proc/self/mountinfo"]);
    // Exactly the container's own mount points: no host mount is visible.
    let mut points: Vec<&str> = mounts.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    points.sort();
    points.dedup();
    // The container's own cgroups (one mount per host hierarchy below /sys/fs/cgroup on v1 and
    // hybrid hosts; see in_container_view.rs for what they show), and Docker 28's masked
    // per-CPU thermal_throttle directories where the host has them.
    assert!(points.contains(&"/sys/fs/cgroup"), "{mounts}");
    let thermal =
        |p: &str| p.starts_with("/sys/devices/system/cpu/cpu") && p.ends_with("/thermal_throttle");
    points.retain(|p| !p.starts_with("/sys/fs/cgroup") && !thermal(p));
    let mut expected = vec![
        "/",
        "/dev",
        "/dev/mqueue",
        "/dev/pts",
        "/dev/shm",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/proc",
        "/sys",
    ];
    // Docker's masked and read-only paths, where this kernel has them.
    for p in [
        "/proc/acpi",
        "/proc/asound",
        "/proc/bus",
        "/proc/fs",
        "/proc/interrupts",
        "/proc/irq",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ] {
        if std::path::Path::new(p).exists() {
            expected.push(p);
        }
    }
    expected.sort();
    assert_eq!(points, expected, "{mounts}");
    let root_line = mounts
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a mount at /");
    assert!(root_line.contains(" - overlay "), "{root_line}");
    for path in [
        "/proc ",
        "/sys ",
        "/dev ",
        "/dev/pts ",
        "/dev/shm ",
        "/dev/mqueue ",
    ] {
        assert!(mounts.contains(path), "{path} missing:\n{mounts}");
    }
}

#[test]
fn overlay_shows_layers_whiteouts_and_keeps_writes_in_the_upper_dir() {
    let inst = Instance::with_busybox();
    assert_eq!(
        inst.ok(&["run", "--rm", "busybox", "cat", "/hello.txt"]),
        "hello from layer 2\n"
    );
    // Whited out by layer 2; /etc/opaque was made opaque and only holds layer 2's file.
    let out = inst.run(&["run", "--rm", "busybox", "test", "-e", "/etc/deleteme"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        inst.ok(&["run", "--rm", "busybox", "ls", "/etc/opaque"])
            .trim(),
        "c"
    );

    inst.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo data > /newfile && rm /hello.txt",
    ]);
    let doc = inst.inspect("writer");
    let upper = PathBuf::from(doc["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(upper.join("newfile")).unwrap(),
        "data\n"
    );
    // The deletion is a whiteout in the upper dir; the layer itself is untouched.
    assert!(upper.join("hello.txt").exists());
    for lower in doc["GraphDriver"]["Data"]["LowerDir"]
        .as_str()
        .unwrap()
        .split(':')
    {
        assert!(!PathBuf::from(lower).join("newfile").exists());
    }
    // Another container from the same image sees none of it.
    assert_eq!(
        inst.ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "test -e /newfile || cat /hello.txt"
        ]),
        "hello from layer 2\n"
    );
    inst.ok(&["rm", "writer"]);
}

#[test]
fn exit_codes_follow_docker() {
    let inst = Instance::with_busybox();
    assert_eq!(
        inst.run(&["run", "--rm", "busybox", "true"]).status.code(),
        Some(0)
    );
    assert_eq!(
        inst.run(&["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );

    let out = inst.run(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("executable file not found in $PATH"),
        "{}",
        stderr(&out)
    );

    let out = inst.run(&["run", "--rm", "busybox", "/notexec.sh"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );

    let out = inst.run(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));

    let out = inst.run(&["run", "--rm", "nosuchimage:1.0", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Unable to find image 'nosuchimage:1.0' locally"),
        "{}",
        stderr(&out)
    );

    let out = inst.run(&["run", "--rm", "--name=-bad", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Invalid container name"),
        "{}",
        stderr(&out)
    );

    let out = inst.run(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("unable to find user nosuchuser"),
        "{}",
        stderr(&out)
    );

    let out = inst.run(&["run", "--rm", "--no-such-flag", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));

    // Every one of those was --rm or never created: nothing is left.
    assert!(
        container_ids(&inst).is_empty(),
        "{:?}",
        container_ids(&inst)
    );
    assert!(inst.host_objects().iter().all(|o| !o.starts_with("mount")));
}

#[test]
fn failed_start_without_rm_keeps_a_created_container_and_no_host_objects() {
    let inst = Instance::with_busybox();
    let out = inst.run(&["run", "--name", "broken", "busybox", "nosuchcommand"]);
    assert_eq!(out.status.code(), Some(127));
    let doc = inst.inspect("broken");
    assert_eq!(doc["State"]["Status"], "created");
    assert_eq!(doc["State"]["ExitCode"], 127);
    let id = doc["Id"].as_str().unwrap().to_string();
    for dir in cgroup_dirs(&inst, &id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
    inst.ok(&["rm", "broken"]);
    assert_container_gone(&inst, &id);
}

#[test]
fn rm_removes_everything_and_name_conflicts_are_refused() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "--name", "once", "busybox", "true"]);
    let id = inst.inspect("once")["Id"].as_str().unwrap().to_string();
    let out = inst.run(&["run", "--name", "once", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("is already in use by container"),
        "{}",
        stderr(&out)
    );
    assert_eq!(container_ids(&inst), vec![id.clone()]);
    // Unique id prefix addresses the container.
    assert_eq!(inst.ok(&["rm", &id[..5]]).trim(), &id[..5]);
    assert_container_gone(&inst, &id);
    let out = inst.run(&["rm", "once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("No such container: once"));
}

#[test]
fn rm_flag_leaves_nothing_behind() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /file; sleep 0.1 & true",
    ]);
    assert!(container_ids(&inst).is_empty());
    let prefix = inst.prefix();
    for base in common::cgroup_bases() {
        let parent = base.join(&prefix);
        let children: Vec<_> = std::fs::read_dir(&parent)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            children.is_empty(),
            "cgroups left under {}",
            parent.display()
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(inst.root().to_str().unwrap()));
}

#[test]
fn env_workdir_user_and_entrypoint_come_from_image_or_flags() {
    let inst = Instance::with_busybox();
    let env_file = inst.root().join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n\nB=file\n").unwrap();
    let env = inst.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "B=flag",
        "-h",
        "envhost",
        "busybox",
        "env",
    ]);
    for expected in [
        "A=1",
        "FROM_FILE=yes",
        "B=flag",
        "HOSTNAME=envhost",
        "HOME=/root",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing:\n{env}"
        );
    }
    assert_eq!(
        inst.ok(&["run", "--rm", "-w", "/tmp/new", "busybox", "pwd"])
            .trim(),
        "/tmp/new"
    );
    assert_eq!(inst.ok(&["run", "--rm", "busybox", "pwd"]).trim(), "/");
    assert_eq!(
        inst.ok(&["run", "--rm", "-u", "app", "busybox", "id"])
            .trim(),
        "uid=1000(app) gid=1000(app) groups=1000(app)"
    );
    assert_eq!(
        inst.ok(&["run", "--rm", "-u", "1000:0", "busybox", "id", "-g"])
            .trim(),
        "0"
    );
    assert_eq!(
        inst.ok(&[
            "run",
            "--rm",
            "-u",
            "app",
            "busybox",
            "sh",
            "-c",
            "echo $HOME"
        ])
        .trim(),
        "/home/app"
    );
    assert_eq!(
        inst.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"])
            .trim(),
        "a b"
    );
    // No command at all: the image's CMD (sh) runs and reads an empty stdin.
    assert_eq!(inst.ok(&["run", "--rm", "busybox"]), "");
}

#[test]
fn read_only_root_refuses_writes_but_tmpfs_dev_works() {
    let inst = Instance::with_busybox();
    let out = inst.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    inst.ok(&[
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "echo ok > /dev/shm/f",
    ]);
}

#[test]
fn default_security_settings_hold() {
    let inst = Instance::with_busybox();
    let status = inst.ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    // Docker's default capability set: 0x00000000a80425fb.
    assert_eq!(field("CapEff:"), "00000000a80425fb");
    assert_eq!(field("CapBnd:"), "00000000a80425fb");
    // Docker does not set no_new_privs unless asked (set-uid programs work).
    assert_eq!(field("NoNewPrivs:"), "0");
    assert_eq!(field("CapInh:"), "0000000000000000");
    let user = inst.ok(&[
        "run",
        "--rm",
        "-u",
        "app",
        "busybox",
        "cat",
        "/proc/self/status",
    ]);
    assert!(user.contains("CapEff:\t0000000000000000"), "{user}");
    // /proc/sys and /sys are read-only.
    let out = inst.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/domainname",
    ]);
    assert_ne!(out.status.code(), Some(0));
    // Masked: reads as empty.
    assert_eq!(
        inst.ok(&["run", "--rm", "busybox", "cat", "/proc/timer_list"]),
        ""
    );
    let out = inst.run(&["run", "--rm", "busybox", "touch", "/sys/x"]);
    assert_ne!(out.status.code(), Some(0));
    let devs = inst.ok(&["run", "--rm", "busybox", "ls", "/dev"]);
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd",
    ] {
        assert!(
            devs.split_whitespace().any(|x| x == d),
            "/dev/{d} missing: {devs}"
        );
    }
    assert!(
        !devs.split_whitespace().any(|x| x == "vda" || x == "kvm"),
        "{devs}"
    );
}

#[test]
fn tty_gives_the_process_a_terminal_of_its_own() {
    let inst = Instance::with_busybox();
    let out = inst.ok(&["run", "--rm", "-t", "busybox", "tty"]);
    assert_eq!(out.trim_end(), "/dev/pts/0");
    let out = inst.run(&["run", "--rm", "busybox", "tty"]);
    assert_eq!(stdout(&out).trim(), "not a tty");
    let out = inst.ok(&["run", "--rm", "-t", "busybox", "sh", "-c", "echo a; echo b"]);
    assert_eq!(out, "a\r\nb\r\n");
}

#[test]
fn signals_sent_to_ebrun_reach_the_container() {
    let inst = Instance::with_busybox();
    let mut child = inst
        .command(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: kill(2) on the pid of a child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(status.code(), Some(42));
}

/// Runs `n` executions of a script in a container named `name` (after the same prelude
/// whatever `n` is), and returns the exec counter's value for it.
fn execs_of_script_runs(inst: &Instance, name: &str, n: u32) -> u64 {
    let script = format!(
        "printf '#!/bin/sh\\n' > /tmp/s; chmod +x /tmp/s; i=0; \
         while [ $i -lt {n} ]; do /tmp/s; i=$((i+1)); done"
    );
    inst.ok(&["run", "--name", name, "busybox", "sh", "-c", &script]);
    let doc = inst.inspect(name);
    assert!(doc["Ebrun"]["CgroupId"].as_u64().unwrap() > 0, "{doc}");
    doc["Ebrun"]["Meters"]["Execs"]
        .as_u64()
        .expect("exec counter present")
}

#[test]
fn exec_counter_counts_execs_of_the_container_only() {
    let inst = Instance::with_busybox();
    // The container's own first exec is counted, and nothing else ran in it.
    inst.ok(&["run", "--name", "one", "busybox", "true"]);
    assert_eq!(inst.inspect("one")["Ebrun"]["Meters"]["Execs"], 1);
    // Each run of the script is exactly one execve: 10 more runs, 10 more execs.
    let few = execs_of_script_runs(&inst, "few", 3);
    let many = execs_of_script_runs(&inst, "many", 13);
    assert_eq!(many - few, 10, "few={few} many={many}");
    // Counters are per container and stay readable until rm.
    assert_eq!(inst.inspect("one")["Ebrun"]["Meters"]["Execs"], 1);
    // Programs, links and maps are pinned for this instance only.
    let pins = std::path::Path::new("/sys/fs/bpf").join(inst.prefix());
    assert!(pins.join("maps/EXEC_COUNT").exists());
    assert!(pins.join("links/exec_count").exists());
    inst.ok(&["rm", "one", "few", "many"]);
}

#[test]
fn a_container_killed_by_a_signal_exits_with_128_plus_the_signal() {
    let inst = Instance::with_busybox();
    let mut child = inst
        .command(&["run", "--rm", "--name", "victim", "busybox", "sleep", "60"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let pid = loop {
        let out = inst.run(&["inspect", "victim"]);
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            if let Some(pid) = v[0]["State"]["Pid"].as_i64().filter(|p| *p > 0) {
                break pid;
            }
        }
        assert!(std::time::Instant::now() < deadline, "container never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // SAFETY: kill(2) on the container's init, a process this test started via ebrun.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(child.wait().unwrap().code(), Some(137));
    assert!(container_ids(&inst).is_empty());
}

#[test]
fn teardown_leaves_no_host_object() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "--name", "kept", "busybox", "true"]);
    assert!(
        !inst.host_objects().is_empty(),
        "cgroup parents and pins exist while in use"
    );
    inst.ok(&["system", "teardown"]);
    assert_eq!(inst.host_objects(), Vec::<String>::new());
    assert!(container_ids(&inst).is_empty());
}

/// A user of this host with subordinate ids for the test, removed again on drop.
struct RemapUser {
    name: String,
    start: u32,
}

impl RemapUser {
    fn new(start: u32) -> RemapUser {
        let name = format!("ebrt{}", std::process::id() % 100_000);
        let status = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ])
            .status()
            .expect("run useradd");
        assert!(status.success(), "useradd {name}");
        let user = RemapUser { name, start };
        for file in ["/etc/subuid", "/etc/subgid"] {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .expect("open subordinate id file");
            std::io::Write::write_all(&mut f, format!("{}:{start}:65536\n", user.name).as_bytes())
                .unwrap();
        }
        user
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let kept: String = text
                .lines()
                .filter(|l| !l.starts_with(&format!("{}:", self.name)))
                .map(|l| format!("{l}\n"))
                .collect();
            if kept.is_empty() {
                let _ = std::fs::remove_file(file);
            } else {
                let _ = std::fs::write(file, kept);
            }
        }
        let _ = std::process::Command::new("userdel")
            .arg(&self.name)
            .status();
    }
}

#[test]
fn userns_remap_makes_the_containers_root_an_unprivileged_host_uid() {
    let inst = Instance::with_busybox();
    let user = RemapUser::new(310_000);
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"userns-remap": "{}"}}"#, user.name),
    )
    .unwrap();
    let bind = tempfile::tempdir().unwrap();
    // Writable by anyone: what the remapped root may write to on the host.
    std::fs::set_permissions(
        bind.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let volume = format!("{}:/b", bind.path().display());
    let out = inst.ok(&[
        "run",
        "--rm",
        "-v",
        &volume,
        "-v",
        "data:/v",
        "busybox",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /b/made /v/made; stat -c %u /etc/passwd",
    ]);
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    // Root inside, whose files inside are root's: the image's files belong to it.
    assert_eq!(
        lines,
        vec!["0", &format!("0 {} 65536", user.start), "0"],
        "{out}"
    );
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(bind.path().join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (user.start, user.start));
    let volume_data = inst.root().join("volumes/data/_data");
    assert_eq!(
        std::fs::metadata(volume_data.join("made")).unwrap().uid(),
        user.start
    );
    assert_eq!(std::fs::metadata(&volume_data).unwrap().uid(), user.start);

    // A running one: its init is the range's uid on the host; exec joins its namespace.
    inst.ok(&["run", "-d", "--name", "remapped", "busybox", "sleep", "600"]);
    let pid = inst.ok(&["inspect", "-f", "{{.State.Pid}}", "remapped"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.contains(&user.start.to_string()), "{uid_line}");
    assert_eq!(inst.ok(&["exec", "remapped", "id", "-u"]), "0\n");
    inst.ok(&["rm", "-f", "remapped"]);

    // --userns=host leaves it out; what a remapped root cannot have is refused.
    let host = inst.ok(&[
        "run",
        "--rm",
        "--userns=host",
        "busybox",
        "cat",
        "/proc/self/uid_map",
    ]);
    assert_eq!(
        host.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    for (flags, words) in [
        (
            vec!["--privileged"],
            "privileged mode is incompatible with user namespaces",
        ),
        (
            vec!["--net", "host"],
            "cannot share the host's network namespace",
        ),
        (vec!["--userns", "private"], "only \"host\" is allowed"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let out = inst.run(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    }
    inst.ok(&["volume", "rm", "data"]);
    drop(inst);
    drop(user);
}
