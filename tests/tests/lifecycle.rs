//! Detached containers and their whole lifecycle: run -d, ps, logs, attach, exec, stop,
//! kill, start, restart, wait, rm, pause/unpause, rename, top, restart policies, and state
//! that survives killed ebrun processes and a reboot.

use ebrun_tests::common;
use ebrun_tests::common::stderr;

use std::time::{Duration, Instant};

use common::Instance;
use serde_json::Value;

/// Polls `f` every 20 ms until it is true or `secs` pass.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn run_detached_prints_the_id_and_keeps_running() {
    let inst = Instance::with_busybox();
    let started = Instant::now();
    let id = inst.ok(&["run", "-d", "--name", "bg", "busybox", "sleep", "60"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    let doc = inst.inspect("bg");
    assert_eq!(doc["Id"], id);
    assert_eq!(doc["State"]["Status"], "running");
    assert!(pid_alive(doc["State"]["Pid"].as_i64().unwrap()));
    // Addressed by name, full id and unique prefix.
    for key in ["bg", id, &id[..6]] {
        assert_eq!(inst.inspect(key)["Id"], id);
    }
    inst.ok(&["rm", "-f", "bg"]);
}

#[test]
fn ps_lists_with_docker_columns_filters_and_formats() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "up1", "busybox", "sleep", "60"]);
    assert_eq!(
        inst.run(&["run", "--name", "done3", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    let ps = inst.ok(&["ps"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(ps.contains("up1") && !ps.contains("done3"), "{ps}");
    assert!(ps.contains("Up "), "{ps}");
    let all = inst.ok(&["ps", "-a"]);
    assert!(all.contains("Exited (3) "), "{all}");
    let names = inst.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    let mut lines: Vec<&str> = names.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["done3 exited", "up1 running"]);
    assert_eq!(
        inst.ok(&["ps", "-a", "-f", "status=exited", "--format", "{{.Names}}"])
            .trim(),
        "done3"
    );
    assert_eq!(
        inst.ok(&["ps", "-a", "-f", "name=up", "--format", "{{.Names}}"])
            .trim(),
        "up1"
    );
    let q = inst.ok(&["ps", "-q"]);
    assert_eq!(q.trim().len(), 12);
    let full = inst.ok(&["ps", "-q", "--no-trunc"]);
    assert_eq!(full.trim(), inst.inspect("up1")["Id"].as_str().unwrap());
    let json = inst.ok(&["ps", "--format", "json"]);
    let row: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(row["Names"], "up1");
    let out = inst.run(&["ps", "-f", "status=bogus"]);
    assert_ne!(out.status.code(), Some(0));
    inst.ok(&["rm", "-f", "up1", "done3"]);
}

#[test]
fn logs_keep_streams_apart_follow_and_tail() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo out1; echo err1 >&2; sleep 0.2; echo out2; sleep 1; echo late; sleep 60",
    ]);
    assert!(eventually(5, || inst
        .ok(&["logs", "talker"])
        .contains("out2")));
    let out = inst.run(&["logs", "talker"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(2)
            .collect::<Vec<_>>(),
        ["out1", "out2"]
    );
    assert_eq!(stderr(&out), "err1\n");
    assert_eq!(inst.ok(&["logs", "--tail", "1", "talker"]).trim(), "out2");
    let stamped = inst.ok(&["logs", "-t", "--tail", "1", "talker"]);
    assert!(
        stamped.starts_with("20") && stamped.contains("Z out2"),
        "{stamped}"
    );

    // -f follows a live container and ends when it stops.
    let follow = inst
        .command(&["logs", "-f", "talker"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(5, || inst
        .ok(&["logs", "talker"])
        .contains("late")));
    inst.ok(&["stop", "-t", "0", "talker"]);
    let out = follow.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("out1") && text.contains("late"), "{text}");
    inst.ok(&["rm", "talker"]);
}

#[test]
fn exec_joins_the_containers_namespaces_root_and_cgroup() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "host1",
        "-h",
        "insidehost",
        "busybox",
        "sh",
        "-c",
        "echo marker > /marker; sleep 60",
    ]);
    assert!(eventually(5, || inst
        .run(&["exec", "host1", "test", "-e", "/marker"])
        .status
        .success()));
    assert_eq!(inst.ok(&["exec", "host1", "hostname"]).trim(), "insidehost");
    assert_eq!(
        inst.ok(&["exec", "host1", "cat", "/marker"]).trim(),
        "marker"
    );
    let ps = inst.ok(&["exec", "host1", "ps", "-o", "pid,comm"]);
    // The container's init is PID 1 (sh exec'ed its last command, sleep).
    assert!(ps.lines().any(|l| l.trim() == "1 sleep"), "{ps}");
    // Same cgroup as the container's init.
    let doc = inst.inspect("host1");
    let init = doc["State"]["Pid"].as_i64().unwrap();
    let init_cgroups = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let exec_cgroups = inst.ok(&["exec", "host1", "cat", "/proc/self/cgroup"]);
    if doc["HostConfig"]["CgroupnsMode"] == "private" {
        // A cgroup namespace of its own shows the container's cgroup as the root.
        assert!(
            exec_cgroups.lines().all(|l| l.ends_with(":/")),
            "{exec_cgroups}\nhost view: {init_cgroups}"
        );
    } else {
        // The host's (Docker's default on cgroup v1): the init's own paths.
        assert_eq!(exec_cgroups, init_cgroups);
    }
    // Exit codes and errors as Docker's.
    assert_eq!(
        inst.run(&["exec", "host1", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    assert_eq!(
        inst.run(&["exec", "host1", "nosuch"]).status.code(),
        Some(127)
    );
    assert_eq!(
        inst.ok(&[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "host1",
            "sh",
            "-c",
            "echo $X $(pwd)"
        ])
        .trim(),
        "1 /tmp"
    );
    assert_eq!(
        inst.ok(&["exec", "-u", "app", "host1", "id", "-u"]).trim(),
        "1000"
    );
    assert_eq!(
        inst.ok(&["exec", "-t", "host1", "tty"]).trim(),
        "/dev/pts/0"
    );
    inst.ok(&["stop", "-t", "0", "host1"]);
    let out = inst.run(&["exec", "host1", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    let out = inst.run(&["exec", "nosuchcontainer", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("No such container: nosuchcontainer"));
    inst.ok(&["rm", "host1"]);
}

#[test]
fn stop_of_a_process_ignoring_sigterm_takes_the_grace_period_then_kills() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]);
    let started = Instant::now();
    inst.ok(&["stop", "-t", "2", "stubborn"]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let doc = inst.inspect("stubborn");
    assert_eq!(doc["State"]["Status"], "exited");
    assert_eq!(doc["State"]["ExitCode"], 137);

    // A process that handles SIGTERM exits at once with its own code.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 5' TERM; while true; do sleep 0.1; done",
    ]);
    let started = Instant::now();
    inst.ok(&["stop", "polite"]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(inst.inspect("polite")["State"]["ExitCode"], 5);
    inst.ok(&["rm", "stubborn", "polite"]);
}

#[test]
fn kill_start_restart_wait_and_rename() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "kk",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 9' USR1; while true; do sleep 0.1; done",
    ]);
    inst.ok(&["kill", "-s", "USR1", "kk"]);
    assert_eq!(inst.ok(&["wait", "kk"]).trim(), "9");
    inst.ok(&["start", "kk"]);
    assert_eq!(inst.inspect("kk")["State"]["Status"], "running");
    let pid1 = inst.inspect("kk")["State"]["Pid"].as_i64().unwrap();
    inst.ok(&["restart", "-t", "1", "kk"]);
    let pid2 = inst.inspect("kk")["State"]["Pid"].as_i64().unwrap();
    assert_ne!(pid1, pid2);
    assert!(!pid_alive(pid1));
    inst.ok(&["rename", "kk", "k2"]);
    assert_eq!(inst.inspect("k2")["Name"], "/k2");
    assert!(inst.run(&["inspect", "kk"]).status.code() == Some(1));
    inst.ok(&["kill", "k2"]);
    assert_eq!(inst.ok(&["wait", "k2"]).trim(), "137");
    // Killing a stopped container is an error.
    let out = inst.run(&["kill", "k2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running"));
    inst.ok(&["rm", "k2"]);
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.05; done",
    ]);
    assert!(eventually(5, || inst
        .run(&["exec", "counter", "cat", "/n"])
        .status
        .success()));
    inst.ok(&["pause", "counter"]);
    assert!(inst.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(inst.inspect("counter")["State"]["Paused"], true);
    let upper = std::path::PathBuf::from(
        inst.inspect("counter")["GraphDriver"]["Data"]["UpperDir"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let a = std::fs::read_to_string(upper.join("n")).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let b = std::fs::read_to_string(upper.join("n")).unwrap();
    assert_eq!(a, b, "a paused container made progress");
    let out = inst.run(&["exec", "counter", "true"]);
    assert_eq!(out.status.code(), Some(1));
    inst.ok(&["unpause", "counter"]);
    assert!(eventually(5, || std::fs::read_to_string(upper.join("n"))
        .unwrap()
        != b));
    inst.ok(&["rm", "-f", "counter"]);
}

#[test]
fn top_lists_the_containers_processes() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "tt",
        "busybox",
        "sh",
        "-c",
        "sleep 61 & sleep 62",
    ]);
    assert!(eventually(5, || inst
        .ok(&["top", "tt"])
        .contains("sleep 62")));
    let top = inst.ok(&["top", "tt"]);
    assert!(top.lines().next().unwrap().contains("PID"));
    assert!(
        top.contains("sleep 61") && top.contains("sleep 62"),
        "{top}"
    );
    // Header, sleep 62 (the init: sh exec'ed it) and sleep 61.
    assert_eq!(top.lines().count(), 3, "{top}");
    inst.ok(&["rm", "-f", "tt"]);
}

#[test]
fn restart_on_failure_2_restarts_exactly_twice() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    assert!(eventually(10, || {
        let d = inst.inspect("flaky");
        d["State"]["Status"] == "exited" && d["RestartCount"] == 2
    }));
    std::thread::sleep(Duration::from_millis(800));
    let doc = inst.inspect("flaky");
    assert_eq!(doc["RestartCount"], 2);
    assert_eq!(doc["State"]["ExitCode"], 1);
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(
        inst.ok(&["logs", "flaky"])
            .lines()
            .filter(|l| *l == "run")
            .count(),
        3
    );
    // Bad policies are refused before anything is created.
    let out = inst.run(&["run", "-d", "--restart", "sometimes", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--restart"), "{}", stderr(&out));
    inst.ok(&["rm", "flaky"]);
}

#[test]
fn killing_ebrun_processes_never_loses_a_container() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "survivor", "busybox", "sleep", "60"]);
    // A follower killed -9 changes nothing.
    let mut follower = inst.command(&["logs", "-f", "survivor"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    follower.kill().unwrap();
    let _ = follower.wait();
    assert_eq!(inst.inspect("survivor")["State"]["Status"], "running");
    // Kill the monitor: the container keeps running and is reported as such.
    let monitors = monitor_pids(&inst);
    assert_eq!(monitors.len(), 1, "one monitor per detached container");
    // SAFETY: kill(2) on the monitor process this test's ebrun started.
    unsafe { libc::kill(monitors[0], libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(100));
    let doc = inst.inspect("survivor");
    assert_eq!(doc["State"]["Status"], "running");
    let pid = doc["State"]["Pid"].as_i64().unwrap();
    assert!(pid_alive(pid));
    // Then the container dies with nobody to record it: reported exited, code unknown (255).
    // SAFETY: kill(2) on the container's init, started by this test's ebrun.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(eventually(5, || !pid_alive(pid)));
    let doc = inst.inspect("survivor");
    assert_eq!(doc["State"]["Status"], "exited");
    assert_eq!(doc["State"]["ExitCode"], 255);
    inst.ok(&["rm", "survivor"]);
}

/// The monitor processes of this instance (`ebrun --root ROOT container-monitor ...`).
fn monitor_pids(inst: &Instance) -> Vec<i32> {
    let root = inst.root().to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                c.contains(&root) && c.contains("container-monitor")
            })
        })
        .collect()
}

#[test]
fn after_a_reboot_containers_show_exited_and_restart_always_ones_come_back() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "60"]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "60",
    ]);
    // Simulate a reboot: every process of the instance dies and /run is wiped.
    for pid in monitor_pids(&inst) {
        // SAFETY: kill(2) on monitors this test's ebrun started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for name in ["plain", "always"] {
        let pid = inst.inspect(name)["State"]["Pid"].as_i64().unwrap();
        // SAFETY: kill(2) on container inits this test's ebrun started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        assert!(eventually(5, || !pid_alive(pid)));
    }
    let run_dir = std::path::Path::new("/run").join(inst.prefix());
    std::fs::remove_dir_all(&run_dir).unwrap();
    let ps = inst.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    let mut lines: Vec<&str> = ps.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["always exited", "plain exited"], "{ps}");
    assert_eq!(inst.ok(&["system", "boot"]).trim(), "always");
    assert_eq!(inst.inspect("always")["State"]["Status"], "running");
    assert_eq!(inst.inspect("plain")["State"]["Status"], "exited");
    inst.ok(&["rm", "-f", "always", "plain"]);
}

#[test]
fn twenty_parallel_lifecycles_never_corrupt_state() {
    let inst = Instance::with_busybox();
    std::thread::scope(|s| {
        for i in 0..20 {
            let inst = &inst;
            s.spawn(move || {
                let name = format!("par{i}");
                inst.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "30"]);
                inst.ok(&["stop", "-t", "0", &name]);
                inst.ok(&["start", &name]);
                inst.ok(&["rm", "-f", &name]);
            });
        }
    });
    assert_eq!(inst.ok(&["ps", "-a", "-q"]), "");
    assert!(std::fs::read_dir(inst.root().join("containers"))
        .unwrap()
        .filter_map(Result::ok)
        .all(|e| !e.path().is_dir()));
}

#[test]
fn docker_errors_for_conflicts_unknown_and_running_containers() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "60"]);
    let out = inst.run(&["run", "-d", "--name", "busy", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Conflict. The container name \"/busy\" is already in use"),
        "{}",
        stderr(&out)
    );
    let out = inst.run(&["rm", "busy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("container is running: stop the container before removing or force remove"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inst.inspect("busy")["State"]["Status"], "running");
    for cmd in [
        &["stop", "ghost"][..],
        &["start", "ghost"],
        &["logs", "ghost"],
        &["kill", "ghost"],
        &["wait", "ghost"],
    ] {
        let out = inst.run(cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&out).contains("No such container: ghost"),
            "{cmd:?}: {}",
            stderr(&out)
        );
    }
    inst.ok(&["rm", "-f", "busy"]);
}

#[test]
fn nothing_outlives_rm_of_a_detached_container() {
    let inst = Instance::with_busybox();
    let id = inst
        .ok(&["run", "-d", "--name", "gone", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let pid = inst.inspect("gone")["State"]["Pid"].as_i64().unwrap();
    inst.ok(&["rm", "-f", "gone"]);
    assert!(!pid_alive(pid));
    assert!(eventually(5, || monitor_pids(&inst).is_empty()));
    assert!(!inst.root().join("containers").join(&id).exists());
    let prefix = inst.prefix();
    for base in common::cgroup_bases() {
        assert!(!base.join(&prefix).join(&id).exists());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(inst.root().to_str().unwrap()));
    assert!(!std::path::Path::new("/run")
        .join(&prefix)
        .join("attach")
        .join(format!("{id}.sock"))
        .exists());
}

#[test]
fn run_detached_with_rm_removes_itself_and_attach_streams_output() {
    let inst = Instance::with_busybox();
    let id = inst
        .ok(&["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2"])
        .trim()
        .to_string();
    assert!(eventually(5, || !inst
        .root()
        .join("containers")
        .join(&id)
        .exists()));

    inst.ok(&[
        "run",
        "-d",
        "--name",
        "att",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; echo from-attach; exit 4",
    ]);
    let out = inst.run(&["attach", "att"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("from-attach"));
    assert_eq!(out.status.code(), Some(4));
    inst.ok(&["rm", "att"]);
}

#[test]
fn foreground_run_is_logged_and_still_reaches_the_caller() {
    let inst = Instance::with_busybox();
    let script = "echo out1; echo err1 >&2; echo out2; printf partial; exit 3";
    let out = inst.run(&["run", "--name", "fg", "busybox", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out1\nout2\npartial");
    assert_eq!(stderr(&out), "err1\n");
    let logs = inst.run(&["logs", "fg"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out1\nout2\npartial");
    assert_eq!(stderr(&logs), "err1\n");
    assert_eq!(inst.ok(&["logs", "--tail", "1", "fg"]), "partial");

    // With -t the terminal's output is logged as stdout, as Docker does.
    let out = inst.ok(&[
        "run",
        "-t",
        "--name",
        "fgt",
        "busybox",
        "sh",
        "-c",
        "echo a; echo b >&2",
    ]);
    assert_eq!(out, "a\r\nb\r\n");
    let logs = inst.run(&["logs", "fgt"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "a\r\nb\r\n");
    assert_eq!(stderr(&logs), "");

    // -i without -t: the caller's stdin still reaches the container.
    let mut child = inst
        .command(&[
            "run",
            "-i",
            "--name",
            "fgi",
            "busybox",
            "sh",
            "-c",
            "read l; echo got $l",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(inst.ok(&["logs", "fgi"]), "got hello\n");

    // -it from a terminal: typed input reaches the shell, its terminal output is logged.
    let (mut master, mut client, screen) =
        on_pty(&inst, &["run", "-it", "--name", "fgit", "busybox", "sh"]);
    std::io::Write::write_all(&mut master, b"echo typed$((2*3)); exit 5\r").unwrap();
    assert_eq!(
        exit_within(&mut client, 10),
        Some(5),
        "{}",
        text_of(&screen)
    );
    assert!(text_of(&screen).contains("typed6"), "{}", text_of(&screen));
    assert!(inst.ok(&["logs", "fgit"]).contains("typed6\r\n"));

    // With --rm the log goes with the container.
    let out = inst.run(&["run", "--rm", "busybox", "sh", "-c", "echo gone"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "gone\n");
    let left = std::fs::read_dir(inst.root().join("containers"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(left, 4, "only fg, fgt, fgi and fgit remain");
    inst.ok(&["rm", "fg", "fgt", "fgi", "fgit"]);
}

#[test]
fn update_restart_policy_is_followed_by_the_running_containers_monitor() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "upd",
        "--restart",
        "no",
        "busybox",
        "sh",
        "-c",
        "echo run; sleep 1; exit 1",
    ]);
    assert_eq!(
        inst.ok(&["update", "--restart", "on-failure:1", "upd"])
            .trim(),
        "upd"
    );
    let doc = inst.inspect("upd");
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 1);
    assert!(eventually(10, || {
        let d = inst.inspect("upd");
        d["State"]["Status"] == "exited" && d["RestartCount"] == 1
    }));
    std::thread::sleep(Duration::from_millis(1500));
    let doc = inst.inspect("upd");
    assert_eq!(doc["RestartCount"], 1, "restarted exactly once");
    assert_eq!(doc["State"]["ExitCode"], 1);
    assert_eq!(
        inst.ok(&["logs", "upd"])
            .lines()
            .filter(|l| *l == "run")
            .count(),
        2
    );

    // A bad policy is ebrun's error; nothing changes.
    let out = inst.run(&["update", "--restart", "sometimes", "upd"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--restart"), "{}", stderr(&out));
    assert_eq!(
        inst.inspect("upd")["HostConfig"]["RestartPolicy"]["Name"],
        "on-failure"
    );

    // --rm and a restart policy exclude each other, as in Docker.
    inst.ok(&[
        "run", "-d", "--rm", "--name", "auto", "busybox", "sleep", "30",
    ]);
    let out = inst.run(&["update", "--restart", "always", "auto"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        inst.inspect("auto")["HostConfig"]["RestartPolicy"]["Name"],
        "no"
    );
    inst.ok(&["rm", "-f", "auto", "upd"]);
}

/// A child process killed (by pid) and reaped when the test ends, also on failure.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ebrun ARGS` with a new pseudo-terminal as its stdin, stdout and stderr: the terminal's
/// master (to type into), the running client, and what the terminal shows.
fn on_pty(
    inst: &Instance,
    args: &[&str],
) -> (
    std::fs::File,
    Reaped,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let (master, slave) = pty();
    let client = Reaped(
        inst.command(args)
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap(),
    );
    let screen = collect(master.try_clone().unwrap());
    (master, client, screen)
}

/// A pseudo-terminal for a client: (master, slave).
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the valid ints we pass; the name, termios
    // and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened for us and are owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

/// Everything read from `reader` on a thread, for `wait_for` to look into.
fn collect(
    mut reader: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let shared = std::sync::Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            shared.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

fn text_of(buf: &std::sync::Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// Waits for `child` to exit within `secs`; its exit code.
fn exit_within(child: &mut Reaped, secs: u64) -> Option<i32> {
    let mut code = None;
    eventually(secs, || match child.0.try_wait() {
        Ok(Some(status)) => {
            code = Some(status.code().unwrap_or(-1));
            true
        }
        _ => false,
    });
    code
}

#[test]
fn attach_detach_keys_leave_the_container_running() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"]);

    // A terminal: keys are raw, ctrl-p ctrl-q detaches with Docker's message and code.
    let (mut master, mut client, screen) = on_pty(&inst, &["attach", "shell"]);
    std::io::Write::write_all(&mut master, b"echo one$((1+1))\r").unwrap();
    assert!(
        eventually(5, || text_of(&screen).contains("one2")),
        "{}",
        text_of(&screen)
    );
    std::io::Write::write_all(&mut master, b"\x10\x11").unwrap();
    assert_eq!(exit_within(&mut client, 5), Some(1), "{}", text_of(&screen));
    assert!(eventually(2, || text_of(&screen).contains("read escape sequence")));
    assert_eq!(inst.inspect("shell")["State"]["Running"], true);

    // Custom keys; the container's shell is still there and answers a new client.
    let (mut master, mut client, screen) =
        on_pty(&inst, &["attach", "--detach-keys", "ctrl-a,x", "shell"]);
    std::io::Write::write_all(&mut master, b"echo two$((1+2))\r\x10\x11").unwrap();
    assert!(
        eventually(5, || text_of(&screen).contains("two3")),
        "{}",
        text_of(&screen)
    );
    assert_eq!(
        client.0.try_wait().unwrap(),
        None,
        "ctrl-p ctrl-q is not the sequence now"
    );
    std::io::Write::write_all(&mut master, b"\x01x").unwrap();
    assert_eq!(exit_within(&mut client, 5), Some(1), "{}", text_of(&screen));
    assert_eq!(inst.inspect("shell")["State"]["Running"], true);

    // Keys for a terminal must come from one, as Docker checks.
    let out = inst.run(&["attach", "shell"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "the input device is not a TTY\n");

    // A bad sequence is refused with Docker's wording.
    let out = inst.run(&["attach", "--detach-keys", "ctrl-p,bogus", "shell"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Invalid detach keys (ctrl-p,bogus) provided"),
        "{}",
        stderr(&out)
    );

    // Without a terminal (-i only) the sequence detaches too.
    inst.ok(&["run", "-d", "-i", "--name", "cat", "busybox", "cat"]);
    let mut client = Reaped(
        inst.command(&["attach", "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut input = client.0.stdin.take().unwrap();
    let output = collect(client.0.stdout.take().unwrap());
    let errors = collect(client.0.stderr.take().unwrap());
    std::io::Write::write_all(&mut input, b"hello\n").unwrap();
    assert!(
        eventually(5, || text_of(&output) == "hello\n"),
        "{}",
        text_of(&output)
    );
    std::io::Write::write_all(&mut input, b"\x10\x11").unwrap();
    assert_eq!(exit_within(&mut client, 5), Some(1));
    assert!(
        eventually(2, || text_of(&errors) == "read escape sequence\n"),
        "{}",
        text_of(&errors)
    );
    assert_eq!(inst.inspect("cat")["State"]["Running"], true);

    // run: the keys are checked; a foreground run cannot detach (it is the container's
    // monitor), so it refuses them instead of ignoring them.
    let out = inst.run(&["run", "-it", "--detach-keys", "ctrl-a,x", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("cannot detach"), "{}", stderr(&out));
    let out = inst.run(&["run", "-d", "--detach-keys", "ctrl-", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Invalid detach keys (ctrl-) provided"),
        "{}",
        stderr(&out)
    );
    let out = inst.run(&[
        "run",
        "-d",
        "--rm",
        "--detach-keys",
        "ctrl-a,x",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    inst.ok(&["rm", "-f", "shell", "cat"]);
}

#[test]
fn attach_proxies_signals_unless_told_not_to() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "trapper",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got INT; exit 7' INT; while true; do echo tick; sleep 0.1; done",
    ]);
    let attach = |extra: &[&str]| {
        let mut args = vec!["attach"];
        args.extend_from_slice(extra);
        args.push("trapper");
        let mut child = Reaped(
            inst.command(&args)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let output = collect(child.0.stdout.take().unwrap());
        assert!(eventually(5, || text_of(&output).contains("tick")));
        (child, output)
    };
    // --sig-proxy=false: SIGINT ends the client only.
    let (mut client, _) = attach(&["--sig-proxy=false"]);
    // SAFETY: kill(2) on the pid of a child this test started.
    unsafe { libc::kill(client.0.id() as i32, libc::SIGINT) };
    assert!(exit_within(&mut client, 5).is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(inst.inspect("trapper")["State"]["Running"], true);

    // Default: SIGINT goes to the container, whose exit code the client returns.
    let (mut client, output) = attach(&[]);
    // SAFETY: kill(2) on the pid of a child this test started.
    unsafe { libc::kill(client.0.id() as i32, libc::SIGINT) };
    assert_eq!(exit_within(&mut client, 5), Some(7), "{}", text_of(&output));
    assert!(text_of(&output).contains("got INT"));
    inst.ok(&["rm", "trapper"]);
}
