//! The Grafana dashboards against a real Prometheus (the Debian package): it scrapes
//! `ebrun serve` while a container does CPU, memory and network work and has a process
//! OOM-killed; then every panel's and annotation's query, variables substituted, goes
//! through Prometheus's HTTP API and must return data. Checked too: stable uids, the
//! datasource variable, the container selectors, the provisioning files.

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
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
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
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = try_get(self.port, &format!("/api/v1/query?query={encoded}"))
            .unwrap_or_else(|e| panic!("query {promql}: {e}"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every query of a dashboard: (where, expr), panels' targets and annotations.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
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
        for p in d["panels"].as_array().unwrap() {
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
            if result.is_empty() {
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
