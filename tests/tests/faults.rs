//! Crash at every step of create, start, stop and rm (`EBRUN_FAULT_AT` makes ebrun SIGKILL
//! itself at a named point): the next ebrun command reconciles, and the container either
//! exists completely or not at all, with nothing orphaned.

mod common;

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
