//! The Grafana dashboards against a real Prometheus (the Debian package): it scrapes
//! `ebrun serve` while a container does CPU, memory and network work and has a process
//! OOM-killed; then every panel's and annotation's query, variables substituted, goes
//! through Prometheus's HTTP API and must return data. Checked too: stable uids, the
//! datasource variable, the container selectors, the provisioning files.
//!
//! The operator's view (`every_container_of_a_scenario_has_an_answer_in_every_panel`): a
//! Prometheus scraping every 2 s (it negotiates OpenMetrics and gzip), Grafana's interval
//! variables as Grafana computes them for that scrape interval, every panel of every row,
//! each container selected in turn, over a scenario with a container OOM-killed within its
//! first second, one that exited, an idle one, a throttled one, one with traffic, and one
//! that lived well under a second with `--rm` (its CPU time, bytes and OOM kill must reach
//! Prometheus although it was gone before the next scrape). A panel that is empty or NaN
//! where the scenario has an answer fails the test.

use ebrun_tests::common;
use ebrun_tests::serve_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Instance;
use serde_json::Value;
use serve_support::{eventually, free_port, try_get, wait_running, Serve};

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

fn load(name: &str) -> Value {
    let path = dashboards_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read dashboard"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Prometheus of this test: own config and storage, killed by pid on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        Self::start_every(target_port, 1)
    }

    fn start_every(target_port: u16, secs: u64) -> Prometheus {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {secs}s\n  evaluation_interval: {secs}s\n\
                 scrape_configs:\n  - job_name: ebrun\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus)");
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while try_get(port, "/-/ready").is_err() {
            assert!(Instant::now() < deadline, "prometheus never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// An instant query; the result vector.
    fn query(&self, promql: &str) -> Vec<Value> {
        self.api(&format!("/api/v1/query?query={}", encode(promql)), promql)
    }

    /// A range query from `start` to `end` (Unix seconds) every `step` seconds; the result
    /// matrix.
    fn query_range(&self, promql: &str, start: f64, end: f64, step: u64) -> Vec<Value> {
        self.api(
            &format!(
                "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
                encode(promql)
            ),
            promql,
        )
    }

    fn api(&self, path: &str, promql: &str) -> Vec<Value> {
        let body = try_get(self.port, path).unwrap_or_else(|e| panic!("query {promql}: {e}"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

fn encode(promql: &str) -> String {
    promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every panel of a dashboard, those in rows (collapsed rows hold theirs) included; rows
/// themselves are left out.
fn panels(d: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            if p["type"] != "row" {
                out.push(p);
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

/// Every query of a dashboard: (where, expr), panels' targets and annotations.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().unwrap() {
            out.push((
                format!("panel {:?} {}", p["title"].as_str().unwrap(), t["refId"]),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    for a in d["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = a["expr"].as_str() {
            out.push((format!("annotation {:?}", a["name"]), expr.to_string()));
        }
    }
    out
}

/// Grafana's variables, as a user would have them.
fn substitute(expr: &str, container: &str) -> String {
    expr.replace("$__rate_interval", "10s")
        .replace("$__interval", "5s")
        .replace("$__range", "5m")
        .replace("$container", container)
        .replace("$name", container)
}

#[test]
fn dashboards_have_stable_uids_a_datasource_variable_and_container_selectors() {
    for (file, uid, var) in [
        ("ebrun-overview.json", "ebrun-overview", "name"),
        ("ebrun-container.json", "ebrun-container", "container"),
    ] {
        let d = load(file);
        assert_eq!(d["uid"], uid, "{file}");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"));
        let selector = vars
            .iter()
            .find(|v| v["name"] == var)
            .expect("container selector");
        assert_eq!(
            selector["query"]["query"],
            "label_values(ebrun_container_info, name)"
        );
        let mut ids = std::collections::BTreeSet::new();
        for row in d["panels"].as_array().unwrap() {
            if row["type"] == "row" {
                assert!(
                    ids.insert(row["id"].as_u64().unwrap()),
                    "{file}: duplicate id"
                );
            }
        }
        for p in panels(&d) {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: duplicate panel id"
            );
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{file}: {}",
                p["title"]
            );
            for t in p["targets"].as_array().unwrap() {
                assert!(
                    t["expr"].as_str().unwrap().contains(&format!("${var}"))
                        || p["title"] == "Scrape duration p90",
                    "{file}: panel {} ignores the container selector",
                    p["title"]
                );
            }
        }
    }
    for yaml in [
        "provisioning/datasources/ebrun.yaml",
        "provisioning/dashboards/ebrun.yaml",
    ] {
        let text = std::fs::read_to_string(dashboards_dir().join(yaml)).unwrap();
        assert!(text.contains("apiVersion: 1"), "{yaml}");
    }
}

#[test]
fn every_panel_query_returns_data_from_a_real_prometheus() {
    let inst = Instance::with_busybox();
    // One container doing everything the panels show: a CPU spinner under a quota, traffic
    // to a server on its own loopback, page cache churn beyond its memory limit, a child
    // that outgrows the limit and is OOM-killed (the container itself lives on), and a
    // health check.
    let script = "while :; do nc -l -p 7000 > /dev/null; done & \
        (while :; do head -c 100000 /dev/zero | nc 127.0.0.1 7000; sleep 0.2; done) & \
        (while :; do :; done) & \
        (while :; do dd if=/dev/zero of=/tmp/f bs=1M count=80 2>/dev/null; cat /tmp/f > /dev/null; sleep 0.3; done) & \
        sleep 6; sh -c 'x=0123456789abcdef; while :; do x=$x$x; done'; wait";
    inst.ok(&[
        "run",
        "-d",
        "--net",
        "none",
        "--name",
        "app",
        "-m",
        "48m",
        "--memory-reservation",
        "24m",
        "--pids-limit",
        "64",
        "--cpus",
        "0.5",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    wait_running(&inst, "app");
    let serve = Serve::start(&inst, &[]);
    let prometheus = Prometheus::start(serve.port);
    // Wait for the OOM kill and enough samples for every rate.
    eventually(&serve, 60, |m| {
        if m.values("ebrun_container_oom_kills_total", &[("name", "app")]) == [1.0] {
            Ok(())
        } else {
            Err("no OOM kill yet".to_string())
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus
        .query("ebrun_container_oom_kills_total{name=\"app\"} == 1")
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "prometheus never saw the OOM kill"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(12));
    let mut empty = Vec::new();
    let mut checked = 0;
    for file in ["ebrun-overview.json", "ebrun-container.json"] {
        for (what, expr) in queries(&load(file)) {
            let promql = substitute(&expr, "app");
            let result = prometheus.query(&promql);
            checked += 1;
            eprintln!("{file} {what}: {} series", result.len());
            // How long the last run lasted: only for a container that exited (this one runs).
            let exited_only = what == "panel \"Exited and OOM-killed\" \"A\"";
            if result.is_empty() && !exited_only {
                empty.push(format!("{file} {what}: {promql}"));
            }
        }
    }
    assert!(checked >= 30, "only {checked} queries");
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    drop(prometheus);
    drop(serve);
    inst.ok(&["rm", "-f", "app"]);
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Grafana's `roundInterval` (public/app/core/utils/kbn / rangeutil), seconds.
fn round_interval(secs: f64) -> u64 {
    let steps: [(f64, u64); 14] = [
        (1.5, 1),
        (3.5, 2),
        (7.5, 5),
        (12.5, 10),
        (17.5, 15),
        (25.0, 20),
        (45.0, 30),
        (90.0, 60),
        (210.0, 120),
        (450.0, 300),
        (750.0, 600),
        (1050.0, 900),
        (1500.0, 1200),
        (2700.0, 1800),
    ];
    steps
        .iter()
        .find(|(below, _)| secs < *below)
        .map_or(3600, |(_, v)| *v)
}

/// `$__interval` and `$__rate_interval` as Grafana computes them for a panel `cols` grid
/// columns wide (of 24, on a 1800-pixel dashboard) showing `range` seconds from a data
/// source whose scrape interval is `scrape`: the interval is the range over the panel's
/// width in pixels, rounded, at least the scrape interval; the rate interval is
/// max(interval + scrape, 4 × scrape).
fn grafana_intervals(range: f64, cols: u64, scrape: u64) -> (u64, u64) {
    let pixels = cols as f64 / 24.0 * 1800.0;
    let interval = round_interval(range / pixels).max(scrape);
    (interval, (interval + scrape).max(4 * scrape))
}

/// Whether the scenario has an answer for `container` in target `ref_id` of panel `title`
/// (everything else: no limit set, no health check, no traffic, still running).
fn has_answer(title: &str, ref_id: &str, container: &str) -> bool {
    let limited = ["oomer", "throttled"];
    let exited = ["oomer", "exited"];
    match (title, ref_id) {
        ("Memory working set vs limit", _) | ("Memory", "C") => limited.contains(&container),
        ("Memory", "D") | ("Tasks", "B") => container == "throttled",
        ("Health", _) => container == "idle",
        ("Traffic", "A") | ("Packets", "A") | ("Traffic per port", "A") => container == "traffic",
        ("Exited and OOM-killed", "A" | "B" | "D")
        | ("Memory of exited and OOM-killed containers", "A") => exited.contains(&container),
        ("Exited and OOM-killed", "C" | "E")
        | ("Memory of exited and OOM-killed containers", "B") => container == "oomer",
        _ => true,
    }
}

fn values(result: &[Value]) -> Vec<(f64, f64)> {
    let point = |p: &Value| {
        let v = match p[1].as_str().unwrap() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap(),
        };
        (p[0].as_f64().unwrap(), v)
    };
    result
        .iter()
        .flat_map(|s| {
            let mut out: Vec<(f64, f64)> = s["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(point)
                .collect();
            if !s["value"].is_null() {
                out.push(point(&s["value"]));
            }
            out
        })
        .collect()
}

#[test]
fn every_container_of_a_scenario_has_an_answer_in_every_panel() {
    const SCRAPE: u64 = 2;
    let inst = Instance::with_busybox();
    // Serve first: the containers are created while it serves, as in production.
    let serve = Serve::start(&inst, &[]);
    let prometheus = Prometheus::start_every(serve.port, SCRAPE);
    let t0 = now();
    let run = |args: &[&str]| {
        let mut all = vec!["run", "-d", "--net", "none"];
        all.extend_from_slice(args);
        inst.ok(&all);
    };
    let hog = "x=0123456789abcdef; while :; do x=$x$x; done";
    // OOM-killed within its first second, most likely before any scrape saw it.
    run(&["--name", "oomer", "-m", "16m", "busybox", "sh", "-c", hog]);
    // Lives well under a second, sends 200000 bytes to itself, OOM-killed, removed.
    let short = format!(
        "nc -l -p 7001 > /dev/null & sleep 0.1; head -c 200000 /dev/zero | nc 127.0.0.1 7001; sleep 0.3; {hog}"
    );
    run(&[
        "--rm", "--name", "rmoom", "-m", "16m", "busybox", "sh", "-c", &short,
    ]);
    run(&[
        "--name",
        "exited",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exit 3",
    ]);
    run(&[
        "--name",
        "idle",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1d",
    ]);
    run(&[
        "--name",
        "throttled",
        "--cpus",
        "0.2",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--pids-limit",
        "64",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    run(&[
        "--name",
        "traffic",
        "busybox",
        "sh",
        "-c",
        "while :; do nc -l -p 7000 > /dev/null; done & \
         while :; do head -c 100000 /dev/zero | nc 127.0.0.1 7000; sleep 0.2; done",
    ]);
    // Until the OOM-killed and exited containers have exited and the short one is gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = |name: &str| {
            let out = inst.run(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.OOMKilled}}",
                name,
            ]);
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let gone = !inst.run(&["inspect", "rmoom"]).status.success();
        if state("oomer") == "exited true" && state("exited").starts_with("exited") && gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scenario never settled: oomer {:?}, exited {:?}, rmoom gone {gone}",
            state("oomer"),
            state("exited")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Enough scrapes for every rate window (4 × the scrape interval) after the exits.
    std::thread::sleep(Duration::from_secs(6 * SCRAPE + 2));
    let end = now();
    let range = 3600.0; // the dashboards' default time range, now-1h
    let scalar = |promql: &str| -> Vec<f64> {
        values(&prometheus.query(promql))
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    };

    // Every scrape answered, in OpenMetrics (Prometheus 2.42 keeps `_created` as series).
    assert_eq!(
        scalar("min_over_time(up{job=\"ebrun\"}[1h])"),
        [1.0],
        "a scrape failed"
    );
    assert!(
        !scalar("count(ebrun_container_cpu_usage_seconds_created)").is_empty(),
        "the scrapes were not OpenMetrics"
    );

    // The short-lived container left its CPU time, bytes and OOM kill in Prometheus.
    let kills = |name: &str| {
        scalar(&format!(
            "max_over_time(ebrun_container_oom_kills_total{{name=\"{name}\"}}[1h]) \
             - min_over_time(ebrun_container_oom_kills_total{{name=\"{name}\"}}[1h])"
        ))
    };
    assert_eq!(
        kills("rmoom"),
        [1.0],
        "the short-lived container's OOM kill"
    );
    assert_eq!(
        kills("oomer"),
        [1.0],
        "the OOM kill before the first scrape"
    );
    let cpu = scalar("max_over_time(ebrun_container_cpu_usage_seconds_total{name=\"rmoom\"}[1h])");
    assert!(cpu.len() == 1 && cpu[0] > 0.0, "rmoom's CPU time: {cpu:?}");
    // What it sent to itself over loopback it received: both directions, equal.
    let bytes = |direction: &str| {
        scalar(&format!(
            "max_over_time(ebrun_container_network_payload_bytes_total\
             {{name=\"rmoom\", direction=\"{direction}\", protocol=\"tcp\", port=\"7001\"}}[1h])"
        ))
    };
    let (sent, received) = (bytes("egress"), bytes("ingress"));
    assert!(
        sent.len() == 1 && sent == received && sent[0] > 0.0,
        "rmoom's bytes: sent {sent:?}, received {received:?}"
    );
    assert!(
        scalar("ebrun_container_info{name=\"rmoom\"}").is_empty(),
        "a removed container is still exported"
    );

    // Uptime stops at exit.
    let d = load("ebrun-container.json");
    let uptime = panels(&d)
        .into_iter()
        .find(|p| p["title"] == "Uptime")
        .unwrap()["targets"][0]["expr"]
        .as_str()
        .unwrap()
        .replace("$container", "exited");
    let first = scalar(&uptime);
    std::thread::sleep(Duration::from_secs(2));
    let second = scalar(&uptime);
    assert!(
        first.len() == 1 && first == second && first[0] > 0.0 && first[0] < end - t0,
        "uptime of an exited container: {first:?} then {second:?}"
    );

    // Every target of every panel and annotation, for each container selected in turn.
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in ["ebrun-overview.json", "ebrun-container.json"] {
        let d = load(file);
        let var = if file == "ebrun-overview.json" {
            "$name"
        } else {
            "$container"
        };
        for container in ["oomer", "exited", "idle", "throttled", "traffic"] {
            let mut jobs: Vec<(String, String, String, bool, u64, u64)> = Vec::new();
            for p in panels(&d) {
                let title = p["title"].as_str().unwrap();
                let cols = p["gridPos"]["w"].as_u64().unwrap();
                let (interval, rate) = grafana_intervals(range, cols, SCRAPE);
                for t in p["targets"].as_array().unwrap() {
                    let expr = t["expr"].as_str().unwrap();
                    if !expr.contains(var) && container != "oomer" {
                        continue; // not per container: checked once
                    }
                    let promql = expr
                        .replace("$__rate_interval", &format!("{rate}s"))
                        .replace("$__interval", &format!("{interval}s"))
                        .replace("$__range", &format!("{}s", range as u64))
                        .replace(var, container);
                    let r = t["refId"].as_str().unwrap().to_string();
                    let wanted = has_answer(title, &r, container);
                    let instant = t["instant"] == true;
                    jobs.push((
                        title.to_string(),
                        r,
                        promql,
                        wanted,
                        interval,
                        instant as u64,
                    ));
                    let _ = wanted;
                }
            }
            for a in d["annotations"]["list"].as_array().unwrap() {
                if let Some(expr) = a["expr"].as_str() {
                    let wanted = container == "oomer";
                    let step = a["step"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches('s')
                        .parse()
                        .unwrap();
                    jobs.push((
                        format!("annotation {}", a["name"]),
                        String::new(),
                        expr.replace(var, container),
                        wanted,
                        step,
                        0,
                    ));
                }
            }
            for (title, r, promql, wanted, step, instant) in jobs {
                checked += 1;
                let result = if instant == 1 {
                    prometheus.query(&promql)
                } else {
                    prometheus.query_range(&promql, end - range, end, step)
                };
                let points = values(&result);
                let what = format!("{file} {title:?} {r} [{container}]: {promql}");
                if points.iter().any(|(_, v)| v.is_nan()) {
                    failures.push(format!("NaN: {what}"));
                }
                let recent = points
                    .iter()
                    .any(|(t, v)| !v.is_nan() && *t >= end - 4.0 * SCRAPE as f64 - step as f64);
                if wanted && !recent {
                    failures.push(format!("empty: {what}"));
                }
                if title.starts_with("annotation") && wanted {
                    // Grafana places the annotation at the value, in ms.
                    if !points
                        .iter()
                        .all(|(_, v)| *v >= t0 * 1e3 && *v <= end * 1e3)
                    {
                        failures.push(format!("annotation time outside the run: {what}"));
                    }
                }
                eprintln!("{what}: {} series", result.len());
            }
        }
    }
    assert!(checked >= 200, "only {checked} queries");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(prometheus);
    drop(serve);
    inst.ok(&[
        "rm",
        "-f",
        "oomer",
        "exited",
        "idle",
        "throttled",
        "traffic",
    ]);
}
