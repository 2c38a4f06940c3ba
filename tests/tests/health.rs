//! Health checks (Docker's HEALTHCHECK) on real containers: `--health-*` flags and an image's
//! HEALTHCHECK, the status going starting -> unhealthy -> healthy as a file appears in the
//! container, and the same status in `ps` (STATUS and `--filter health=`), `inspect`
//! (`State.Health` with its log, `Config.Healthcheck`), the events journal
//! (`health_status: ...`), `ebrun serve`'s `ebrun_container_health_status`, and through the
//! Engine API to the docker CLI; a probe past its timeout killed and counted (and an
//! unhealthy container not restarted by its policy); `--no-healthcheck`; bad flag values
//! refused with the flag named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ebrun_tests::common::{image_layout, stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::{eventually, Serve};
use serde_json::Value;
use sha2::Digest;

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `State.Health` of container `name` (null without one).
fn health(inst: &Instance, name: &str) -> Value {
    inst.inspect(name)["State"]["Health"].clone()
}

/// Waits until `name`'s health status is `status`; its `State.Health`.
fn wait_health(inst: &Instance, name: &str, status: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let h = health(inst, name);
        if h["Status"] == status {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became {status}: {h}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ps`'s STATUS of container `name`.
fn ps_status(inst: &Instance, name: &str) -> String {
    let out = inst.ok(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")))
        .unwrap_or_default()
        .to_string()
}

/// The names `ps` lists with `--filter health=VALUE`.
fn ps_health(inst: &Instance, value: &str) -> BTreeSet<String> {
    let filter = format!("health={value}");
    inst.ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Container `name`'s `health_status` events since `since`, oldest first.
fn health_events(inst: &Instance, since: f64, name: &str) -> Vec<String> {
    let since = format!("{since:.3}");
    let until = format!("{:.3}", now_secs());
    let filter = format!("container={name}");
    inst.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--filter",
        &filter,
        "--format",
        "json",
    ])
    .lines()
    .map(|l| {
        let v: Value = serde_json::from_str(l).expect("event json");
        assert_eq!(v["Type"], "container", "{v}");
        v["Action"].as_str().unwrap_or_default().to_string()
    })
    .collect()
}

/// The metric's one-hot status of container `name` (the status whose series is 1), or None
/// without series.
fn metric_status(m: &ebrun_tests::serve_support::Metrics, name: &str) -> Option<String> {
    let series: Vec<_> = m
        .series
        .iter()
        .filter(|(s, _)| {
            s.name == "ebrun_container_health_status"
                && s.labels.get("name").map(String::as_str) == Some(name)
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    assert_eq!(series.len(), 3, "one series per status: {series:?}");
    let on: Vec<_> = series.iter().filter(|(_, v)| *v == 1.0).collect();
    assert_eq!(on.len(), 1, "exactly one status at 1: {series:?}");
    on[0].0.labels.get("status").cloned()
}

#[test]
fn health_goes_starting_unhealthy_healthy_and_shows_in_ps_inspect_events_and_metrics() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let t0 = now_secs() - 0.001;
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    // A second container whose first probe is an hour away: starting all along.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "300",
    ]);
    // And one without a health check.
    inst.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);

    let conf = inst.inspect("web")["Config"]["Healthcheck"].clone();
    assert_eq!(
        conf,
        serde_json::json!({"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 200_000_000, "Retries": 2})
    );
    let slow = health(&inst, "slow");
    assert_eq!(slow["Status"], "starting", "{slow}");
    assert_eq!(slow["FailingStreak"], 0);
    assert!(ps_status(&inst, "slow").ends_with("(health: starting)"));
    assert!(!ps_status(&inst, "plain").contains('('));
    assert!(health(&inst, "plain").is_null());
    assert!(inst.inspect("plain")["Config"]["Healthcheck"].is_null());

    // The file is missing: two failures make it unhealthy.
    let h = wait_health(&inst, "web", "unhealthy", 20);
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{h}");
    for entry in log {
        assert_eq!(entry["ExitCode"], 1, "{h}");
        assert!(entry["Start"].as_str().unwrap() <= entry["End"].as_str().unwrap());
    }
    let status = ps_status(&inst, "web");
    assert!(
        status.starts_with("Up ") && status.ends_with("(unhealthy)"),
        "{status}"
    );
    assert_eq!(
        ps_health(&inst, "unhealthy"),
        BTreeSet::from(["web".to_string()])
    );
    assert_eq!(
        ps_health(&inst, "starting"),
        BTreeSet::from(["slow".to_string()])
    );
    assert_eq!(
        ps_health(&inst, "none"),
        BTreeSet::from(["plain".to_string()])
    );
    eventually(&serve, 20, |m| {
        match (metric_status(m, "web"), metric_status(m, "slow")) {
            (Some(w), Some(s)) if w == "unhealthy" && s == "starting" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // The file appears: the next probe makes it healthy and clears the streak.
    inst.ok(&["exec", "web", "touch", "/tmp/ok"]);
    let h = wait_health(&inst, "web", "healthy", 20);
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["ExitCode"], 0, "{h}");
    assert!(ps_status(&inst, "web").ends_with("(healthy)"));
    assert_eq!(
        ps_health(&inst, "healthy"),
        BTreeSet::from(["web".to_string()])
    );
    let m = eventually(&serve, 20, |m| match metric_status(m, "web").as_deref() {
        Some("healthy") => Ok(()),
        other => Err(format!("{other:?}")),
    });
    assert!(metric_status(&m, "plain").is_none());
    assert_eq!(
        m.value("ebrun_container_health_failing_streak", &[("name", "web")]),
        0.0
    );
    assert_eq!(
        health_events(&inst, t0, "web"),
        ["health_status: unhealthy", "health_status: healthy"]
    );
    assert!(health_events(&inst, t0, "slow").is_empty());

    // Stopped: unhealthy, as Docker leaves it, and no series; started again: starting with
    // a zero streak, the earlier results kept.
    inst.ok(&["stop", "-t", "0", "web"]);
    let h = health(&inst, "web");
    assert_eq!(h["Status"], "unhealthy", "{h}");
    assert!(ps_status(&inst, "web").starts_with("Exited"));
    assert!(ps_health(&inst, "unhealthy").contains("web"));
    eventually(&serve, 20, |m| match metric_status(m, "web") {
        None => Ok(()),
        other => Err(format!("{other:?}")),
    });
    inst.ok(&["start", "web"]);
    let h = health(&inst, "web");
    // (Its first probe, 200 ms on, finds the file.)
    assert!(
        ["starting", "healthy"].contains(&h["Status"].as_str().unwrap()),
        "{h}"
    );
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert!(!h["Log"].as_array().unwrap().is_empty(), "{h}");
    // The file was in the container's writable layer: healthy again, with an event.
    wait_health(&inst, "web", "healthy", 20);
    assert_eq!(
        health_events(&inst, t0, "web"),
        [
            "health_status: unhealthy",
            "health_status: healthy",
            "health_status: healthy"
        ]
    );
    inst.ok(&["rm", "-f", "web", "slow", "plain"]);
    assert_eq!(probe_helpers(&inst), Vec::<String>::new());
}

/// Processes of this instance's probe helpers still alive.
fn probe_helpers(inst: &Instance) -> Vec<String> {
    let root = inst.root().to_string_lossy().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&root) && cmdline.contains("container-health-probe") {
            found.push(cmdline);
        }
    }
    found
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_counted() {
    let inst = Instance::with_busybox();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "stuck",
        "--health-cmd",
        "echo begun; sleep 77",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "3",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "300",
    ]);
    let pid = inst.inspect("stuck")["State"]["Pid"].clone();
    let started = Instant::now();
    let h = wait_health(&inst, "stuck", "unhealthy", 30);
    // Three probes of at least 300 ms each.
    assert!(started.elapsed() >= Duration::from_millis(900), "{h}");
    for entry in h["Log"].as_array().unwrap() {
        assert_eq!(entry["ExitCode"], -1, "{h}");
        assert_eq!(
            entry["Output"], "Health check exceeded timeout (300ms): begun\n",
            "{h}"
        );
    }
    // Unhealthy is not a reason to restart, as in Docker.
    std::thread::sleep(Duration::from_millis(500));
    let state = inst.inspect("stuck");
    assert_eq!(state["State"]["Pid"], pid, "{state}");
    assert_eq!(state["RestartCount"], 0, "{state}");
    assert_eq!(state["State"]["Status"], "running", "{state}");
    // The killed probes are gone: at most the one in flight is left in the container.
    let ps = inst.ok(&["exec", "stuck", "ps", "-o", "pid,args"]);
    let sleeps = ps.lines().filter(|l| l.contains("sleep 77")).count();
    assert!(sleeps <= 1, "{ps}");
    inst.ok(&["rm", "-f", "stuck"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe_helpers(&inst).is_empty() {
        assert!(Instant::now() < deadline, "{:?}", probe_helpers(&inst));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Writes `bytes` as a blob of `layout`; its digest.
fn put_blob(layout: &Path, bytes: &[u8]) -> String {
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    format!("sha256:{hex}")
}

fn read_blob(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

/// The busybox test image with `healthcheck` as its config's `Healthcheck` (what a
/// Dockerfile's HEALTHCHECK writes), as an OCI layout in `dir`.
fn image_with_healthcheck(dir: &Path, healthcheck: Value) -> PathBuf {
    let layout = dir.join("hc-image");
    copy_dir(&image_layout("busybox"), &layout);
    let mut index =
        serde_json::from_slice::<Value>(&std::fs::read(layout.join("index.json")).unwrap())
            .unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut manifest = read_blob(&layout, &manifest_digest);
    let mut config = read_blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    config["config"]["Healthcheck"] = healthcheck;
    let config_bytes = serde_json::to_vec(&config).unwrap();
    manifest["config"]["digest"] = put_blob(&layout, &config_bytes).into();
    manifest["config"]["size"] = config_bytes.len().into();
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    index["manifests"][0]["digest"] = put_blob(&layout, &manifest_bytes).into();
    index["manifests"][0]["size"] = manifest_bytes.len().into();
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    layout
}

#[test]
fn an_images_healthcheck_runs_is_overridden_by_flags_and_disabled_by_no_healthcheck() {
    let inst = Instance::new();
    let tmp = tempfile::tempdir().unwrap();
    let layout = image_with_healthcheck(
        tmp.path(),
        serde_json::json!({"Test": ["CMD", "test", "-f", "/etc/passwd"], "Interval": 100_000_000, "Retries": 4}),
    );
    inst.ok(&["image", "import", layout.to_str().unwrap(), "checked:1"]);

    // The image's check as it is.
    inst.ok(&["run", "-d", "--name", "img", "checked:1", "sleep", "300"]);
    assert_eq!(
        inst.inspect("img")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "test", "-f", "/etc/passwd"], "Interval": 100_000_000, "Retries": 4})
    );
    let h = wait_health(&inst, "img", "healthy", 20);
    assert_eq!(h["Log"][0]["ExitCode"], 0, "{h}");

    // A flag overrides its field only: the image's test stays.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "tuned",
        "--health-retries",
        "1",
        "--health-timeout",
        "2s",
        "checked:1",
        "sleep",
        "300",
    ]);
    assert_eq!(
        inst.inspect("tuned")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "test", "-f", "/etc/passwd"], "Interval": 100_000_000,
            "Timeout": 2_000_000_000i64, "Retries": 1})
    );
    wait_health(&inst, "tuned", "healthy", 20);

    // --no-healthcheck: no checks, no health, nothing in ps.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "300",
    ]);
    let off = inst.inspect("off");
    // dockerd fills the zero fields from the image's even then.
    assert_eq!(
        off["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"], "Interval": 100_000_000, "Retries": 4})
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(health(&inst, "off").is_null(), "{off}");
    let status = ps_status(&inst, "off");
    assert!(
        status.starts_with("Up ") && !status.contains('('),
        "{status}"
    );
    assert_eq!(
        ps_health(&inst, "none"),
        BTreeSet::from(["off".to_string()])
    );

    // A foreground run is its own monitor and checks too.
    inst.ok(&[
        "run",
        "--name",
        "fg",
        "--health-interval",
        "100ms",
        "checked:1",
        "sleep",
        "1",
    ]);
    let h = health(&inst, "fg");
    assert_eq!(h["Status"], "unhealthy", "stopped: {h}");
    assert!(!h["Log"].as_array().unwrap().is_empty(), "{h}");
    inst.ok(&["rm", "-f", "img", "tuned", "off", "fg"]);
}

#[test]
fn bad_health_flags_are_refused_with_the_flag_named() {
    let inst = Instance::with_busybox();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--health-interval", "5"],
            "invalid argument \"5\" for \"--health-interval\" flag: time: missing unit in duration \"5\"",
        ),
        (&["--health-timeout", "-1s"], "--health-timeout cannot be negative"),
        (
            &["--health-retries", "x"],
            "invalid argument \"x\" for \"--health-retries\" flag",
        ),
        (&["--health-retries", "-2"], "--health-retries cannot be negative"),
        (
            &["--health-start-period", "500us"],
            "--health-start-period value \"500µs\": StartPeriod in Healthcheck cannot be less than 1ms",
        ),
        (
            &["--health-interval", "10ns", "--health-cmd", "true"],
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            &["--no-healthcheck", "--health-cmd", "true"],
            "--no-healthcheck conflicts with --health-* options",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "sleep", "300"]);
        let out = inst.run(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {out:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    assert_eq!(
        inst.ok(&["ps", "-aq"]),
        "",
        "a refused run left a container"
    );
    let out = inst.run(&["ps", "--filter", "health=bogus"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Unrecognised filter value for health: bogus"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn docker_cli_runs_health_checks_through_the_engine_api() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "dk",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    let status = |docker: &DockerCli| {
        docker
            .ok(&["inspect", "--format", "{{.State.Health.Status}}", "dk"])
            .trim()
            .to_string()
    };
    let wait = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while status(&docker) != want {
            assert!(Instant::now() < deadline, "never {want}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("unhealthy");
    let ps = docker.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with("dk Up") && l.ends_with("(unhealthy)")),
        "{ps}"
    );
    docker.ok(&["exec", "dk", "touch", "/tmp/ok"]);
    wait("healthy");
    let ps = docker.ok(&[
        "ps",
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(
        ps.trim().starts_with("dk Up") && ps.trim().ends_with("(healthy)"),
        "{ps}"
    );
    assert_eq!(
        docker
            .ok(&["inspect", "--format", "{{json .Config.Healthcheck}}", "dk"])
            .trim(),
        r#"{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":200000000,"Retries":2}"#
    );
    // dockerd's check of the create body.
    let out = docker.run(&["run", "-d", "--health-interval", "500us", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        stderr(&out).contains("Interval in Healthcheck cannot be less than 1ms"),
        "{}",
        stderr(&out)
    );
    // --no-healthcheck arrives as Test ["NONE"].
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "dkoff",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        docker
            .ok(&[
                "inspect",
                "--format",
                "{{json .Config.Healthcheck}}",
                "dkoff"
            ])
            .trim(),
        r#"{"Test":["NONE"]}"#
    );
    docker.ok(&["rm", "-f", "dk", "dkoff"]);
}
