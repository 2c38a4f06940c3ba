//! Inside a default container, as its root user: the host stays out of reach. Seccomp,
//! capabilities, the device allowlist, masked paths, and the flags that change them.

use ebrun_tests::common;
use ebrun_tests::common::stdout;

use common::Instance;

/// An instance with the Debian tools image (perl, util-linux) as `dt`.
fn with_debian() -> Instance {
    let inst = Instance::new();
    inst.ok(&[
        "image",
        "import",
        common::image_layout("debian-tools").to_str().unwrap(),
        "dt",
    ]);
    inst
}

/// A perl one-liner making raw syscall `nr` with zero arguments and printing errno's text.
fn syscall_errno(nr: u32) -> String {
    format!("perl -e '$r = syscall({nr}, 0, 0, 0, 0, 0); print \"$!\\n\"'")
}

#[test]
fn default_seccomp_and_capabilities_block_what_docker_blocks() {
    let inst = with_debian();
    // x86_64 syscall numbers: add_key 248, keyctl 250, bpf 321, init_module 175.
    let script = [
        syscall_errno(248),
        syscall_errno(250),
        syscall_errno(321),
        syscall_errno(175),
        "unshare -U true 2>/dev/null; echo unshare=$?".to_string(),
        "mount -t tmpfs none /mnt 2>/dev/null; echo mount=$?".to_string(),
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status".to_string(),
    ]
    .join("; ");
    let out = inst.ok(&["run", "--rm", "--net", "none", "dt", "sh", "-c", &script]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "Operation not permitted",
            "Operation not permitted",
            "Operation not permitted",
            "Operation not permitted",
            "unshare=1",
            "mount=32",
            "NoNewPrivs:\t0",
            "Seccomp:\t2",
        ],
        "{out}"
    );

    // seccomp=unconfined: the same calls reach the kernel (and fail there for other reasons).
    let out = inst.ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--security-opt",
        "seccomp=unconfined",
        "dt",
        "sh",
        "-c",
        &format!("{}; grep '^Seccomp:' /proc/self/status", syscall_errno(250)),
    ]);
    assert_eq!(out, "Invalid argument\nSeccomp:\t0\n");

    // A Docker-format profile: deny mkdir only.
    let profile = inst.root().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = inst.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--security-opt",
        &opt,
        "dt",
        "mkdir",
        "/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    let out = inst.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        "dt",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--security-opt"));
}

#[test]
fn cap_add_cap_drop_privileged_and_no_new_privileges_work_as_dockers() {
    let inst = Instance::with_busybox();
    let capeff = |args: &[&str]| {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["busybox", "grep", "^CapEff:", "/proc/self/status"]);
        inst.ok(&full)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(capeff(&[]), "00000000a80425fb");
    // NET_ADMIN is bit 12: 0x1000 more.
    assert_eq!(capeff(&["--cap-add", "NET_ADMIN"]), "00000000a80435fb");
    // CHOWN is bit 0.
    assert_eq!(capeff(&["--cap-drop", "chown"]), "00000000a80425fa");
    assert_eq!(capeff(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        capeff(&["--cap-drop", "ALL", "--cap-add", "KILL"]),
        "0000000000000020"
    );
    let all = capeff(&["--privileged"]);
    assert!(u64::from_str_radix(&all, 16).unwrap() > 0xa80425fb, "{all}");
    let out = inst.run(&[
        "run",
        "--rm",
        "--cap-drop",
        "CHOWN",
        "busybox",
        "chown",
        "1",
        "/tmp",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = inst.run(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cap-add"));

    let nnp = |args: &[&str]| {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["busybox", "grep", "^NoNewPrivs:", "/proc/self/status"]);
        inst.ok(&full)
    };
    assert_eq!(
        nnp(&["--security-opt", "no-new-privileges"]),
        "NoNewPrivs:\t1\n"
    );
    assert_eq!(
        nnp(&["--security-opt", "no-new-privileges=false"]),
        "NoNewPrivs:\t0\n"
    );
    // --privileged: /sys writable, no masked paths.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep ' /sys ' /proc/self/mountinfo; wc -c < /proc/timer_list",
    ]);
    assert!(out.contains(" rw,"), "{out}");
    assert_ne!(out.lines().last().unwrap().trim(), "0", "{out}");
}

/// A device node outside Docker's allowlist that root on this host can use: /dev/kmsg
/// (char 1:11; a write adds a line to the kernel log). Block devices would be the natural
/// choice, but some hosts (this CI's VM) refuse to open their disks even to root, which
/// would let the test pass without ebrun doing anything.
const KMSG: (u32, u32) = (1, 11);

fn write_kmsg_node(dir: &str) -> String {
    format!(
        "mknod {dir}/kmsg c {} {} && echo ebrun-device-allowlist-test > {dir}/kmsg",
        KMSG.0, KMSG.1
    )
}

#[test]
fn raw_devices_cannot_be_opened_even_when_created() {
    let inst = Instance::with_busybox();
    // The host itself may use the node, so a refusal below is ebrun's doing.
    let host_dir = tempfile::tempdir().unwrap();
    let host = std::process::Command::new("sh")
        .args(["-c", &write_kmsg_node(&host_dir.path().to_string_lossy())])
        .output()
        .unwrap();
    assert!(
        host.status.success(),
        "the host cannot write /dev/kmsg: {host:?}"
    );
    // A default container may create the node but not write it.
    let out = inst.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &write_kmsg_node("/tmp"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    // --privileged lifts the allowlist, as Docker's does.
    inst.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        &write_kmsg_node("/tmp"),
    ]);
    // The standard nodes work.
    inst.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "head -c 1 /dev/urandom > /dev/null && echo x > /dev/null",
    ]);
}

/// The eBPF device program alone (what a cgroup v2 host has) enforces the allowlist: the
/// container's v1 devices cgroup, if the host has one, is opened up to everything first.
#[test]
fn the_ebpf_device_program_enforces_the_allowlist_on_its_own() {
    let inst = Instance::with_busybox();
    let id = inst.ok(&["run", "-d", "busybox", "sleep", "30"]);
    let id = id.trim();
    let v1 = std::path::Path::new("/sys/fs/cgroup/devices")
        .join(inst.prefix())
        .join(id)
        .join("devices.allow");
    if v1.exists() {
        std::fs::write(&v1, "a").unwrap();
    }
    let out = inst.run(&["exec", id, "sh", "-c", &write_kmsg_node("/tmp")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    inst.ok(&[
        "exec",
        id,
        "sh",
        "-c",
        "echo x > /dev/null && head -c 1 /dev/zero >/dev/null",
    ]);
}

#[test]
fn state_files_and_logs_are_not_readable_by_other_users() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "secret",
        "busybox",
        "sh",
        "-c",
        "echo hidden; sleep 30",
    ]);
    let dir = inst.root().join("containers");
    let mut checked = 0;
    for entry in walk(&dir) {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if meta.is_file()
            && (name.ends_with(".json") || name.ends_with(".log"))
            && !entry.to_string_lossy().contains("/upper/")
        {
            assert_eq!(
                meta.permissions().mode() & 0o077,
                0,
                "{} is readable by others",
                entry.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "state and log files found: {checked}");
    inst.ok(&["rm", "-f", "secret"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if !p.ends_with("merged") {
                    out.extend(walk(&p));
                }
            } else {
                out.push(p);
            }
        }
    }
    out
}
