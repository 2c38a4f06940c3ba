//! `ebrun serve` end to end: the Prometheus exposition on real containers doing real work
//! (every family present with real values, promtool clean, values equal to the meters'
//! snapshots, series of removed containers gone, counters continuing over a restart of
//! serve), the events stream (Docker's fields, in order, an OOM kill from while serve was
//! down), and the OTLP export decoded with the OpenTelemetry protobuf definitions.
//! Loopback only, free ports chosen per test.

use ebrun_tests::common;
use ebrun_tests::serve_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{image_layout, Instance};
use serde_json::Value;
use serve_support::{eventually, free_port, wait_running, Metrics, Serve};

fn inspect(inst: &Instance, name: &str) -> Value {
    serde_json::from_str::<Value>(&inst.ok(&["inspect", name])).expect("inspect json")[0].clone()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs a container in the foreground that sends 300000 bytes to its own port `port` over
/// its loopback (ingress and egress on that port), then exits.
fn tcp_traffic(inst: &Instance, name: &str, port: u16) {
    let script = format!(
        "sleep 5 | nc -l -p {port} > /tmp/got & sleep 0.5; \
         head -c 300000 /dev/zero | nc 127.0.0.1 {port}; sleep 0.5; wc -c < /tmp/got"
    );
    let out = inst.ok(&[
        "run", "--net", "none", "--name", name, "busybox", "sh", "-c", &script,
    ]);
    assert_eq!(out.trim(), "300000", "bytes received");
}

/// A family, the labels of one series of it, and what a positive value shows.
type Check<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// The families every scrape of a busy instance must have.
const FAMILIES: [&str; 35] = [
    "ebrun_container_info",
    "ebrun_container_state",
    "ebrun_container_restarts_total",
    "ebrun_container_start_time_seconds",
    "ebrun_container_execs_total",
    "ebrun_container_cpu_usage_seconds_total",
    "ebrun_container_cpu_user_seconds_total",
    "ebrun_container_cpu_system_seconds_total",
    "ebrun_container_cpu_cfs_periods_total",
    "ebrun_container_cpu_cfs_throttled_periods_total",
    "ebrun_container_cpu_cfs_throttled_seconds_total",
    "ebrun_container_sched_oncpu_seconds_total",
    "ebrun_container_sched_switches_total",
    "ebrun_container_sched_runqueue_latency_seconds",
    "ebrun_container_memory_usage_bytes",
    "ebrun_container_memory_working_set_bytes",
    "ebrun_container_memory_limit_bytes",
    "ebrun_container_memory_reservation_bytes",
    "ebrun_container_memory_reclaims_total",
    "ebrun_container_memory_reclaim_seconds_total",
    "ebrun_container_memory_reclaimed_bytes_total",
    "ebrun_container_oom_kills_total",
    "ebrun_container_pressure_stall_seconds_total",
    "ebrun_container_network_bytes_total",
    "ebrun_container_network_payload_bytes_total",
    "ebrun_container_network_packets_total",
    "ebrun_container_pids",
    "ebrun_container_pids_limit",
    "ebrun_build_info",
    "ebrun_meter_available",
    "ebrun_bpf_programs_loaded",
    "ebrun_containers",
    "ebrun_scrape_duration_seconds",
    "ebrun_container_sched_runqueue_latency_seconds",
    "ebrun_container_info",
];

#[test]
fn every_family_has_real_values_for_busy_containers_and_promtool_is_clean() {
    let inst = Instance::with_busybox();
    // CPU: two spinners sharing one CPU under a half-CPU quota (usage, run-queue waits,
    // throttling, CPU pressure), with memory and pids limits.
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "busy",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--pids-limit",
        "100",
        "--cpus",
        "0.5",
        "--cpuset-cpus",
        "0",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done & while :; do :; done",
    ]);
    // Network: a client sending to a server on its own loopback, again and again.
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "net",
        "busybox",
        "sh",
        "-c",
        "while :; do nc -l -p 7000 > /dev/null; done & sleep 0.3; \
         while :; do head -c 100000 /dev/zero | nc 127.0.0.1 7000; sleep 0.3; done",
    ]);
    // Memory: page cache far beyond a 32 MiB limit (reclaim, memory pressure).
    inst.ok(&[
        "run", "-d", "--net", "none", "--name", "mem", "-m", "32m", "busybox", "sh", "-c",
        "while :; do dd if=/dev/zero of=/tmp/f bs=1M count=100 2>/dev/null; cat /tmp/f > /dev/null; done",
    ]);
    // An OOM kill: the shell outgrows its 32 MiB limit.
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "oom",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "sleep 1; x=0123456789abcdef; while :; do x=$x$x; done",
    ]);
    let ids: BTreeMap<&str, String> = ["busy", "net", "mem", "oom"]
        .into_iter()
        .map(|n| (n, wait_running(&inst, n)))
        .collect();
    let serve = Serve::start(&inst, &[]);
    let m = eventually(&serve, 60, |m| {
        let c = |name: &'static str| [("name", name)];
        let positive = [
            ("ebrun_container_cpu_usage_seconds_total", "busy"),
            ("ebrun_container_cpu_user_seconds_total", "busy"),
            ("ebrun_container_cpu_cfs_periods_total", "busy"),
            ("ebrun_container_cpu_cfs_throttled_periods_total", "busy"),
            ("ebrun_container_cpu_cfs_throttled_seconds_total", "busy"),
            ("ebrun_container_sched_oncpu_seconds_total", "busy"),
            ("ebrun_container_sched_switches_total", "busy"),
            (
                "ebrun_container_sched_runqueue_latency_seconds_count",
                "busy",
            ),
            ("ebrun_container_sched_runqueue_latency_seconds_sum", "busy"),
            ("ebrun_container_memory_usage_bytes", "busy"),
            ("ebrun_container_memory_working_set_bytes", "busy"),
            ("ebrun_container_pids", "busy"),
            ("ebrun_container_execs_total", "busy"),
            ("ebrun_container_start_time_seconds", "busy"),
        ];
        for (family, name) in positive {
            let v = m.values(family, &c(name));
            if v.iter().sum::<f64>() <= 0.0 {
                return Err(format!("{family}{{name={name}}} = {v:?}"));
            }
        }
        let checks: [Check; 8] = [
            (
                "ebrun_container_pressure_stall_seconds_total",
                &[("name", "busy"), ("resource", "cpu"), ("kind", "some")],
                "cpu pressure",
            ),
            (
                "ebrun_container_pressure_stall_seconds_total",
                &[("name", "mem"), ("resource", "memory"), ("kind", "some")],
                "memory pressure",
            ),
            (
                "ebrun_container_memory_reclaims_total",
                &[("name", "mem"), ("kind", "memcg")],
                "reclaims",
            ),
            (
                "ebrun_container_memory_reclaim_seconds_total",
                &[("name", "mem"), ("kind", "memcg")],
                "reclaim time",
            ),
            (
                "ebrun_container_memory_reclaimed_bytes_total",
                &[("name", "mem"), ("kind", "memcg")],
                "reclaimed",
            ),
            (
                "ebrun_container_network_bytes_total",
                &[
                    ("name", "net"),
                    ("direction", "ingress"),
                    ("protocol", "tcp"),
                    ("port", "7000"),
                ],
                "ingress bytes",
            ),
            (
                "ebrun_container_network_payload_bytes_total",
                &[
                    ("name", "net"),
                    ("direction", "egress"),
                    ("protocol", "tcp"),
                    ("port", "7000"),
                ],
                "egress payload",
            ),
            (
                "ebrun_container_network_packets_total",
                &[
                    ("name", "net"),
                    ("direction", "egress"),
                    ("protocol", "tcp"),
                    ("port", "7000"),
                ],
                "egress packets",
            ),
        ];
        for (family, labels, what) in checks {
            let v = m.values(family, labels);
            if v.iter().sum::<f64>() <= 0.0 {
                return Err(format!("{what}: {family}{labels:?} = {v:?}"));
            }
        }
        if m.values("ebrun_container_oom_kills_total", &c("oom")) != [1.0] {
            return Err("no OOM kill yet".into());
        }
        if m.values(
            "ebrun_container_state",
            &[("name", "oom"), ("state", "exited")],
        ) != [1.0]
        {
            return Err("oom container not exited yet".into());
        }
        if m.value(
            "ebrun_container_network_payload_bytes_total",
            &[
                ("name", "net"),
                ("direction", "ingress"),
                ("protocol", "tcp"),
                ("port", "7000"),
            ],
        ) < 100_000.0
        {
            return Err("less than one transfer".into());
        }
        Ok(())
    });
    // Everything asked for is there, with the values the containers were given.
    let scraped = serve.scrape();
    let m2 = Metrics::parse(&scraped);
    for family in FAMILIES {
        assert!(m2.types.contains_key(family), "family {family} missing");
    }
    let busy = [("name", "busy")];
    assert_eq!(
        m.value("ebrun_container_memory_limit_bytes", &busy),
        64.0 * 1048576.0
    );
    assert_eq!(
        m.value("ebrun_container_memory_reservation_bytes", &busy),
        32.0 * 1048576.0
    );
    assert_eq!(m.value("ebrun_container_pids_limit", &busy), 100.0);
    assert!(m.value("ebrun_container_pids", &busy) >= 2.0);
    assert_eq!(
        m.value(
            "ebrun_container_state",
            &[("name", "busy"), ("state", "running")]
        ),
        1.0
    );
    assert_eq!(m.value("ebrun_container_restarts_total", &busy), 0.0);
    assert_eq!(
        m.value(
            "ebrun_container_info",
            &[("name", "busy"), ("image", "busybox"), ("id", &ids["busy"])]
        ),
        1.0
    );
    assert_eq!(m.value("ebrun_containers", &[("state", "running")]), 3.0);
    assert_eq!(m.value("ebrun_containers", &[("state", "exited")]), 1.0);
    for meter in ["execs", "cpu", "reclaim", "oom", "traffic"] {
        assert_eq!(
            m.value("ebrun_meter_available", &[("meter", meter)]),
            1.0,
            "{meter}"
        );
    }
    assert!(m.value("ebrun_bpf_programs_loaded", &[]) >= 9.0);
    assert!(m2.value("ebrun_scrape_duration_seconds_count", &[]) >= 1.0);
    // Types and conventions.
    for (name, kind) in &m2.types {
        assert!(name.starts_with("ebrun_"), "{name}");
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}"
        );
    }
    // promtool: no problem and no warning.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(scraped.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
    drop(serve);
    inst.ok(&["rm", "-f", "busy", "net", "mem", "oom"]);
}

#[test]
fn scraped_values_equal_the_meters_snapshots() {
    let inst = Instance::with_busybox();
    tcp_traffic(&inst, "tcp", 7100);
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "spin",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    wait_running(&inst, "spin");
    std::thread::sleep(Duration::from_millis(500));
    let serve = Serve::start(&inst, &[]);
    // Frozen, so the CPU counters stand still between the scrape and inspect.
    inst.ok(&["pause", "spin"]);
    let m = serve.metrics();
    let spin = inspect(&inst, "spin")["Ebrun"]["Meters"].clone();
    inst.ok(&["unpause", "spin"]);
    let l = [("name", "spin")];
    let cpu = &spin["Cpu"];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.max(1.0);
    assert!(close(
        m.value("ebrun_container_sched_oncpu_seconds_total", &l),
        u(&cpu["OnCpuNs"]) as f64 / 1e9
    ));
    assert_eq!(
        m.value("ebrun_container_sched_switches_total", &l),
        u(&cpu["Switches"]) as f64
    );
    let waits: u64 = cpu["RunqHistogramUs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u(&b[1]))
        .sum();
    assert_eq!(
        m.value("ebrun_container_sched_runqueue_latency_seconds_count", &l),
        waits as f64
    );
    assert!(close(
        m.value("ebrun_container_sched_runqueue_latency_seconds_sum", &l),
        u(&cpu["RunqWaitNs"]) as f64 / 1e9
    ));
    assert!(close(
        m.value("ebrun_container_cpu_usage_seconds_total", &l),
        u(&spin["CgroupCpu"]["UsageUsec"]) as f64 / 1e6
    ));
    assert_eq!(
        m.value("ebrun_container_execs_total", &l),
        u(&spin["Execs"]) as f64
    );
    assert!(close(
        m.value(
            "ebrun_container_pressure_stall_seconds_total",
            &[("name", "spin"), ("resource", "cpu"), ("kind", "some")]
        ),
        u(&spin["Pressure"]["Cpu"]["SomeTotalUs"]) as f64 / 1e6
    ));
    // Every traffic series of the exited container, exactly.
    let tcp = inspect(&inst, "tcp")["Ebrun"]["Meters"].clone();
    let series = tcp["Traffic"].as_array().unwrap();
    assert!(series.len() >= 8, "{series:?}");
    for s in series {
        let port = s["Port"]
            .as_u64()
            .map_or("other".to_string(), |p| p.to_string());
        let labels = [
            ("name", "tcp"),
            ("direction", s["Direction"].as_str().unwrap()),
            ("protocol", s["Protocol"].as_str().unwrap()),
            ("port", port.as_str()),
        ];
        assert_eq!(
            m.value("ebrun_container_network_bytes_total", &labels),
            u(&s["WireBytes"]) as f64,
            "{labels:?}"
        );
        assert_eq!(
            m.value("ebrun_container_network_payload_bytes_total", &labels),
            u(&s["PayloadBytes"]) as f64,
            "{labels:?}"
        );
        assert_eq!(
            m.value("ebrun_container_network_packets_total", &labels),
            u(&s["WirePackets"]) as f64,
            "{labels:?}"
        );
    }
    assert_eq!(
        m.value(
            "ebrun_container_network_payload_bytes_total",
            &[
                ("name", "tcp"),
                ("direction", "ingress"),
                ("protocol", "tcp"),
                ("port", "7100")
            ]
        ),
        300000.0
    );
    drop(serve);
    inst.ok(&["rm", "-f", "tcp", "spin"]);
}

#[test]
fn counters_continue_over_a_serve_restart_and_removed_containers_disappear() {
    let inst = Instance::with_busybox();
    tcp_traffic(&inst, "sent", 7200);
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "spin",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let spin_id = wait_running(&inst, "spin");
    let spin_pid = inspect(&inst, "spin")["State"]["Pid"].clone();
    let sent_id = inspect(&inst, "sent")["Id"].as_str().unwrap().to_string();
    let bytes = [
        ("name", "sent"),
        ("direction", "egress"),
        ("protocol", "tcp"),
        ("port", "7200"),
    ];
    let first = Serve::start(&inst, &[]);
    let before = first.metrics();
    first.stop();
    std::thread::sleep(Duration::from_millis(500));
    let second = Serve::start(&inst, &[]);
    let after = second.metrics();
    // The exited container's counters are exactly where they were; the running one's went on.
    assert!(before.value("ebrun_container_network_payload_bytes_total", &bytes) >= 300000.0);
    for family in [
        "ebrun_container_network_bytes_total",
        "ebrun_container_network_payload_bytes_total",
        "ebrun_container_network_packets_total",
    ] {
        assert_eq!(
            after.value(family, &bytes),
            before.value(family, &bytes),
            "{family}"
        );
    }
    let spin = [("name", "spin")];
    for family in [
        "ebrun_container_cpu_usage_seconds_total",
        "ebrun_container_sched_oncpu_seconds_total",
        "ebrun_container_sched_switches_total",
    ] {
        let (b, a) = (before.value(family, &spin), after.value(family, &spin));
        assert!(a >= b && b > 0.0, "{family}: {b} then {a}");
    }
    assert_eq!(
        after.value("ebrun_container_start_time_seconds", &spin),
        before.value("ebrun_container_start_time_seconds", &spin)
    );
    // Stopping and starting serve changed nothing for the container.
    assert_eq!(inspect(&inst, "spin")["State"]["Pid"], spin_pid);
    // rm: the container's series are gone from the next scrape; the others stay.
    inst.ok(&["rm", "sent"]);
    let m = second.metrics();
    assert!(
        !m.mentions(&sent_id),
        "series of a removed container remain"
    );
    assert!(m.mentions(&spin_id));
    drop(second);
    inst.ok(&["rm", "-f", "spin"]);
}

/// `ebrun events --since T0 --until now --format json`.
fn events_json(inst: &Instance, since: f64, filters: &[&str]) -> Vec<Value> {
    let since = format!("{since:.3}");
    let until = format!("{:.3}", now_secs());
    let mut args = vec![
        "events",
        "--since",
        since.as_str(),
        "--until",
        until.as_str(),
        "--format",
        "json",
    ];
    for f in filters {
        args.extend(["-f", f]);
    }
    inst.ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect()
}

#[test]
fn events_stream_in_order_with_docker_fields_and_an_oom_from_while_serve_was_down() {
    let inst = Instance::with_busybox();
    let t0 = now_secs() - 0.001;
    // An OOM kill while no serve runs: a child of the container's shell outgrows the limit;
    // the container itself keeps running, so no monitor records a death.
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "leaky",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "sh -c 'x=0123456789abcdef; while :; do x=$x$x; done'; sleep 300",
    ]);
    let leaky = wait_running(&inst, "leaky");
    let deadline = Instant::now() + Duration::from_secs(30);
    while inspect(&inst, "leaky")["Ebrun"]["Meters"]["Oom"]["Kills"] != 1 {
        assert!(Instant::now() < deadline, "no OOM kill");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        events_json(&inst, t0, &["event=oom"]).is_empty(),
        "no one has read the ring yet"
    );
    // The usual life of a container, with a volume, on the default bridge network.
    inst.ok(&["volume", "create", "evvol"]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "ev",
        "-v",
        "evvol:/data",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 143' TERM; sleep 300 & wait",
    ]);
    let ev = wait_running(&inst, "ev");
    inst.ok(&["stop", "-t", "1", "ev"]);
    inst.ok(&["rm", "ev"]);
    inst.ok(&["volume", "rm", "evvol"]);
    // serve comes up and finds the kill in the kernel's ring.
    let serve = Serve::start(&inst, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let oom = loop {
        if let Some(e) = events_json(&inst, t0, &["event=oom"]).into_iter().next() {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not record the OOM kill"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(serve);
    assert_eq!(oom["Type"], "container");
    assert_eq!(oom["Action"], "oom");
    assert_eq!(oom["status"], "oom");
    assert_eq!(oom["Actor"]["ID"], leaky.as_str());
    assert_eq!(oom["id"], leaky.as_str());
    let a = &oom["Actor"]["Attributes"];
    assert_eq!(a["name"], "leaky");
    assert_eq!(a["image"], "busybox");
    assert_eq!(a["command"], "sh");
    let init = inspect(&inst, "leaky")["State"]["Pid"].as_i64().unwrap();
    let victim: i64 = a["pid"].as_str().unwrap().parse().unwrap();
    assert!(
        victim > 0 && victim != init,
        "the child was killed, not init {init}: {victim}"
    );
    let rss: u64 = a["rss"].as_str().unwrap().parse().unwrap();
    assert!(rss > 16 << 20, "victim RSS {rss}");
    let oom_ns = oom["timeNano"].as_i64().unwrap();
    assert!(oom_ns as f64 / 1e9 >= t0 && oom_ns / 1_000_000_000 == oom["time"].as_i64().unwrap());
    // Recorded once, however often it is looked at.
    let again = Serve::start(&inst, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    drop(again);
    assert_eq!(events_json(&inst, t0, &["event=oom"]).len(), 1);

    // Everything, in time order.
    let all = events_json(&inst, t0, &[]);
    let times: Vec<i64> = all
        .iter()
        .map(|e| e["timeNano"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {times:?}"
    );
    let of_ev: Vec<String> = all
        .iter()
        .filter(|e| e["Actor"]["ID"] == ev.as_str())
        .map(|e| e["Action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        of_ev,
        ["create", "start", "kill", "die", "stop", "destroy"],
        "{all:#?}"
    );
    let die = all
        .iter()
        .find(|e| e["Actor"]["ID"] == ev.as_str() && e["Action"] == "die")
        .unwrap();
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "143");
    assert_eq!(die["Actor"]["Attributes"]["name"], "ev");
    let kill = all
        .iter()
        .find(|e| e["Actor"]["ID"] == ev.as_str() && e["Action"] == "kill")
        .unwrap();
    assert_eq!(kill["Actor"]["Attributes"]["signal"], "15");
    let network: Vec<(String, String)> = all
        .iter()
        .filter(|e| e["Type"] == "network")
        .map(|e| {
            (
                e["Action"].as_str().unwrap().into(),
                e["Actor"]["Attributes"]["container"]
                    .as_str()
                    .unwrap_or("")
                    .into(),
            )
        })
        .collect();
    assert_eq!(
        network,
        [
            ("connect".into(), ev.clone()),
            ("disconnect".into(), ev.clone())
        ]
    );
    let volumes: Vec<(String, String)> = events_json(&inst, t0, &["type=volume"])
        .iter()
        .map(|e| {
            (
                e["Action"].as_str().unwrap().into(),
                e["Actor"]["ID"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        volumes,
        [
            ("create".into(), "evvol".into()),
            ("destroy".into(), "evvol".into())
        ]
    );
    let dies = events_json(&inst, t0, &["type=container", "event=die"]);
    assert!(dies.iter().all(|e| e["Action"] == "die"));
    assert_eq!(dies.len(), 1);
    // Docker's plain line.
    let lines = inst.ok(&[
        "events",
        "--since",
        &format!("{t0:.3}"),
        "--until",
        &format!("{:.3}", now_secs()),
        "-f",
        "event=create",
        "-f",
        &format!("container={ev}"),
    ]);
    assert!(
        lines
            .trim()
            .ends_with(&format!("container create {ev} (image=busybox, name=ev)")),
        "{lines}"
    );
    // Bad input: named, exit 125.
    let bad = inst.run(&["events", "-f", "colour=red"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid filter 'colour'"));

    // Following: events appear while the command streams, until --until.
    let until = format!("{:.3}", now_secs() + 4.0);
    let follower = inst
        .command(&[
            "events",
            "--until",
            &until,
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    inst.ok(&[
        "run", "--rm", "--net", "none", "--name", "late", "busybox", "true",
    ]);
    let out = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let late: Vec<&str> = text.lines().filter(|l| l.ends_with(" late")).collect();
    assert_eq!(
        late,
        ["create late", "start late", "die late", "destroy late"],
        "{text}"
    );
    inst.ok(&["rm", "-f", "leaky"]);
}

/// A minimal OTLP/HTTP receiver: decodes each POST with the OpenTelemetry protobuf types.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    metrics: Arc<
        Mutex<Vec<opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest>>,
    >,
    traces: Arc<
        Mutex<Vec<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>>,
    >,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((path, body))
}

impl Receiver {
    fn start() -> Receiver {
        use prost::Message;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(Mutex::new(Vec::new()));
        let traces = Arc::new(Mutex::new(Vec::new()));
        let (m, t, st) = (metrics.clone(), traces.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                // Each exporter keeps its own connection alive: one thread per connection.
                let (m, t) = (m.clone(), t.clone());
                std::thread::spawn(move || {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    while let Some((path, body)) = read_request(&mut s) {
                        match path.as_str() {
                            "/v1/metrics" => m.lock().unwrap().push(
                                Message::decode(body.as_slice())
                                    .expect("ExportMetricsServiceRequest"),
                            ),
                            "/v1/traces" => t.lock().unwrap().push(
                                Message::decode(body.as_slice())
                                    .expect("ExportTraceServiceRequest"),
                            ),
                            other => panic!("unexpected OTLP path {other}"),
                        }
                        let _ = s.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
                        );
                    }
                });
            }
        });
        Receiver {
            port,
            stop,
            metrics,
            traces,
            thread: Some(thread),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_otlp_receiver_gets_the_metrics_and_the_start_steps_as_spans() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Num;
    let inst = Instance::with_busybox();
    let receiver = Receiver::start();
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let serve = Serve::start(
        &inst,
        &["--otlp-endpoint", &endpoint, "--otlp-interval", "1s"],
    );
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "traced",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let id = wait_running(&inst, "traced");
    let attr =
        |attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str| -> Option<String> {
            attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
                match kv.value.as_ref()?.value.as_ref()? {
                    Any::StringValue(s) => Some(s.clone()),
                    Any::BoolValue(b) => Some(b.to_string()),
                    _ => None,
                }
            })
        };
    let num = |v: &Option<Num>| match v {
        Some(Num::AsDouble(d)) => *d,
        Some(Num::AsInt(i)) => *i as f64,
        None => f64::NAN,
    };
    // Metrics: the container's CPU (a cumulative monotonic sum in seconds) and its memory
    // limit (a gauge), with the same labels as on /metrics.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (cpu, limit) = loop {
        let mut cpu = None;
        let mut limit = None;
        for req in receiver.metrics.lock().unwrap().iter() {
            for rm in &req.resource_metrics {
                let service = rm
                    .resource
                    .as_ref()
                    .and_then(|r| attr(&r.attributes, "service.name"));
                assert_eq!(service.as_deref(), Some("ebrun"));
                for sm in &rm.scope_metrics {
                    for metric in &sm.metrics {
                        match (&metric.name[..], &metric.data) {
                            ("ebrun_container_cpu_usage_seconds", Some(Data::Sum(s))) => {
                                assert!(s.is_monotonic);
                                assert_eq!(s.aggregation_temporality, 2, "cumulative");
                                assert_eq!(metric.unit, "s");
                                for p in &s.data_points {
                                    if attr(&p.attributes, "id").as_deref() == Some(&id) {
                                        assert_eq!(
                                            attr(&p.attributes, "name").as_deref(),
                                            Some("traced")
                                        );
                                        cpu = Some(num(&p.value));
                                    }
                                }
                            }
                            ("ebrun_container_memory_limit_bytes", Some(Data::Gauge(g))) => {
                                assert_eq!(metric.unit, "By");
                                for p in &g.data_points {
                                    if attr(&p.attributes, "id").as_deref() == Some(&id) {
                                        limit = Some(num(&p.value));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        if let (Some(c), Some(l)) = (cpu, limit) {
            if c > 0.0 {
                break (c, l);
            }
        }
        assert!(Instant::now() < deadline, "no container metrics over OTLP");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(limit, 64.0 * 1048576.0);
    // The first scrape shows a container created while serve runs as born (its counters 0
    // at its start, for Prometheus to count from); the next one has the values.
    let _ = serve.scrape();
    let scraped = serve
        .metrics()
        .value("ebrun_container_cpu_usage_seconds_total", &[("id", &id)]);
    assert!(
        cpu > 0.0 && cpu <= scraped,
        "OTLP {cpu} vs a later scrape {scraped}"
    );
    // Spans: container.start with a child span per step, in the same trace, inside it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans: Vec<_> = receiver
            .traces
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| r.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect();
        let root = spans.iter().find(|s| {
            s.name == "container.start"
                && attr(&s.attributes, "container.id").as_deref() == Some(&id)
        });
        if let Some(root) = root {
            let children: Vec<_> = spans
                .iter()
                .filter(|s| s.parent_span_id == root.span_id)
                .collect();
            let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
            if names.len() >= 6 {
                assert_eq!(
                    names,
                    [
                        "cgroups",
                        "bpf_attach",
                        "spawn",
                        "network",
                        "state",
                        "rootfs"
                    ]
                );
                for c in &children {
                    assert_eq!(c.trace_id, root.trace_id);
                    assert!(c.start_time_unix_nano >= root.start_time_unix_nano);
                    assert!(c.end_time_unix_nano <= root.end_time_unix_nano);
                    assert!(c.end_time_unix_nano >= c.start_time_unix_nano);
                }
                assert_eq!(
                    attr(&root.attributes, "ebrun.complete").as_deref(),
                    Some("true")
                );
                assert!(spans.iter().any(|s| s.name == "container.create"
                    && attr(&s.attributes, "container.id").as_deref() == Some(&id)));
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no start spans: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    serve.stop();
    drop(receiver);
    inst.ok(&["rm", "-f", "traced"]);
}

#[test]
fn bad_serve_flags_are_named_and_nothing_starts() {
    let inst = Instance::new();
    let out = inst.run(&["serve", "--metrics-addr", "localhost"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --metrics-addr \"localhost\""));
    let out = inst.run(&[
        "serve",
        "--metrics-addr",
        &format!("127.0.0.1:{}", free_port()),
        "--otlp-endpoint",
        "127.0.0.1:4318",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be an http:// or https:// URL"));
    let _ = image_layout("busybox");
}
