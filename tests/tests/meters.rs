//! The eBPF meters against ground truth, on real containers: CPU time vs the cgroup's own
//! usage, bytes on a port vs bytes actually sent, the per-container series bound, OOM kill
//! events, memory pressure and reclaim, run-queue latency, and clean removal.

use ebrun_tests::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{image_layout, Instance};
use serde_json::Value;

/// The meters of a container.
fn meters(inst: &Instance, name: &str) -> Value {
    inst.inspect(name)["Ebrun"]["Meters"].clone()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Waits until the container runs and returns its pid.
fn wait_running(inst: &Instance, name: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = inst.run(&["inspect", name]);
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            if let Some(pid) = v[0]["State"]["Pid"].as_i64().filter(|p| *p > 0) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "{name} never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One traffic series: (payload bytes, wire bytes, wire packets), zero if absent.
fn series(m: &Value, direction: &str, protocol: &str, port: Option<u64>) -> (u64, u64, u64) {
    m["Traffic"]
        .as_array()
        .expect("traffic meter")
        .iter()
        .find(|s| {
            s["Direction"] == direction && s["Protocol"] == protocol && s["Port"].as_u64() == port
        })
        .map_or((0, 0, 0), |s| {
            (
                u(&s["PayloadBytes"]),
                u(&s["WireBytes"]),
                u(&s["WirePackets"]),
            )
        })
}

/// A port for this test process's loopback traffic, distinct per test and per run.
fn test_port(offset: u16) -> u16 {
    20000 + (std::process::id() % 400) as u16 * 20 + offset
}

/// Kills a foreground `ebrun run` child if the test fails before waiting for it.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn wait(mut self) -> std::process::ExitStatus {
        self.0.take().unwrap().wait().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `script` in a detached container `name` and checks that its eBPF on-CPU time over
/// about 3 s is within 1% of its cgroup's own usage; `meanwhile` runs during those seconds.
fn assert_cpu_time_matches_the_cgroup(
    inst: &Instance,
    name: &str,
    script: &str,
    meanwhile: impl FnOnce(),
) {
    inst.ok(&[
        "run", "-d", "--net", "none", "--name", name, "busybox", "sh", "-c", script,
    ]);
    wait_running(inst, name);
    std::thread::sleep(Duration::from_millis(300));
    let sample = || {
        let m = meters(inst, name);
        (
            u(&m["Cpu"]["OnCpuNs"]),
            u(&m["CgroupCpu"]["UsageUsec"]) * 1000,
        )
    };
    // Sampled while paused (frozen), so both counters stand still while read.
    inst.ok(&["pause", name]);
    let (bpf0, cg0) = sample();
    inst.ok(&["unpause", name]);
    let started = std::time::Instant::now();
    meanwhile();
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    inst.ok(&["pause", name]);
    let (bpf1, cg1) = sample();
    inst.ok(&["unpause", name]);
    let (bpf, cg) = ((bpf1 - bpf0) as f64, (cg1 - cg0) as f64);
    let error = (bpf - cg).abs() / cg;
    eprintln!(
        "{name}: on-CPU over {:.1} s: bpf {bpf} ns, cgroup {cg} ns, error {:.3}%",
        started.elapsed().as_secs_f64(),
        error * 100.0
    );
    assert!(cg > 1e9, "the busy loop ran only {cg} ns");
    assert!(
        error < 0.01,
        "bpf {bpf} vs cgroup {cg}: {:.3}%",
        error * 100.0
    );
    inst.ok(&["rm", "-f", name]);
}

#[test]
fn cpu_seconds_match_the_cgroups_own_usage_within_one_percent() {
    let inst = Instance::with_busybox();
    assert_cpu_time_matches_the_cgroup(&inst, "busy", "while :; do :; done", || {});
}

/// Every container start and removal changes the CPU meter's registrations, which makes each
/// CPU look up its running task's counter slot again: a busy container with two spinners
/// (switching between each other and the other containers' tasks) loses nothing meanwhile.
#[test]
fn cpu_seconds_stay_exact_while_other_containers_come_and_go() {
    let inst = Instance::with_busybox();
    let script = "while :; do :; done & while :; do :; done";
    assert_cpu_time_matches_the_cgroup(&inst, "busy2", script, || {
        // For 2.5 s, and at least twice (an emulated VM starts only a few per second).
        let until = std::time::Instant::now() + Duration::from_millis(2500);
        let mut runs = 0;
        while runs < 2 || std::time::Instant::now() < until {
            inst.ok(&["run", "--rm", "--net", "none", "busybox", "true"]);
            runs += 1;
        }
        eprintln!("{runs} containers came and went meanwhile");
    });
}

#[test]
fn tcp_bytes_on_a_port_match_the_bytes_actually_sent() {
    let inst = Instance::with_busybox();
    let port = test_port(0).to_string();
    // Server and client in one container over its own loopback (--net none: its own network
    // namespace, so the kernel's TCP counters read inside are this transfer's): each payload
    // byte leaves the client (egress) and reaches the server (ingress), both on the server's
    // port. (busybox nc -l stops reading soon after its own stdin ends: it gets one that
    // stays open.) A loaded host can make the slow reader's buffer overflow; the segments
    // TCP then sends again are real traffic the meter must count too, so the test reads how
    // many there were.
    let script = format!(
        "sleep 60 | nc -l -p {port} > /tmp/got & sleep 0.5; \
         head -c 300000 /dev/zero | nc 127.0.0.1 {port}; sleep 0.5; wc -c < /tmp/got; \
         awk '/^Tcp:/ {{ if (!n) {{ for (i = 1; i <= NF; i++) if ($i == \"RetransSegs\") c = i; n = 1 }} \
         else print $c }}' /proc/net/snmp"
    );
    let out = inst.ok(&[
        "run", "--net", "none", "--name", "tcp", "busybox", "sh", "-c", &script,
    ]);
    let mut lines = out.lines();
    let received: u64 = lines
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .expect("byte count");
    let resent: u64 = lines
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .expect("RetransSegs");
    assert_eq!(received, 300_000, "the server got everything");
    let m = meters(&inst, "tcp");
    let port: u64 = port.parse().unwrap();
    for direction in ["egress", "ingress"] {
        let (payload, wire, packets) = series(&m, direction, "tcp", Some(port));
        eprintln!("{direction} tcp:{port}: payload {payload} wire {wire} packets {packets}, received {received}, segments sent again {resent}");
        if resent == 0 {
            assert_eq!(payload, received, "{direction} payload");
        } else {
            // At most a 64 KiB loopback segment per retransmission on top.
            assert!(
                payload >= received && payload <= received + resent * 65_536,
                "{direction} payload {payload} for {received} received and {resent} resent"
            );
        }
        // IP (20) + TCP (20..60) headers per packet on top.
        assert!(wire >= payload + 40 * packets && wire <= payload + 80 * packets);
    }
    // No ephemeral port became a series.
    let ports: BTreeSet<u64> = m["Traffic"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Port"].as_u64())
        .collect();
    assert_eq!(ports, BTreeSet::from([port]));
    inst.ok(&["rm", "tcp"]);
}

#[test]
fn udp_bytes_on_a_port_match_the_datagrams_sent() {
    let inst = Instance::with_busybox();
    let port = test_port(1);
    // 20 datagrams of 1000 bytes, each from a fresh socket (so the ICMP errors of the closed
    // port never fail a send). busybox nc has no UDP: send with the Debian image's bash.
    inst.ok(&[
        "image",
        "import",
        image_layout("debian-tools").to_str().unwrap(),
        "tools:latest",
    ]);
    let script =
        format!("for i in $(seq 20); do head -c 1000 /dev/zero > /dev/udp/127.0.0.1/{port}; done");
    inst.ok(&[
        "run", "--net", "host", "--name", "udp", "tools", "bash", "-c", &script,
    ]);
    let m = meters(&inst, "udp");
    let (payload, wire, packets) = series(&m, "egress", "udp", Some(u64::from(port)));
    eprintln!("egress udp:{port}: payload {payload} wire {wire} packets {packets}");
    assert_eq!(payload, 20_000);
    assert_eq!(packets, 20);
    assert_eq!(wire, 20_000 + 20 * 28, "IPv4 + UDP headers");
    inst.ok(&["rm", "udp"]);
}

#[test]
fn outbound_connections_to_2000_ports_stay_within_the_series_bound() {
    let inst = Instance::with_busybox();
    let bound = 16;
    let first = 40000 - 2000 - (std::process::id() % 1000) as u64 * 2;
    let script = format!(
        "p={first}; end=$((p+2000)); while [ $p -lt $end ]; do nc -w 1 127.0.0.1 $p </dev/null 2>/dev/null; p=$((p+1)); done; true"
    );
    let out = inst
        .command(&[
            "run", "--net", "host", "--name", "many", "busybox", "sh", "-c", &script,
        ])
        .env("EBRUN_METER_PORTS", bound.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = meters(&inst, "many");
    let tcp: Vec<&Value> = m["Traffic"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Protocol"] == "tcp")
        .collect();
    let ports: BTreeSet<u64> = tcp.iter().filter_map(|s| s["Port"].as_u64()).collect();
    eprintln!("{} tcp ports with own series: {ports:?}", ports.len());
    assert_eq!(ports.len(), bound, "series bound");
    assert!(ports.iter().all(|p| (first..first + 2000).contains(p)));
    // Every SYN of the other 1984 ports went to "other".
    let (_, _, other_packets) = series(&m, "egress", "tcp", None);
    assert!(
        other_packets >= 2000 - bound as u64,
        "{other_packets} packets under other"
    );
    inst.ok(&["rm", "many"]);
}

#[test]
fn two_containers_oom_together_one_event_each_with_the_right_pid_and_command() {
    let inst = Instance::with_busybox();
    // The shell sleeps (so the test can read its pid), then doubles a string until its
    // 32 MiB limit kills it: one OOM kill, of the container's init, command "sh".
    let script = "sleep 2; x=0123456789abcdef; while :; do x=$x$x; done";
    let start = |name: &str| {
        ChildGuard(Some(
            inst.command(&[
                "run", "--net", "none", "-m", "32m", "--name", name, "busybox", "sh", "-c", script,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        ))
    };
    let (a, b) = (start("oom-a"), start("oom-b"));
    let pid_a = wait_running(&inst, "oom-a");
    let pid_b = wait_running(&inst, "oom-b");
    let (id_a, id_b) = (
        u(&inst.inspect("oom-a")["Ebrun"]["CgroupId"]),
        u(&inst.inspect("oom-b")["Ebrun"]["CgroupId"]),
    );
    assert_eq!(a.wait().code(), Some(137));
    assert_eq!(b.wait().code(), Some(137));
    for (name, pid, id) in [("oom-a", pid_a, id_a), ("oom-b", pid_b, id_b)] {
        let v = inst.inspect(name);
        assert_eq!(v["State"]["OOMKilled"], true, "{name}");
        let oom = &v["Ebrun"]["Meters"]["Oom"];
        eprintln!("{name}: {oom}");
        assert_eq!(oom["Kills"], 1, "{name}");
        let events = oom["Events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        let e = &events[0];
        assert_eq!(e["Pid"].as_i64(), Some(pid), "{name}");
        assert_eq!(e["Command"], "sh", "{name}");
        assert_eq!(u(&e["CgroupId"]), id, "{name}");
        assert!(
            u(&e["AnonRssKb"]) > 16 * 1024,
            "{name}: the victim held its memory"
        );
    }
    // The kill events (OomEvent.cgroup_id at byte 16) are blanked by rm.
    let events = Path::new("/sys/fs/bpf")
        .join(inst.prefix())
        .join("maps/OOM_EVENTS");
    let victims = pinned_map_u64s(&events, "value", 16);
    assert!(
        victims.contains(&id_a) && victims.contains(&id_b),
        "{victims:?}"
    );
    inst.ok(&["rm", "oom-a", "oom-b"]);
    let victims = pinned_map_u64s(&events, "value", 16);
    assert!(
        !victims.contains(&id_a) && !victims.contains(&id_b),
        "events of removed containers left: {victims:?}"
    );
}

#[test]
fn memory_pressure_rises_in_a_limited_container_and_not_in_an_idle_one() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run", "-d", "--net", "none", "--name", "idle", "busybox", "sleep", "120",
    ]);
    wait_running(&inst, "idle");
    let idle_before = meters(&inst, "idle");
    // Page cache far beyond the 32 MiB limit: the container reclaims from itself, again and
    // again, and stalls while it does.
    let script = "i=0; while [ $i -lt 3 ]; do i=$((i+1)); \
                  dd if=/dev/zero of=/tmp/f bs=1M count=200 2>/dev/null; cat /tmp/f > /dev/null; done";
    let child = ChildGuard(Some(
        inst.command(&[
            "run", "--net", "none", "-m", "32m", "--name", "pressed", "busybox", "sh", "-c", script,
        ])
        .spawn()
        .unwrap(),
    ));
    wait_running(&inst, "pressed");
    let mut during = Value::Null;
    // Read while it runs (PSI lives in the cgroup dir, gone after exit).
    while inst.inspect("pressed")["State"]["Status"] == "running" {
        let m = meters(&inst, "pressed");
        if !m["Pressure"].is_null() {
            during = m;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(child.wait().success());
    let after = meters(&inst, "pressed");
    let reclaims = u(&after["Reclaim"]["MemcgReclaims"]);
    eprintln!(
        "pressed: reclaim {} psi {}",
        after["Reclaim"], during["Pressure"]["Memory"]
    );
    assert!(reclaims > 10, "memcg reclaims: {reclaims}");
    assert!(
        u(&after["Reclaim"]["MemcgReclaimedPages"]) > 200 * 256,
        "pages reclaimed"
    );
    assert!(u(&after["Reclaim"]["MemcgReclaimNs"]) > 0);
    assert!(
        u(&during["Pressure"]["Memory"]["SomeTotalUs"]) > 0,
        "memory PSI: {}",
        during["Pressure"]
    );
    let idle = meters(&inst, "idle");
    assert_eq!(
        idle["Reclaim"], idle_before["Reclaim"],
        "idle container reclaimed"
    );
    assert_eq!(u(&idle["Reclaim"]["MemcgReclaims"]), 0);
    assert_eq!(
        idle["Pressure"]["Memory"]["SomeTotalUs"], idle_before["Pressure"]["Memory"]["SomeTotalUs"],
        "idle container stalled on memory"
    );
    inst.ok(&["rm", "-f", "idle", "pressed"]);
}

#[test]
fn busy_containers_on_one_cpu_show_run_queue_latency_and_an_idle_one_none() {
    let inst = Instance::with_busybox();
    for name in ["spin-a", "spin-b"] {
        inst.ok(&[
            "run",
            "-d",
            "--net",
            "none",
            "--cpuset-cpus",
            "0",
            "--name",
            name,
            "busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ]);
        wait_running(&inst, name);
    }
    inst.ok(&[
        "run", "-d", "--net", "none", "--name", "idle", "busybox", "sleep", "120",
    ]);
    wait_running(&inst, "idle");
    let waits = |name: &str| {
        let m = meters(&inst, name);
        (u(&m["Cpu"]["RunqWaits"]), u(&m["Cpu"]["RunqWaitNs"]))
    };
    let before: Vec<(u64, u64)> = ["spin-a", "spin-b", "idle"]
        .iter()
        .map(|n| waits(n))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<(u64, u64)> = ["spin-a", "spin-b", "idle"]
        .iter()
        .map(|n| waits(n))
        .collect();
    for (i, name) in ["spin-a", "spin-b"].iter().enumerate() {
        let (n, ns) = (after[i].0 - before[i].0, after[i].1 - before[i].1);
        eprintln!("{name}: {n} run-queue waits, {} ms", ns / 1_000_000);
        // Sharing one CPU, each waits for the other about half of the time.
        assert!(n > 10, "{name}: {n} waits");
        assert!(ns > 500_000_000, "{name}: waited only {ns} ns in 2 s");
    }
    assert_eq!(after[2], before[2], "the idle container waited");
    let hist = &meters(&inst, "spin-a")["Cpu"]["RunqHistogramUs"];
    assert!(hist.as_array().is_some_and(|h| !h.is_empty()));
    inst.ok(&["rm", "-f", "spin-a", "spin-b", "idle"]);
}

/// The keys (as cgroup ids: their first 8 bytes) of a pinned map, through bpftool.
fn pinned_map_cgroup_ids(pin: &Path) -> Vec<u64> {
    pinned_map_u64s(pin, "key", 0)
}

/// The 8 bytes at byte `at` of each entry's `part` ("key" or "value") of a pinned map, as
/// u64s.
fn pinned_map_u64s(pin: &Path, part: &str, at: usize) -> Vec<u64> {
    let out = Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(pin)
        .output()
        .expect("bpftool");
    assert!(out.status.success(), "bpftool map dump {}", pin.display());
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let bytes: Vec<u8> = e[part]
                .as_array()?
                .iter()
                .filter_map(|b| u8::from_str_radix(b.as_str()?.trim_start_matches("0x"), 16).ok())
                .collect();
            Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        })
        .collect()
}

/// Ids of the programs behind the instance's pinned links, through bpftool.
fn pinned_program_ids(pins: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(pins.join("links")).unwrap().flatten() {
        let out = Command::new("bpftool")
            .args(["-j", "link", "show", "pinned"])
            .arg(entry.path())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(u(&v["prog_id"]));
    }
    ids
}

#[test]
fn counters_continue_across_readers_and_rm_leaves_no_bpf_object() {
    let inst = Instance::with_busybox();
    let port = test_port(2).to_string();
    // The listener's stdin stays open: at the end of its input (a detached container's is
    // empty) busybox nc closes the connection, racing the client's data.
    let script = format!(
        "sleep 1000 | nc -l -p {port} > /dev/null & for i in $(seq 50); do \
         head -c 50000 /dev/zero | nc 127.0.0.1 {port} && break; sleep 0.1; done; \
         while :; do :; done"
    );
    inst.ok(&[
        "run", "-d", "--net", "host", "--name", "meter", "busybox", "sh", "-c", &script,
    ]);
    wait_running(&inst, "meter");
    let id = u(&inst.inspect("meter")["Ebrun"]["CgroupId"]);
    let pins = Path::new("/sys/fs/bpf").join(inst.prefix());
    // Each inspect is a new reading process: counters carry on, never reset.
    let mut last = 0;
    for _ in 0..3 {
        let cpu = u(&meters(&inst, "meter")["Cpu"]["OnCpuNs"]);
        assert!(cpu > last, "on-CPU time went from {last} to {cpu}");
        last = cpu;
        std::thread::sleep(Duration::from_millis(300));
    }
    // The client retries until the listener is up (slow under a loaded CI machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = meters(&inst, "meter");
        if series(&m, "egress", "tcp", Some(port.parse().unwrap())).0 > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no TCP payload counted on :{port} in 10 s: {}",
            m["Traffic"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The container's links and entries exist while it runs...
    let links: Vec<String> = std::fs::read_dir(pins.join("links"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("cg{id}-")))
        .collect();
    assert_eq!(links.len(), 2, "ingress and egress links: {links:?}");
    let maps = [
        "CPU_CGROUPS",
        "RECLAIM",
        "OOM_KILLS",
        "EXEC_COUNT",
        "TRAFFIC",
        "TRAFFIC_CONF",
    ];
    for map in ["CPU_CGROUPS", "TRAFFIC"] {
        assert!(
            pinned_map_cgroup_ids(&pins.join("maps").join(map)).contains(&id),
            "{map}"
        );
    }
    // The CPU meter's counter slot is claimed by this cgroup, and freed by rm.
    let owners = pins.join("maps").join("CPU_SLOT_OWNERS");
    assert!(
        pinned_map_u64s(&owners, "value", 0).contains(&id),
        "CPU_SLOT_OWNERS"
    );
    let cgroup_dir = inst.inspect("meter")["Ebrun"]["Cgroups"]["unified_dir"]
        .as_str()
        .unwrap()
        .to_string();
    let attached = Command::new("bpftool")
        .args(["-j", "cgroup", "show", &cgroup_dir])
        .output()
        .unwrap();
    let attached: Value = serde_json::from_slice(&attached.stdout).unwrap();
    // The two traffic programs, and the device allowlist (not a meter; it goes with the
    // cgroup).
    let names: Vec<&str> = attached
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["traffic_ingress", "traffic_egress", "device_allowlist"],
        "{attached}"
    );
    // ... and none after rm.
    inst.ok(&["rm", "-f", "meter"]);
    for map in maps {
        let ids = pinned_map_cgroup_ids(&pins.join("maps").join(map));
        assert!(
            !ids.contains(&id),
            "{map} still has an entry of the removed container"
        );
    }
    assert!(
        !pinned_map_u64s(&owners, "value", 0).contains(&id),
        "the removed container still owns a CPU_TIME slot"
    );
    let left: Vec<_> = std::fs::read_dir(pins.join("links"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("cg"))
        .collect();
    assert!(left.is_empty(), "container links left: {left:?}");
    // Teardown unloads the instance: none of its programs stays in the kernel.
    let programs = pinned_program_ids(&pins);
    assert!(!programs.is_empty());
    inst.ok(&["system", "teardown"]);
    assert!(!pins.exists());
    std::thread::sleep(Duration::from_millis(500));
    for prog in programs {
        let out = Command::new("bpftool")
            .args(["prog", "show", "id", &prog.to_string()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "program {prog} still loaded");
    }
}
