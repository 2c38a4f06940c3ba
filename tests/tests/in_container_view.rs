//! What a process inside a container sees, item by item against Docker's documented
//! defaults (moby's default spec and dockerd's additions, runc's way of making them): the
//! kernel mounts and their options, masked and read-only paths, /dev, the namespaced sysctls,
//! rlimits, capabilities, seccomp, hostname/hosts/resolv.conf, the environment, the umask,
//! and /sys/fs/cgroup, where a JVM finds its memory limit and CPU quota.
//!
//! The same file runs on the hybrid development host and inside a pure cgroup v2 guest
//! (`cargo xtask test-v2 --suite view`); the expectations follow the layout ebrun reports.
//! Containers run with `--network none` (their own network namespace, as a bridge's, without
//! the set-up that is slow under emulation).

use ebrun_tests::common::{self, Instance};

/// The cgroup layout ebrun reports for a container (`unified`, `hybrid` or `legacy`).
fn layout(inst: &Instance, name: &str) -> String {
    inst.inspect(name)["Ebrun"]["Cgroups"]["layout"]
        .as_str()
        .expect("inspect reports the cgroup layout")
        .to_string()
}

/// The layout of this host, through a short-lived container.
fn host_layout(inst: &Instance) -> String {
    inst.ok(&[
        "run", "-d", "--name", "probe", "--net", "none", "busybox", "sleep", "60",
    ]);
    let l = layout(inst, "probe");
    inst.ok(&["rm", "-f", "probe"]);
    l
}

/// `ebrun run --rm --net none ARGS...`'s output.
fn run(inst: &Instance, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", "--net", "none"];
    all.extend_from_slice(args);
    inst.ok(&all)
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
struct MountLine {
    root: String,
    point: String,
    options: Vec<String>,
    fstype: String,
    source: String,
    super_options: Vec<String>,
}

fn mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some(MountLine {
                root: f[3].to_string(),
                point: f[4].to_string(),
                options: f[5].split(',').map(str::to_string).collect(),
                fstype: f.get(sep + 1)?.to_string(),
                source: f.get(sep + 2)?.to_string(),
                super_options: f.get(sep + 3)?.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The last mount at `point` (the one a path lookup finds).
fn at<'a>(mounts: &'a [MountLine], point: &str) -> &'a MountLine {
    mounts
        .iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("nothing mounted at {point}: {mounts:#?}"))
}

fn has(m: &MountLine, opts: &[&str]) {
    for o in opts {
        assert!(
            m.options.iter().any(|x| x == o) || m.super_options.iter().any(|x| x == o),
            "{} lacks {o}: {m:?}",
            m.point
        );
    }
}

#[test]
fn default_container_view_matches_dockers_item_by_item() {
    let inst = Instance::with_busybox();
    let mounts = mountinfo(&run(&inst, &["busybox", "cat", "/proc/self/mountinfo"]));

    // Kernel file systems, as moby's default spec mounts them.
    let proc_ = at(&mounts, "/proc");
    assert_eq!(proc_.fstype, "proc");
    has(proc_, &["rw", "nosuid", "nodev", "noexec"]);
    let dev = at(&mounts, "/dev");
    assert_eq!(
        (dev.fstype.as_str(), dev.source.as_str()),
        ("tmpfs", "tmpfs")
    );
    has(dev, &["rw", "nosuid", "mode=755", "size=65536k"]);
    let pts = at(&mounts, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    has(
        pts,
        &["nosuid", "noexec", "gid=5", "mode=620", "ptmxmode=666"],
    );
    let sys = at(&mounts, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    has(sys, &["ro", "nosuid", "nodev", "noexec"]);
    let mqueue = at(&mounts, "/dev/mqueue");
    assert_eq!(mqueue.fstype, "mqueue");
    has(mqueue, &["nosuid", "nodev", "noexec"]);
    let shm = at(&mounts, "/dev/shm");
    assert_eq!((shm.fstype.as_str(), shm.source.as_str()), ("tmpfs", "shm"));
    has(shm, &["nosuid", "nodev", "noexec", "size=65536k"]);
    let cgroup = at(&mounts, "/sys/fs/cgroup");
    has(cgroup, &["ro", "nosuid", "nodev", "noexec"]);

    // Read-only and masked paths (those this kernel has).
    for path in [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ] {
        if std::path::Path::new(path).exists() {
            has(at(&mounts, path), &["ro"]);
        }
    }
    let mut masked: Vec<String> = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/devices/virtual/powercap",
        "/sys/firmware",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for entry in std::fs::read_dir("/sys/devices/system/cpu")
        .unwrap()
        .flatten()
    {
        let throttle = entry.path().join("thermal_throttle");
        if throttle.exists() {
            masked.push(throttle.display().to_string());
        }
    }
    let masked: Vec<String> = masked
        .into_iter()
        .filter(|p| std::path::Path::new(p).exists())
        .collect();
    assert!(masked.iter().any(|p| p == "/proc/interrupts"));
    let script: String = masked
        .iter()
        .map(|p| {
            format!(
                "echo {p} $(cat {p} 2>/dev/null | wc -c) $(if [ -d {p} ]; then ls -A {p} | wc -l; else echo 0; fi); "
            )
        })
        .collect();
    let out = run(&inst, &["busybox", "sh", "-c", &script]);
    for (line, path) in out.lines().zip(&masked) {
        assert_eq!(line, format!("{path} 0 0"), "{path} is not masked: {out}");
        at(&mounts, path);
    }

    // /dev: runc's default nodes and links, no console without a terminal, no /dev/core
    // where the kernel has no /proc/kcore.
    let out = run(
        &inst,
        &[
            "busybox",
            "sh",
            "-c",
            "stat -c '%n %F %a %t %T %u %g' /dev/* /dev/pts/ptmx; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done",
        ],
    );
    let mut expected = vec![
        "/dev/fd symbolic link 777 0 0 0 0",
        "/dev/full character special file 666 1 7 0 0",
        "/dev/mqueue directory 1777 0 0 0 0",
        "/dev/null character special file 666 1 3 0 0",
        "/dev/ptmx symbolic link 777 0 0 0 0",
        "/dev/pts directory 755 0 0 0 0",
        "/dev/random character special file 666 1 8 0 0",
        "/dev/shm directory 1777 0 0 0 0",
        "/dev/stderr symbolic link 777 0 0 0 0",
        "/dev/stdin symbolic link 777 0 0 0 0",
        "/dev/stdout symbolic link 777 0 0 0 0",
        "/dev/tty character special file 666 5 0 0 0",
        "/dev/urandom character special file 666 1 9 0 0",
        "/dev/zero character special file 666 1 5 0 0",
        "/dev/pts/ptmx character special file 666 5 2 0 0",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "pts/ptmx",
    ];
    if std::path::Path::new("/proc/kcore").exists() {
        expected.insert(0, "/dev/core symbolic link 777 0 0 0 0");
    }
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");

    // Namespaced sysctls dockerd sets for a container with its own network namespace.
    let out = run(
        &inst,
        &[
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "/proc/sys/net/ipv4/ping_group_range",
        ],
    );
    assert_eq!(out, "0\n0\t2147483647\n");

    // Capabilities, no_new_privs, seccomp, umask: Docker's defaults for root and another user.
    let status = run(&inst, &["busybox", "cat", "/proc/self/status"]);
    let field = |status: &str, name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    for (name, value) in [
        ("CapInh", "0000000000000000"),
        ("CapPrm", "00000000a80425fb"),
        ("CapEff", "00000000a80425fb"),
        ("CapBnd", "00000000a80425fb"),
        ("CapAmb", "0000000000000000"),
        ("NoNewPrivs", "0"),
        ("Seccomp", "2"),
        ("Umask", "0022"),
    ] {
        assert_eq!(field(&status, name), value, "{name}");
    }
    let status = run(
        &inst,
        &["-u", "1000", "busybox", "cat", "/proc/self/status"],
    );
    assert_eq!(field(&status, "CapEff"), "0000000000000000");
    assert_eq!(field(&status, "CapPrm"), "0000000000000000");
    assert_eq!(field(&status, "CapBnd"), "00000000a80425fb");

    // rlimits: containerd's open-files limit (1048576), as high as this host allows; the
    // others are the host's.
    let host_hard = {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct it is given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        r.rlim_max
    };
    let nofile = 1_048_576u64.min(host_hard);
    let limits = run(&inst, &["busybox", "cat", "/proc/self/limits"]);
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[3..5], [nofile.to_string(), nofile.to_string()]);

    // Hostname, /etc/hostname, /etc/hosts and /etc/resolv.conf (binds of the container's
    // files), and the environment: PATH, HOSTNAME and HOME, nothing else.
    let out = run(
        &inst,
        &[
            "busybox",
            "sh",
            "-c",
            "hostname; cat /etc/hostname /etc/hosts",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].len(), 12, "{out}");
    assert!(lines[0].chars().all(|c| c.is_ascii_hexdigit()), "{out}");
    assert_eq!(lines[1], lines[0]);
    assert_eq!(
        lines[2..].join("\n"),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters"
    );
    for file in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
        let m = at(&mounts, file);
        assert!(
            m.root.ends_with(&file[4..]),
            "{file} is not the container's: {m:?}"
        );
    }
    let env = run(&inst, &["-h", "box", "busybox", "env"]);
    let mut env: Vec<&str> = env.lines().collect();
    env.sort();
    assert_eq!(
        env,
        [
            "HOME=/root",
            "HOSTNAME=box",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    );
}

/// The cgroup files a container sees under /sys/fs/cgroup for its memory limit and CPU
/// quota, on `layout`. On cgroup v2 the mount shows the container's cgroup as its root in a
/// cgroup namespace of its own, and the whole hierarchy in the host's (as under runc), where
/// the container's directory is its path in /proc/self/cgroup (`d` in the script).
fn limit_files(layout: &str) -> (&'static str, &'static str) {
    if layout == "unified" {
        ("$d/memory.max", "$d/cpu.max")
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
        )
    }
}

#[test]
fn sys_fs_cgroup_shows_the_containers_own_limits_read_only() {
    let inst = Instance::with_busybox();
    let layout = host_layout(&inst);
    let (memory, cpu) = limit_files(&layout);
    let script = format!(
        "d=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup); \
         cat {memory} {cpu}; cat /proc/self/cgroup; ls /sys/fs/cgroup; \
         mkdir /sys/fs/cgroup/x 2>/dev/null; echo mkdir=$?"
    );
    // Docker's default cgroup namespace: private on cgroup v2, the host's on v1 and hybrid.
    let default_mode = if layout == "unified" {
        "private"
    } else {
        "host"
    };
    for mode in ["", "host", "private"] {
        let name = format!("cg-{}", if mode.is_empty() { "default" } else { mode });
        let mut args = vec![
            "run", "-d", "--name", &name, "--net", "none", "-m", "256m", "--cpus", "1.5",
        ];
        if !mode.is_empty() {
            args.extend(["--cgroupns", mode]);
        }
        args.extend(["busybox", "sh", "-c", &script]);
        inst.ok(&args);
        inst.ok(&["wait", &name]);
        let out = inst.ok(&["logs", &name]);
        let doc = inst.inspect(&name);
        let effective = if mode.is_empty() { default_mode } else { mode };
        assert_eq!(doc["HostConfig"]["CgroupnsMode"], effective, "{name}");
        let relative = doc["Ebrun"]["Cgroups"]["relative"]
            .as_str()
            .unwrap()
            .to_string();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "268435456", "{name}: {out}");
        if layout == "unified" {
            assert_eq!(lines[1], "150000 100000", "{name}: {out}");
        } else {
            assert_eq!(lines[1..3], ["150000", "100000"], "{name}: {out}");
        }
        // /proc/self/cgroup: (controllers, path).
        let own: Vec<(&str, &str)> = out
            .lines()
            .filter(|l| l.contains(":/"))
            .filter_map(|l| {
                let mut f = l.splitn(3, ':');
                Some((f.nth(1)?, f.next()?))
            })
            .collect();
        assert!(!own.is_empty(), "{name}: {out}");
        // The container's own paths in the host's namespace, `/` in a namespace of its own.
        if effective == "private" {
            assert!(own.iter().all(|(_, p)| *p == "/"), "{name}: {out}");
        } else {
            let memory = own
                .iter()
                .find(|(c, _)| c.split(',').any(|c| c == "memory") || layout == "unified")
                .unwrap();
            assert!(memory.1.ends_with(&relative), "{name}: {out}");
        }
        if layout != "unified" {
            for dir in ["cpu", "memory", "pids", "cpuset"] {
                assert!(
                    out.lines()
                        .any(|l| l == dir || l.split(',').any(|c| c == dir)),
                    "{name}: no {dir} in /sys/fs/cgroup: {out}"
                );
            }
            assert_eq!(
                out.lines().any(|l| l == "unified"),
                layout == "hybrid",
                "{name}: {out}"
            );
        } else {
            assert!(
                out.lines().any(|l| l == "cgroup.controllers"),
                "{name}: {out}"
            );
        }
        assert_eq!(lines.last(), Some(&"mkdir=1"), "{name}: read-only: {out}");
        inst.ok(&["rm", &name]);
    }

    // --privileged: read-write, as Docker's.
    let out = run(
        &inst,
        &[
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "grep ' /sys/fs/cgroup ' /proc/self/mountinfo",
        ],
    );
    assert!(out.contains(" /sys/fs/cgroup rw,"), "{out}");

    // A bad mode, in the docker CLI's words.
    let out = inst.run(&["run", "--rm", "--cgroupns", "shared", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        common::stderr(&out).contains("--cgroupns: invalid CGROUP mode"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn sysctl_flags_go_on_top_of_dockers_defaults_within_the_containers_namespaces() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "sys",
        "--net",
        "none",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=1024",
        "--sysctl",
        "net.core.somaxconn=321",
        "--sysctl",
        "kernel.shmmax=12345678",
        "--sysctl",
        "fs.mqueue.msg_max=20",
        "busybox",
        "sh",
        "-c",
        "cd /proc/sys; cat net/ipv4/ip_unprivileged_port_start net/ipv4/ping_group_range net/core/somaxconn kernel/shmmax fs/mqueue/msg_max",
    ]);
    inst.ok(&["wait", "sys"]);
    assert_eq!(
        inst.ok(&["logs", "sys"]),
        "1024\n0\t2147483647\n321\n12345678\n20\n"
    );
    let doc = inst.inspect("sys");
    assert_eq!(
        doc["HostConfig"]["Sysctls"],
        serde_json::json!({
            "fs.mqueue.msg_max": "20",
            "kernel.shmmax": "12345678",
            "net.core.somaxconn": "321",
            "net.ipv4.ip_unprivileged_port_start": "1024",
        })
    );
    // The host's own values never changed.
    let host = |p: &str| std::fs::read_to_string(p).unwrap();
    assert_ne!(host("/proc/sys/net/core/somaxconn"), "321\n");
    assert_ne!(host("/proc/sys/kernel/shmmax"), "12345678\n");
    inst.ok(&["rm", "sys"]);
    // Without sysctls, inspect leaves the key out, as Docker does.
    inst.ok(&[
        "run", "-d", "--name", "plain", "--net", "none", "busybox", "true",
    ]);
    inst.ok(&["wait", "plain"]);
    assert!(inst.inspect("plain")["HostConfig"].get("Sysctls").is_none());
    inst.ok(&["rm", "plain"]);

    // The host's network namespace gets no defaults.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]);
    assert_eq!(out, host("/proc/sys/net/ipv4/ip_unprivileged_port_start"));

    // Refused before anything is made (exit 125, the flag and value named).
    for (args, message) in [
        (
            vec!["--sysctl", "kernel.pid_max=100"],
            "invalid argument \"kernel.pid_max=100\" for \"--sysctl\" flag: sysctl 'kernel.pid_max=100' is not allowed",
        ),
        (
            vec!["--sysctl", "vm.swappiness=1"],
            "sysctl 'vm.swappiness=1' is not allowed",
        ),
        (
            vec!["--net", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "invalid --sysctl value \"net.ipv4.ip_forward=1\": sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        ),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend(args.iter().copied());
        all.extend(["busybox", "true"]);
        let out = inst.run(&all);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            common::stderr(&out).contains(message),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
    assert_eq!(
        inst.ok(&["ps", "-aq"]),
        "",
        "a refused run left a container"
    );
}

/// A Python probe doing what Go's automaxprocs and the JVM do: find the CPU and memory
/// controllers through /proc/self/mountinfo and /proc/self/cgroup, read the quota, period
/// and limit there.
const PROBE: &str = r#"
import os
cg = {}
for line in open('/proc/self/cgroup'):
    _, ctl, path = line.rstrip('\n').split(':', 2)
    for c in (ctl.split(',') if ctl else ['']):
        cg[c] = path
def find(fstype, option):
    for line in open('/proc/self/mountinfo'):
        f = line.split()
        sep = f.index('-')
        if f[sep + 1] == fstype and (option is None or option in f[sep + 3].split(',')):
            rel = os.path.relpath(cg['' if option is None else option], f[3])
            return os.path.normpath(os.path.join(f[4], rel))
cpu, mem = find('cgroup', 'cpu'), find('cgroup', 'memory')
if cpu:
    quota = int(open(cpu + '/cpu.cfs_quota_us').read())
    period = int(open(cpu + '/cpu.cfs_period_us').read())
    limit = open(mem + '/memory.limit_in_bytes').read().strip()
else:
    d = find('cgroup2', None)
    q, p = open(d + '/cpu.max').read().split()
    quota, period = int(q), int(p)
    limit = open(d + '/memory.max').read().strip()
print('cpus=%g memory=%s' % (quota / period, limit))
"#;

#[test]
fn a_jvm_sizes_itself_from_the_containers_limits() {
    let layout = common::image_layout("debian-java");
    assert!(
        layout.join("index.json").exists(),
        "the debian-java test image is missing: run `cargo xtask setup` (or `cargo xtask image debian-java`)"
    );
    let inst = Instance::with_busybox();
    inst.ok(&["image", "import", layout.to_str().unwrap(), "java:latest"]);
    let host = host_layout(&inst);
    for mode in ["host", "private"] {
        let out = run(
            &inst,
            &[
                "-m",
                "256m",
                "--cpus",
                "1.5",
                "--cgroupns",
                mode,
                "java",
                "sh",
                "-c",
                "java -XshowSettings:system -version 2>&1",
            ],
        );
        let provider = if host == "unified" {
            "cgroupv2"
        } else {
            "cgroupv1"
        };
        for line in [
            format!("Provider: {provider}"),
            "Effective CPU Count: 2".to_string(),
            "CPU Period: 100000us".to_string(),
            "CPU Quota: 150000us".to_string(),
            "Memory Limit: 256.00M".to_string(),
        ] {
            assert!(
                out.lines().any(|l| l.trim() == line),
                "--cgroupns {mode}: java does not report {line:?}:\n{out}"
            );
        }
        let out = run(
            &inst,
            &[
                "-m",
                "256m",
                "--cpus",
                "1.5",
                "--cgroupns",
                mode,
                "java",
                "python3",
                "-c",
                PROBE,
            ],
        );
        assert_eq!(out, "cpus=1.5 memory=268435456\n", "--cgroupns {mode}");
    }
}
