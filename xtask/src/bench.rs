//! `cargo xtask bench`: measures `ebrun run --rm busybox true` against `crun run` and
//! `runc run` of the same root filesystem, and reports medians, p90s, ratios and the
//! project's targets (faster than runc; within 1.5x of crun). Then the eBPF meters' overhead
//! (see `bench_meters.rs`). It reports; it does not fail on a missed target (only when a case
//! cannot run at all).
//!
//! To add a case, push a [`Case`] in [`cases`]; to add a target, a [`Target`] in [`TARGETS`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::{self, TempDir};
use crate::{image, oci};

#[path = "bench_api.rs"]
mod api;
#[path = "bench_build.rs"]
mod build;
#[path = "bench_ctr.rs"]
mod ctr;
#[path = "bench_lifecycle.rs"]
mod lifecycle;
#[path = "bench_meters.rs"]
mod meters;
#[path = "bench_network.rs"]
mod network;
#[path = "bench_pull.rs"]
mod pull;
#[path = "bench_serve.rs"]
mod serve;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured runs per case.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Unmeasured runs per case before the measured ones.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Rounds of the eBPF meter benchmarks (context-switch storm, iperf3); 0 skips them.
    #[arg(long, default_value_t = 3)]
    pub meter_rounds: usize,
    /// Only these sections (repeatable): run (run --rm against crun/runc), oci (one bundle
    /// through `ebrun oci run`, crun and runc), ctr (ctr run --rm with ebrun-oci and runc),
    /// lifecycle, api (the docker CLI on ebrun's and podman's Engine API), build (ebrun build
    /// against podman build), meters (storm and
    /// iperf), storm, iperf, pull, network, serve. Default: all.
    #[arg(long, value_enum)]
    pub only: Vec<Section>,
}

/// A part of the benchmark that can be run on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    Run,
    /// The same bundle through `ebrun oci run`, `crun run` and `runc run`.
    Oci,
    /// `ctr run --rm` through containerd's runc shim with ebrun-oci and with runc.
    Ctr,
    Lifecycle,
    /// The Engine API (docker CLI) against podman's compatible API service.
    Api,
    /// `ebrun build` against `podman build`: a cached rebuild and an uncached build.
    Build,
    /// Both meter benchmarks (storm and iperf).
    Meters,
    /// The context-switch storm only.
    Storm,
    /// iperf3 with and without the traffic programs only.
    Iperf,
    Pull,
    Network,
    Serve,
}

/// One thing to measure: a command run to completion, `runs` times.
pub struct Case {
    pub name: String,
    pub cmd: Vec<OsString>,
    /// Printed under the table (e.g. how the command deviates from the plain one).
    pub note: Option<String>,
}

/// A goal: the median of `case` at most `max_ratio` times the median of `reference`.
pub struct Target {
    pub what: &'static str,
    pub case: &'static str,
    pub reference: &'static str,
    pub max_ratio: f64,
    /// Whether the ratio must be strictly below `max_ratio`.
    pub strict: bool,
}

pub const TARGETS: &[Target] = &[
    Target {
        what: "no slower than crun",
        case: "ebrun-oci",
        reference: "crun",
        max_ratio: 1.0,
        strict: false,
    },
    Target {
        what: "faster than runc",
        case: "ebrun-oci",
        reference: "runc",
        max_ratio: 1.0,
        strict: true,
    },
    Target {
        what: "faster than runc",
        case: "ebrun",
        reference: "runc",
        max_ratio: 1.0,
        strict: true,
    },
    Target {
        what: "within 1.5x of crun",
        case: "ebrun",
        reference: "crun",
        max_ratio: 1.5,
        strict: false,
    },
];

/// The container id used for crun and runc (one container at a time, deleted after each run).
fn container_id(runtime: &str) -> String {
    format!("ebrun-bench-{runtime}-{}", std::process::id())
}

/// What the cases share: an ebrun root with the busybox image, and an OCI bundle per
/// reference runtime over one unpacked root filesystem. Dropping it removes everything.
struct Fixture {
    ebrun: PathBuf,
    ebrun_root: PathBuf,
    /// (runtime, its state root) for `delete -f` at the end.
    runtimes: Vec<(&'static str, PathBuf)>,
    work: TempDir,
}

impl Fixture {
    fn new(ebrun: &Path) -> Result<Self> {
        let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-")?;
        let mut fixture = Fixture {
            ebrun: ebrun.to_path_buf(),
            ebrun_root: work.path().join("root"),
            runtimes: Vec::new(),
            work,
        };
        let layout = util::images_dir().join(image::BUSYBOX_LAYOUT);
        util::run(
            Command::new(&fixture.ebrun)
                .arg("--root")
                .arg(&fixture.ebrun_root)
                .args(["image", "import"])
                .arg(&layout)
                .arg("busybox:latest"),
        )?;
        let unpacked = fixture.work.path().join("unpacked");
        util::run(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:latest", layout.display()))
                .arg(&unpacked),
        )?;
        let rootfs = unpacked.join("rootfs");
        for runtime in ["crun", "runc", "ebrun-oci"] {
            let bundle = fixture.bundle(runtime);
            std::fs::create_dir_all(&bundle)?;
            // Each runtime's own default spec, as a user of it would start from.
            let mut spec_cmd = match runtime {
                "ebrun-oci" => {
                    let mut c = Command::new(&fixture.ebrun);
                    c.arg("oci");
                    c
                }
                other => Command::new(other),
            };
            util::output(spec_cmd.arg("spec").current_dir(&bundle))?;
            let path = bundle.join("config.json");
            let mut spec: Value = serde_json::from_slice(
                &std::fs::read(&path).with_context(|| format!("read {}", path.display()))?,
            )?;
            spec["process"]["args"] = serde_json::json!(["true"]);
            spec["process"]["terminal"] = Value::Bool(false);
            spec["root"]["path"] = Value::String(rootfs.to_string_lossy().into_owned());
            std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
            let state = fixture.state_root(runtime);
            std::fs::create_dir_all(&state)?;
            fixture.runtimes.push((runtime, state));
        }
        Ok(fixture)
    }

    fn bundle(&self, runtime: &str) -> PathBuf {
        self.work.path().join(format!("bundle-{runtime}"))
    }

    fn state_root(&self, runtime: &str) -> PathBuf {
        self.work.path().join(format!("state-{runtime}"))
    }

    /// `<runtime> --root STATE run --bundle BUNDLE ID` (ebrun's with its meters pinned in
    /// the fixture's root).
    fn oci_run(&self, runtime: &str) -> Vec<OsString> {
        let program: Vec<OsString> = match runtime {
            "ebrun-oci" => vec![
                "env".into(),
                format!("EBRUN_ROOT={}", self.ebrun_root.display()).into(),
                self.ebrun.clone().into(),
                "oci".into(),
            ],
            other => vec![other.into()],
        };
        program
            .into_iter()
            .chain([
                "--root".into(),
                self.state_root(runtime).into(),
                "run".into(),
                "--bundle".into(),
                self.bundle(runtime).into(),
                container_id(runtime).into(),
            ])
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for (runtime, state) in &self.runtimes {
            let mut delete = match *runtime {
                "ebrun-oci" => {
                    let mut c = Command::new(&self.ebrun);
                    c.arg("oci").env("EBRUN_ROOT", &self.ebrun_root);
                    c
                }
                other => Command::new(other),
            };
            let _ = delete
                .arg("--root")
                .arg(state)
                .args(["delete", "-f", &container_id(runtime)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new(&self.ebrun)
            .arg("--root")
            .arg(&self.ebrun_root)
            .args(["system", "teardown"])
            .stdin(Stdio::null())
            .status();
        // `work` is removed after this, refusing to cross any mount left behind.
    }
}

/// A hybrid cgroup host: cgroup2 mounted at /sys/fs/cgroup/unified (crun refuses these).
fn hybrid_cgroups() -> bool {
    util::mounts().is_ok_and(|mounts| {
        mounts
            .iter()
            .any(|m| m.mount_point == Path::new("/sys/fs/cgroup/unified") && m.fstype == "cgroup2")
    })
}

/// The cases to measure: `run` (ebrun run --rm against crun and runc) and `oci` (the same
/// bundle through `ebrun oci run`).
fn cases(fixture: &Fixture, run: bool, oci: bool) -> Vec<Case> {
    let mut ebrun: Vec<OsString> = vec![
        fixture.ebrun.clone().into(),
        "--root".into(),
        fixture.ebrun_root.clone().into(),
    ];
    // Like for like: the reference bundles get a new network namespace with only loopback,
    // which is `--net none`; bridge networking is measured by the networking cases.
    ebrun.extend(["run", "--rm", "--net", "none", "busybox", "true"].map(OsString::from));

    let mut crun = fixture.oci_run("crun");
    let mut crun_note = None;
    if hybrid_cgroups() {
        // crun refuses hybrid hosts: run it in a private mount namespace without cgroup2.
        let mut wrapped: Vec<OsString> = [
            "unshare",
            "-m",
            "sh",
            "-c",
            r#"umount /sys/fs/cgroup/unified && exec "$0" "$@""#,
        ]
        .map(OsString::from)
        .to_vec();
        wrapped.append(&mut crun);
        crun = wrapped;
        crun_note = Some(
            "crun: hybrid cgroup host, so crun runs inside `unshare -m` with \
             /sys/fs/cgroup/unified unmounted; that adds about 3 ms per run to crun's numbers"
                .to_string(),
        );
    }

    let mut cases = Vec::new();
    if run {
        cases.push(Case {
            name: "ebrun".into(),
            cmd: ebrun,
            note: None,
        });
    }
    if oci {
        cases.push(Case {
            name: "ebrun-oci".into(),
            cmd: fixture.oci_run("ebrun-oci"),
            note: Some(
                "ebrun-oci: `ebrun oci run` of a bundle made from `ebrun oci spec` (create, start, \
                 wait, delete), meters registered in the bench's own root"
                    .to_string(),
            ),
        });
    }
    cases.push(Case {
        name: "crun".into(),
        cmd: crun,
        note: crun_note,
    });
    cases.push(Case {
        name: "runc".into(),
        cmd: fixture.oci_run("runc"),
        note: None,
    });
    cases
}

/// Runs the command once; its duration, or why it failed.
fn time_once(cmd: &[OsString]) -> Result<Duration> {
    let mut command = Command::new(&cmd[0]);
    command
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = command
        .output()
        .with_context(|| format!("cannot run {}", util::display_cmd(&command)))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            util::display_cmd(&command),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(elapsed)
}

/// Summary of one case's measured runs.
struct Stats {
    median: Duration,
    p90: Duration,
    min: Duration,
    max: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    };
    // Nearest rank.
    let p90 = s[(n * 9).div_ceil(10).max(1) - 1];
    Stats {
        median,
        p90,
        min: s[0],
        max: s[n - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn first_line(cmd: &mut Command) -> String {
    util::try_output(cmd)
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown version".into())
}

pub fn run(args: Args) -> Result<()> {
    util::require_root("bench")?;
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let layout = util::images_dir().join(image::BUSYBOX_LAYOUT);
    if !oci::layout_complete(&layout) {
        bail!("{} is missing: run `cargo xtask setup`", layout.display());
    }
    util::run(util::cargo().args(["build", "--release", "-p", "ebrun"]))?;
    let ebrun = util::target_dir().join("release/ebrun");

    let wanted = |s: Section| args.only.is_empty() || args.only.contains(&s);
    let fixture = Fixture::new(&ebrun)?;
    let cases = if wanted(Section::Run) || wanted(Section::Oci) {
        cases(&fixture, wanted(Section::Run), wanted(Section::Oci))
    } else {
        Vec::new()
    };
    println!();
    println!(
        "versions: {}; {}; {}",
        first_line(Command::new(&ebrun).arg("--version")),
        first_line(Command::new("crun").arg("--version")),
        first_line(Command::new("runc").arg("--version")),
    );
    println!(
        "{} warm-up runs, then {} measured runs per case",
        args.warmup, args.runs
    );

    let mut results: Vec<(String, Result<Stats>)> = Vec::new();
    for case in &cases {
        println!("measuring {}: {}", case.name, {
            let mut c = Command::new(&case.cmd[0]);
            c.args(&case.cmd[1..]);
            util::display_cmd(&c)
        });
        let measured = (|| -> Result<Stats> {
            for _ in 0..args.warmup {
                time_once(&case.cmd)?;
            }
            let samples = (0..args.runs)
                .map(|_| time_once(&case.cmd))
                .collect::<Result<Vec<_>>>()?;
            Ok(stats(&samples))
        })();
        results.push((case.name.clone(), measured));
    }

    println!();
    if !cases.is_empty() {
        println!(
            "{:<10} {:>6} {:>11} {:>11} {:>11} {:>11}",
            "case", "runs", "median", "p90", "min", "max"
        );
    }
    for (name, result) in &results {
        match result {
            Ok(s) => println!(
                "{:<10} {:>6} {:>11} {:>11} {:>11} {:>11}",
                name,
                args.runs,
                ms(s.median),
                ms(s.p90),
                ms(s.min),
                ms(s.max)
            ),
            Err(e) => println!("{name:<10} FAILED: {e:#}"),
        }
    }
    let median = |name: &str| -> Option<f64> {
        results
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|s| s.median.as_secs_f64())
    };
    println!();
    let measured = |name: &str| cases.iter().any(|c| c.name == name);
    for target in TARGETS.iter().filter(|t| measured(t.case)) {
        let ratio = median(target.case)
            .zip(median(target.reference))
            .map(|(a, b)| a / b);
        let (ratio_text, verdict) = match ratio {
            Some(r) => {
                let pass = if target.strict {
                    r < target.max_ratio
                } else {
                    r <= target.max_ratio
                };
                (format!("{r:.2}x"), if pass { "PASS" } else { "FAIL" })
            }
            None => ("n/a".to_string(), "FAIL"),
        };
        println!(
            "{}/{} = {:<6} target: {:<22} {}",
            target.case, target.reference, ratio_text, target.what, verdict
        );
    }
    for case in &cases {
        if let Some(note) = &case.note {
            println!("note: {note}");
        }
    }
    let lifecycle = if wanted(Section::Lifecycle) {
        lifecycle::run(&fixture.ebrun, &fixture.ebrun_root, args.runs, args.warmup)
    } else {
        Ok(())
    };
    if let Err(e) = &lifecycle {
        println!("lifecycle benchmark FAILED: {e:#}");
    }
    let api = if wanted(Section::Api) {
        api::run(&fixture.ebrun, &fixture.ebrun_root, args.runs, args.warmup)
    } else {
        Ok(())
    };
    if let Err(e) = &api {
        println!("Engine API benchmark FAILED: {e:#}");
    }
    let build = if wanted(Section::Build) {
        build::run(&fixture.ebrun, &fixture.ebrun_root, args.runs, args.warmup)
    } else {
        Ok(())
    };
    if let Err(e) = &build {
        println!("build benchmark FAILED: {e:#}");
    }
    let ctr = if wanted(Section::Ctr) {
        ctr::run(&fixture.ebrun, &fixture.ebrun_root, args.runs, args.warmup)
    } else {
        Ok(())
    };
    if let Err(e) = &ctr {
        println!("ctr benchmark FAILED: {e:#}");
    }
    let parts = meters::Parts {
        storm: wanted(Section::Meters) || wanted(Section::Storm),
        iperf: wanted(Section::Meters) || wanted(Section::Iperf),
    };
    let meters = (args.meter_rounds > 0 && (parts.storm || parts.iperf)).then(|| {
        meters::run(
            &fixture.ebrun,
            &fixture.ebrun_root,
            args.meter_rounds,
            parts,
        )
    });
    drop(fixture);

    let mut failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| n.as_str())
        .collect();
    if matches!(meters, Some(Err(_))) {
        failed.push("meters");
    }
    if lifecycle.is_err() {
        failed.push("lifecycle");
    }
    if ctr.is_err() {
        failed.push("ctr");
    }
    if api.is_err() {
        failed.push("api");
    }
    if build.is_err() {
        failed.push("build");
    }
    if wanted(Section::Pull) {
        if let Err(e) = pull::run(&ebrun, args.runs, args.warmup) {
            println!("pull benchmark FAILED: {e:#}");
            failed.push("pull");
        }
    }
    if wanted(Section::Network) {
        if let Err(e) = network::run(&ebrun, args.runs, args.warmup, 3) {
            println!("network benchmark FAILED: {e:#}");
            failed.push("network");
        }
    }
    if wanted(Section::Serve) {
        if let Err(e) = serve::run(&ebrun) {
            println!("serve benchmark FAILED: {e:#}");
            failed.push("serve");
        }
    }
    if !failed.is_empty() {
        bail!("case(s) could not run: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        let d: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        let s = stats(&d);
        assert_eq!(s.median, Duration::from_micros(5500));
        assert_eq!(s.p90, Duration::from_millis(9));
        let s = stats(&d[..3]);
        assert_eq!(s.median, Duration::from_millis(2));
        assert_eq!(s.p90, Duration::from_millis(3));
        assert_eq!(stats(&d[..1]).p90, Duration::from_millis(1));
    }
}
