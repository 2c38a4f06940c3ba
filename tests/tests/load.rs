//! Load: many containers at once with CPU, memory and network load while `ebrun serve` is
//! scraped every second: every scrape answers and parses, no counter series ever goes down,
//! no load container stops, serve logs no warning or error; meanwhile an OOM storm of 20
//! containers outgrowing their limit at the same moment yields exactly 20 OOM kills in the
//! metrics and 20 oom events with 20 distinct victims; and the host ends as it began.
//!
//! The normal test run uses 20 containers for 20 s (`EBRUN_LOAD_CONTAINERS`,
//! `EBRUN_LOAD_SECS`); `cargo xtask load` runs 100 for 300 s. The storm is always 20.

use ebrun_tests::common;
mod load_support;
use ebrun_tests::serve_support;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::snapshot::HostSnapshot;
use common::{image_layout, Instance};
use load_support::host;
use load_support::host_client::HostClient;
use load_support::scraper::Scraper;
use load_support::workload::{self, Role, PAGE_BYTES};
use load_support::{env_or, Summary};
use serde_json::Value;
use serve_support::{eventually, Serve};

const STORM: usize = 20;

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `ebrun events --since T0 --until now --filter event=oom --format json`.
fn oom_events(inst: &Instance, since: f64) -> Vec<Value> {
    let since = format!("{since:.3}");
    let until = format!("{:.3}", now_secs());
    inst.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=oom",
        "--format",
        "json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).expect("event json"))
    .collect()
}

/// The sum of `family` over the containers with the given ids.
fn sum_over(m: &serve_support::Metrics, family: &str, ids: &BTreeSet<&str>) -> f64 {
    m.series
        .iter()
        .filter(|(s, _)| {
            s.name == family
                && s.labels
                    .get("id")
                    .is_some_and(|id| ids.contains(id.as_str()))
        })
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn many_busy_containers_scraped_every_second_and_an_oom_storm_of_twenty() {
    let n: usize = env_or("EBRUN_LOAD_CONTAINERS", 20);
    let secs: u64 = env_or("EBRUN_LOAD_SECS", 20);
    assert!(
        n >= 4,
        "EBRUN_LOAD_CONTAINERS must be at least 4 (one of each role)"
    );
    let inst = Instance::exclusive();
    let before = HostSnapshot::take();
    let (bip, bridge_ip) = workload::free_bip();
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"bip": "{bip}"}}"#),
    )
    .unwrap();
    inst.ok(&[
        "image",
        "import",
        image_layout("busybox").to_str().unwrap(),
        "busybox:latest",
    ]);

    let t_start = Instant::now();
    let load = workload::start(&inst, n);
    let startup = t_start.elapsed();
    eprintln!("load: {n} containers running after {startup:.1?}");
    let names: Vec<String> = load.iter().map(|c| c.name.clone()).collect();
    let ports: Vec<u16> = load.iter().filter_map(|c| c.host_port).collect();

    let stderr_path = inst.root().join("serve.stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    // EBRUN_LOAD_SERVE_LOG=LEVEL (e.g. `ebrun::metrics=debug`, which logs each scrape's
    // read and render times) keeps serve's log in /var/tmp/ebrun-load-serve.log.
    let serve_log_level = std::env::var("EBRUN_LOAD_SERVE_LOG").ok();
    let serve_args: Vec<&str> = match &serve_log_level {
        Some(level) => vec!["--log-level", level],
        None => Vec::new(),
    };
    let serve = Serve::start_with_stderr(&inst, &serve_args, Stdio::from(stderr));
    let scraper = Scraper::start(serve.port, Duration::from_secs(1), names.clone());
    let client = HostClient::start(ports, PAGE_BYTES);
    let t_load = Instant::now();

    // Halfway through: the storm, while the load goes on and serve is scraped.
    std::thread::sleep(Duration::from_secs(secs / 2));
    let t0 = now_secs() - 0.001;
    let storm_from = t_load.elapsed().as_secs_f64();
    let storm = workload::storm_ready(&inst, STORM);
    storm.release();
    let storm_states = storm.wait_exited(&inst, 120);
    let storm_to = t_load.elapsed().as_secs_f64();
    let remaining = Duration::from_secs(secs).saturating_sub(t_load.elapsed());
    std::thread::sleep(remaining.max(Duration::from_secs(3)));

    let fetches = client.finish();
    let log = scraper.finish();
    let storm_ids: BTreeSet<&str> = storm.ids.iter().map(String::as_str).collect();
    let load_ids: BTreeSet<&str> = load.iter().map(|c| c.id.as_str()).collect();
    // The kills reach the metrics (the kernel's counter) and the journal (a monitor or
    // serve moves them there); give both a moment.
    let m = eventually(&serve, 30, |m| {
        let kills = sum_over(m, "ebrun_container_oom_kills_total", &storm_ids);
        let events = oom_events(&inst, t0).len();
        if kills >= STORM as f64 && events >= STORM {
            Ok(())
        } else {
            Err(format!("{kills} kills counted, {events} oom events"))
        }
    });
    let events = oom_events(&inst, t0);
    let (median, p99, max) = log.median_p99_max();
    let slowest = log
        .slowest(5)
        .into_iter()
        .map(|(at, took)| (at.as_secs_f64(), took.as_secs_f64() * 1e3))
        .collect();
    let summary = Summary {
        containers: n,
        secs,
        startup,
        scrapes: log.scrapes(),
        scrape_failures: log.failures.len(),
        scrape_median: median,
        scrape_p99: p99,
        scrape_max: max,
        slowest,
        storm_window: (storm_from, storm_to),
        max_series: log.max_series,
        counter_comparisons: log.comparisons,
        counter_decreases: log.decreases.len(),
        host_fetches: fetches.ok,
        host_fetch_failures: fetches.failed,
        storm_containers: storm.ids.len(),
        oom_kills_counted: sum_over(&m, "ebrun_container_oom_kills_total", &storm_ids),
        oom_events: events.len(),
    };
    summary.report();
    if serve_log_level.is_some() {
        std::fs::copy(&stderr_path, "/var/tmp/ebrun-load-serve.log").unwrap();
        eprintln!("load: serve's log is in /var/tmp/ebrun-load-serve.log");
    }

    // Every scrape answered and parsed, no counter went down, no load container stopped.
    assert!(
        log.failures.is_empty(),
        "failed scrapes: {:?}",
        log.failures
    );
    assert!(
        log.scrapes() as u64 >= secs * 8 / 10,
        "only {} scrapes in {secs} s",
        log.scrapes()
    );
    assert!(
        log.decreases.is_empty(),
        "counters went down:\n{}",
        log.decreases.join("\n")
    );
    assert!(log.comparisons > 0, "no counter was compared");
    assert!(
        log.not_running.is_empty(),
        "load containers not running: {:?}",
        log.not_running
    );
    let serve_log = std::fs::read_to_string(&stderr_path).unwrap();
    let complaints: Vec<&str> = serve_log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panic"))
        .collect();
    assert!(complaints.is_empty(), "serve said:\n{serve_log}");

    // The network load went through: every host fetch whole, no client complained, and the
    // web containers' port 80 traffic was metered.
    assert!(fetches.ok > 0, "no fetch from the host");
    assert_eq!(
        fetches.failed, 0,
        "host fetches failed: {:?}",
        fetches.failures
    );
    for c in load.iter().filter(|c| c.role == Role::Client) {
        let logs = inst.ok(&["logs", &c.name]);
        assert!(logs.trim().is_empty(), "{}: {logs}", c.name);
    }
    for c in load.iter().filter(|c| c.role == Role::Web) {
        let bytes = m.values(
            "ebrun_container_network_payload_bytes_total",
            &[
                ("id", &c.id),
                ("direction", "egress"),
                ("protocol", "tcp"),
                ("port", "80"),
            ],
        );
        assert!(
            bytes.iter().sum::<f64>() >= PAGE_BYTES as f64,
            "{}: port 80 egress {bytes:?}",
            c.name
        );
    }
    for c in load.iter().filter(|c| c.role == Role::Cpu) {
        let cpu = m.values("ebrun_container_cpu_usage_seconds_total", &[("id", &c.id)]);
        assert!(cpu.iter().sum::<f64>() > 0.0, "{}: no CPU time", c.name);
    }

    // The storm: 20 kills, one per storm container, none elsewhere.
    for (id, (status, code, oom)) in storm.ids.iter().zip(&storm_states) {
        assert_eq!(
            (status.as_str(), *code, *oom),
            ("exited", 137, true),
            "storm container {id}"
        );
    }
    assert_eq!(summary.oom_kills_counted, STORM as f64, "OOM kills counted");
    assert_eq!(
        sum_over(&m, "ebrun_container_oom_kills_total", &load_ids),
        0.0,
        "a load container was OOM killed"
    );
    assert_eq!(events.len(), STORM, "oom events: {events:#?}");
    let victims: BTreeSet<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["Actor"]["ID"].as_str().unwrap_or(""),
                e["Actor"]["Attributes"]["pid"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let victim_ids: BTreeSet<&str> = victims.iter().map(|(id, _)| *id).collect();
    assert_eq!(victims.len(), STORM, "distinct victims: {victims:?}");
    assert_eq!(
        victim_ids, storm_ids,
        "the victims are the storm's containers"
    );
    // The kernel side agrees: each storm container's ring holds one kill, of the pid the
    // journal names.
    let mut args = vec!["inspect"];
    args.extend(storm.ids.iter().map(String::as_str));
    let inspected: Vec<Value> = serde_json::from_str(&inst.ok(&args)).expect("inspect json");
    let mut ring_victims = BTreeSet::new();
    for c in &inspected {
        let id = c["Id"].as_str().unwrap_or("");
        let oom = &c["Ebrun"]["Meters"]["Oom"];
        assert_eq!(oom["Kills"], 1, "{id}: {oom}");
        let ring = oom["Events"].as_array().cloned().unwrap_or_default();
        assert_eq!(ring.len(), 1, "{id}: {oom}");
        let pid = ring[0]["Pid"].as_u64().unwrap_or(0).to_string();
        assert!(
            victims.contains(&(id, pid.as_str())),
            "{id}: the ring's victim {pid} is not the journal's"
        );
        ring_victims.insert((id.to_string(), pid));
    }
    assert_eq!(ring_victims.len(), STORM, "distinct victims in the ring");

    // Still running at the end, then everything goes; the host is as before.
    let ps = inst.ok(&["ps", "-q", "--no-trunc"]);
    let running: BTreeSet<&str> = ps.lines().collect();
    assert_eq!(running, load_ids, "running containers at the end");
    // The web and client containers' veths, to look for after teardown.
    let veths = host::bridge_ports(&bridge_ip);
    assert!(veths.len() >= n / 2, "veths on the bridge: {veths:?}");
    drop(serve);
    inst.ok(&["rm", "-f"]
        .into_iter()
        .chain(names.iter().map(String::as_str))
        .collect::<Vec<_>>());
    // Teardown while the host lock is still held, so no other test's objects show up; only
    // this instance's objects count (ebrun runs outside the tests' lock come and go).
    let mut marks = vec![inst.prefix(), inst.root().display().to_string()];
    marks.extend(veths.into_iter().map(|v| format!("link: {v}")));
    inst.ok(&["system", "teardown"]);
    let leftovers = host::leftovers(&before, &marks, 20, 300);
    assert!(leftovers.is_empty(), "the load left:\n{leftovers:?}");
}
