//! Resource limits end to end, measured rather than read back: OOM kills and their exit code,
//! a stalled container with the OOM killer disabled, CPU bandwidth and shares from the
//! cgroup's own CPU time, cpusets, a fork bomb against the pids limit, `update` on a running
//! container, `stats`, and Docker's validation (exit 125, nothing created).
//!
//! The same file runs on the hybrid development host and inside a pure cgroup v2 guest
//! (`cargo xtask test-v2`); the cgroup files are found through the layout inspect reports.

use ebrun_tests::common;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Instance;
use serde_json::Value;

/// CPU measurements need the CPUs to themselves: tests that burn or measure CPU take turns.
static CPU: Mutex<()> = Mutex::new(());

fn cpu_turn() -> std::sync::MutexGuard<'static, ()> {
    CPU.lock().unwrap_or_else(|e| e.into_inner())
}

/// True on a pure cgroup v2 host (or guest).
fn unified() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup") && l.contains(" - cgroup2 "))
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// `key value` from a flat-keyed cgroup file.
fn keyed(path: &PathBuf, key: &str) -> u64 {
    read(path)
        .lines()
        .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}", path.display()))
}

/// The file holding the container's CPU time: cgroup2 cpu.stat (hybrid and v2 hosts both
/// have a cgroup2 directory per container), else v1 cpuacct.usage. Resolved once, so that
/// samples are plain file reads a few microseconds apart.
fn cpu_usage_file(inst: &Instance, name: &str) -> PathBuf {
    let cg = &inst.inspect(name)["Ebrun"]["Cgroups"];
    match cg["unified_dir"].as_str() {
        Some(dir) => PathBuf::from(dir).join("cpu.stat"),
        None => ebrun_tests::common::cgroup_file(inst, name, "cpuacct", "cpuacct.usage"),
    }
}

/// CPU time in microseconds from a [`cpu_usage_file`].
fn cpu_usage_us(file: &PathBuf) -> u64 {
    if file.ends_with("cpu.stat") {
        keyed(file, "usage_usec")
    } else {
        read(file).parse::<u64>().unwrap() / 1000
    }
}

/// `run -d` without networking (not what these tests are about, and slow to set up
/// under emulation).
fn run_detached(inst: &Instance, args: &[&str]) {
    let mut all = vec!["run", "--network", "none", "-d"];
    all.extend_from_slice(args);
    inst.ok(&all);
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Scales waits under software emulation (the v2 guest sets it).
fn slow() -> u32 {
    std::env::var("EBRUN_TEST_SLOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

const BUSY: &str = "while :; do :; done";

/// Allocates without end: a string that doubles until memory runs out.
const DOUBLING: &str = "BEGIN { s = \"x\"; for (;;) s = s s }";

#[test]
fn memory_limit_oom_kills_with_exit_137_and_inspect_says_so() {
    let inst = Instance::with_busybox();
    // dd's 100 MiB buffer is filled from /dev/zero: 100 MiB of anonymous memory.
    let out = inst.run(&[
        "run",
        "--network",
        "none",
        "--name",
        "oom",
        "-m",
        "64m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=100M",
        "count=1",
    ]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    let state = &inst.inspect("oom")["State"];
    assert_eq!(state["OOMKilled"], true, "{state}");
    assert_eq!(state["ExitCode"], 137);
    // Below the limit the same command succeeds and is not marked.
    inst.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "fits",
        "-m",
        "256m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=100M",
        "count=1",
    ]);
    assert_eq!(inst.inspect("fits")["State"]["OOMKilled"], false);
}

#[test]
fn oom_kill_disable_stalls_the_container_and_kill_still_ends_it() {
    let inst = Instance::with_busybox();
    if unified() {
        // cgroup v2 has no way to disable the OOM killer: Docker warns and discards it.
        let out = inst.run(&[
            "run",
            "--network",
            "none",
            "--rm",
            "-m",
            "64m",
            "--oom-kill-disable",
            "busybox",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("OomKillDisable discarded"));
        return;
    }
    // awk doubles a string in user space: its page faults wait for memory (a read() into
    // fresh pages would fail with EFAULT instead, as in-kernel faults do not wait).
    run_detached(
        &inst,
        &[
            "--name",
            "stall",
            "-m",
            "64m",
            "--oom-kill-disable",
            "busybox",
            "awk",
            DOUBLING,
        ],
    );
    let oom_control =
        ebrun_tests::common::cgroup_file(&inst, "stall", "memory", "memory.oom_control");
    wait_until("under_oom", Duration::from_secs(10), || {
        keyed(&oom_control, "under_oom") == 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(inst.inspect("stall")["State"]["Status"], "running");
    assert_eq!(keyed(&oom_control, "under_oom"), 1);
    assert_eq!(keyed(&oom_control, "oom_kill"), 0, "nothing was killed");
    inst.ok(&["kill", "stall"]);
    wait_until("exit", Duration::from_secs(10), || {
        inst.inspect("stall")["State"]["Status"] == "exited"
    });
    let state = &inst.inspect("stall")["State"];
    assert_eq!(state["ExitCode"], 137, "{state}");
    assert_eq!(state["OOMKilled"], false, "{state}");
}

#[test]
fn cpus_half_holds_a_busy_loop_to_half_a_cpu() {
    let _turn = cpu_turn();
    let inst = Instance::with_busybox();
    run_detached(
        &inst,
        &[
            "--name", "half", "--cpus", "0.5", "busybox", "sh", "-c", BUSY,
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let window = Duration::from_secs(3 * u64::from(slow()));
    let usage = cpu_usage_file(&inst, "half");
    let (t0, u0) = (Instant::now(), cpu_usage_us(&usage));
    std::thread::sleep(window);
    let (t1, u1) = (Instant::now(), cpu_usage_us(&usage));
    let cpus = (u1 - u0) as f64 / (t1 - t0).as_micros() as f64;
    eprintln!("--cpus 0.5: measured {cpus:.3} CPU over {:?}", t1 - t0);
    assert!((0.45..=0.55).contains(&cpus), "measured {cpus:.3} CPU");
    inst.run(&["kill", "half"]);
}

#[test]
fn cpu_shares_split_one_cpu_about_one_to_two() {
    let _turn = cpu_turn();
    let inst = Instance::with_busybox();
    for (name, shares) in [("low", "512"), ("high", "1024")] {
        run_detached(
            &inst,
            &[
                "--name",
                name,
                "--cpuset-cpus",
                "0",
                "-c",
                shares,
                "busybox",
                "sh",
                "-c",
                BUSY,
            ],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let window = Duration::from_secs(3 * u64::from(slow()));
    let (low, high) = (cpu_usage_file(&inst, "low"), cpu_usage_file(&inst, "high"));
    let (l0, h0) = (cpu_usage_us(&low), cpu_usage_us(&high));
    std::thread::sleep(window);
    let (l1, h1) = (cpu_usage_us(&low), cpu_usage_us(&high));
    let ratio = (h1 - h0) as f64 / (l1 - l0) as f64;
    eprintln!(
        "shares 1024:512 on CPU 0: {:.0} ms vs {:.0} ms, ratio {ratio:.2}",
        (h1 - h0) as f64 / 1000.0,
        (l1 - l0) as f64 / 1000.0
    );
    assert!((1.7..=2.3).contains(&ratio), "ratio {ratio:.2}");
    inst.run(&["kill", "low", "high"]);
}

#[test]
fn cpuset_cpus_shows_in_proc_status() {
    let inst = Instance::with_busybox();
    let out = inst.ok(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--cpuset-cpus",
        "1",
        "busybox",
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["Cpus_allowed_list:", "1"]
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb_at_ten_tasks() {
    let _turn = cpu_turn();
    let inst = Instance::with_busybox();
    // A bomb that never ends: the inner shell forks sleepers until a fork fails (which
    // ends that shell), and the outer loop starts a new bomber every time.
    let bomb = "while :; do sh -c 'while :; do sleep 1000 & done' 2>/dev/null; done";
    run_detached(
        &inst,
        &[
            "--name",
            "bomb",
            "--pids-limit",
            "10",
            "busybox",
            "sh",
            "-c",
            bomb,
        ],
    );
    let current = ebrun_tests::common::cgroup_file(&inst, "bomb", "pids", "pids.current");
    let events = ebrun_tests::common::cgroup_file(&inst, "bomb", "pids", "pids.events");
    let tasks = || read(&current).parse::<u64>().unwrap();
    wait_until(
        "10 tasks",
        Duration::from_secs(10 * u64::from(slow())),
        || tasks() == 10,
    );
    let refused_before = keyed(&events, "max");
    let mut peak = 0;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let n = tasks();
        assert!(n <= 10, "{n} tasks under --pids-limit 10");
        peak = peak.max(n);
        std::thread::sleep(Duration::from_millis(5));
    }
    let refused = keyed(&events, "max");
    assert_eq!(peak, 10);
    assert_eq!(
        read(&ebrun_tests::common::cgroup_file(
            &inst, "bomb", "pids", "pids.max"
        )),
        "10"
    );
    assert!(
        refused > refused_before,
        "the bomb keeps forking and is refused"
    );
    assert_eq!(inst.inspect("bomb")["State"]["Status"], "running");
    eprintln!(
        "--pids-limit 10: peak {peak} tasks, {} forks refused in 1 s",
        refused - refused_before
    );
    inst.run(&["kill", "bomb"]);
}

#[test]
fn update_memory_takes_effect_on_a_running_container() {
    let inst = Instance::with_busybox();
    // While /tmp/go exists, a child fills 100 MiB every 0.3 s. The gate keeps allocations
    // out of the moment of the update: cgroup v1 refuses (EBUSY) to shrink a limit below
    // the usage, and v2 OOM-kills right away, possibly the shell itself.
    run_detached(
        &inst,
        &[
            "--name",
            "grow",
            "-m",
            "256m",
            "busybox",
            "sh",
            "-c",
            "while :; do [ -e /tmp/go ] && dd if=/dev/zero of=/dev/null bs=100M count=1 \
             2>/dev/null; sleep 0.3; done",
        ],
    );
    let file = |v1: &str, v2: &str| {
        ebrun_tests::common::cgroup_file(&inst, "grow", "memory", if unified() { v2 } else { v1 })
    };
    let limit_file = file("memory.limit_in_bytes", "memory.max");
    let usage_file = file("memory.usage_in_bytes", "memory.current");
    let oom_file = file("memory.oom_control", "memory.events");
    let oom_kills = || keyed(&oom_file, "oom_kill");
    inst.ok(&["exec", "grow", "touch", "/tmp/go"]);
    std::thread::sleep(Duration::from_secs(2 * u64::from(slow())));
    assert_eq!(oom_kills(), 0, "100 MiB fit in 256m");
    inst.ok(&["exec", "grow", "rm", "/tmp/go"]);
    // A loop that saw the gate just before it went may still start one more dd: the usage
    // must stay low for longer than a loop round (0.3 s) before the limit shrinks.
    let settled = || {
        let low = || read(&usage_file).parse::<u64>().unwrap() < 32 << 20;
        low() && {
            std::thread::sleep(Duration::from_millis(800));
            low()
        }
    };
    wait_until("the last dd to end", Duration::from_secs(10), settled);
    assert_eq!(inst.ok(&["update", "-m", "64m", "grow"]).trim(), "grow");
    assert_eq!(read(&limit_file), (64u64 << 20).to_string());
    inst.ok(&["exec", "grow", "touch", "/tmp/go"]);
    wait_until(
        "an OOM kill under the new limit",
        Duration::from_secs(10 * u64::from(slow())),
        || oom_kills() > 0,
    );
    assert_eq!(inst.inspect("grow")["State"]["Status"], "running");
    // Persisted for the next start.
    let id = inst.inspect("grow")["Id"].as_str().unwrap().to_string();
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(inst.root().join("containers").join(&id).join("config.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["resources"]["memory"], 64u64 << 20);
    // Raising it again (after the allocations stop) ends the kills.
    inst.ok(&["exec", "grow", "rm", "/tmp/go"]);
    wait_until("the last dd to end", Duration::from_secs(10), settled);
    inst.ok(&["update", "-m", "512m", "--memory-swap", "-1", "grow"]);
    assert_eq!(read(&limit_file), (512u64 << 20).to_string());
    let kills = oom_kills();
    inst.ok(&["exec", "grow", "touch", "/tmp/go"]);
    std::thread::sleep(Duration::from_secs(2 * u64::from(slow())));
    assert_eq!(oom_kills(), kills, "no more kills under 512m");
    inst.run(&["kill", "grow"]);
}

#[test]
fn update_validates_and_reports_unknown_containers() {
    let inst = Instance::with_busybox();
    let out = inst.run(&["update", "-m", "64m", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"));
    let out = inst.run(&["update", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one or more flags"));
    run_detached(
        &inst,
        &["--name", "upd", "-m", "64m", "busybox", "sleep", "1000"],
    );
    let out = inst.run(&["update", "--cpus", "0.5", "--cpu-quota", "50000", "upd"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let out = inst.run(&["update", "-m", "1k", "upd"]);
    assert_eq!(out.status.code(), Some(125));
    inst.ok(&[
        "update",
        "--pids-limit",
        "20",
        "--cpus",
        "1.5",
        "-c",
        "512",
        "upd",
    ]);
    assert_eq!(
        read(&ebrun_tests::common::cgroup_file(
            &inst, "upd", "pids", "pids.max"
        )),
        "20"
    );
    if unified() {
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst, "upd", "cpu", "cpu.max"
            )),
            "150000 100000"
        );
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "upd",
                "cpu",
                "cpu.weight"
            )),
            "20"
        );
    } else {
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "upd",
                "cpu",
                "cpu.cfs_quota_us"
            )),
            "150000"
        );
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "upd",
                "cpu",
                "cpu.shares"
            )),
            "512"
        );
    }
    inst.ok(&["rm", "-f", "upd"]);
}

#[test]
fn limits_are_written_with_docker_semantics() {
    let inst = Instance::with_busybox();
    run_detached(
        &inst,
        &[
            "--name",
            "wr",
            "-m",
            "64m",
            "--memory-reservation",
            "32m",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--oom-score-adj",
            "500",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let pid = inst.inspect("wr")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(
        read(&PathBuf::from(format!("/proc/{pid}/oom_score_adj"))),
        "500"
    );
    if unified() {
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "wr",
                "memory",
                "memory.max"
            )),
            "67108864"
        );
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "wr",
                "memory",
                "memory.low"
            )),
            "33554432"
        );
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst, "wr", "cpu", "cpu.max"
            )),
            "25000 50000"
        );
        let swap = ebrun_tests::common::cgroup_file(&inst, "wr", "memory", "memory.swap.max");
        if swap.exists() {
            // Docker's default --memory-swap is twice -m: as much swap as memory.
            assert_eq!(read(&swap), "67108864");
        }
    } else {
        let mem = |f| read(&ebrun_tests::common::cgroup_file(&inst, "wr", "memory", f));
        assert_eq!(mem("memory.limit_in_bytes"), "67108864");
        assert_eq!(mem("memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(mem("memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "wr",
                "cpu",
                "cpu.cfs_period_us"
            )),
            "50000"
        );
        assert_eq!(
            read(&ebrun_tests::common::cgroup_file(
                &inst,
                "wr",
                "cpu",
                "cpu.cfs_quota_us"
            )),
            "25000"
        );
    }
    inst.ok(&["rm", "-f", "wr"]);
}

#[test]
fn bad_values_exit_125_name_the_flag_and_create_nothing() {
    let inst = Instance::with_busybox();
    let n = std::thread::available_parallelism().unwrap().get();
    let cases: Vec<(Vec<String>, String)> =
        vec![
        (vec!["-m".into(), "1k".into()], "Minimum memory limit allowed is 6MB".into()),
        (
            vec!["-m".into(), "64m".into(), "--memory-swap".into(), "32m".into()],
            "Minimum memoryswap limit should be larger than memory limit".into(),
        ),
        (
            vec!["--cpus".into(), "0.5".into(), "--cpu-quota".into(), "50000".into()],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
        ),
        (
            vec!["--cpus".into(), "0.5".into(), "--cpu-period".into(), "50000".into()],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ),
        (
            vec!["--cpus".into(), format!("{}", n + 1)],
            format!("Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"),
        ),
        (
            vec!["--cpuset-cpus".into(), "1-99".into()],
            "Requested CPUs are not available - requested 1-99".into(),
        ),
        (
            vec!["--cpuset-cpus".into(), "x".into()],
            "Invalid value x for cpuset cpus".into(),
        ),
        (
            vec!["--cpu-period".into(), "500".into()],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        ),
        (
            vec!["--cpu-quota".into(), "999".into()],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ),
        (
            vec!["--memory-swappiness".into(), "101".into()],
            "valid memory swappiness range is 0-100".into(),
        ),
        (
            vec!["-m".into(), "64m".into(), "--memory-reservation".into(), "128m".into()],
            "Minimum memory limit can not be less than memory reservation limit".into(),
        ),
        (
            vec!["--oom-score-adj".into(), "1001".into()],
            "range for oom score adj is [-1000, 1000]".into(),
        ),
        (
            vec!["--blkio-weight".into(), "5".into()],
            "Range of blkio weight is from 10 to 1000".into(),
        ),
        (vec!["--cpu-rt-runtime".into(), "10000".into()], "--cpu-rt-runtime".into()),
        (vec!["-m".into(), "lots".into()], "invalid size: 'lots'".into()),
        (
            vec!["--device-read-bps".into(), "/dev/nonexistent:1mb".into()],
            "/dev/nonexistent".into(),
        ),
    ];
    for (flags, message) in cases {
        let mut args: Vec<&str> = vec!["run", "--network", "none", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["busybox", "true"]);
        let out = inst.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {err}");
        assert!(err.contains(&message), "{flags:?}: {err}");
        let flag = flags[0].trim_start_matches('-');
        assert!(err.contains(flag), "{flags:?} names the flag: {err}");
    }
    let containers = inst.root().join("containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing created: {left:?}");
    assert!(inst.host_objects().is_empty(), "{:?}", inst.host_objects());
}

#[test]
fn warnings_go_to_stderr_and_the_container_runs() {
    let inst = Instance::with_busybox();
    let out = inst.run(&[
        "run",
        "--network",
        "none",
        "--rm",
        "--kernel-memory",
        "64m",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kernel memory limit is deprecated"), "{err}");
    if !unified() {
        let out = inst.run(&[
            "run",
            "--network",
            "none",
            "--rm",
            "--oom-kill-disable",
            "busybox",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous"),
            "{err}"
        );
    }
}

#[test]
fn stats_shows_docker_columns_and_the_limit() {
    let _turn = cpu_turn();
    let inst = Instance::with_busybox();
    run_detached(
        &inst,
        &[
            "--name", "st", "-m", "64m", "--cpus", "0.5", "busybox", "sh", "-c", BUSY,
        ],
    );
    let out = inst.ok(&["stats", "--no-stream", "st"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split("   ").map(str::trim).collect();
    assert!(
        header.iter().filter(|h| !h.is_empty()).eq([
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
        .iter()),
        "{out}"
    );
    assert!(lines.next().unwrap().contains("/ 64MiB"), "{out}");
    let json = inst.ok(&["stats", "--no-stream", "--format", "json", "st"]);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Name"], "st");
    assert_eq!(v["PIDs"], "1");
    let cpu: f64 = v["CPUPerc"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    // Docker's CPU % is per CPU: the 0.5 CPU cap shows as about 50% (Docker's formula
    // leaves steal time out of the host's CPU time, so a loaded VM reads high).
    assert!((30.0..=70.0).contains(&cpu), "CPU {cpu}%");
    assert!(v["MemUsage"].as_str().unwrap().ends_with("/ 64MiB"), "{v}");
    inst.run(&["kill", "st"]);
}
