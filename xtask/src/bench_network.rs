//! Networking, part of `cargo xtask bench`:
//!
//! - `ebrun run --rm -p 8080:80 busybox true` on the default bridge, against podman (+crun)
//!   with its bridge network and the same `-p`, and against crun in a pre-made network
//!   namespace wired by one `ip -batch` (veth into a bridge, address, route) and removed after
//!   the run. Targets: ebrun at most 25 ms median and at least 10x faster than podman.
//! - iperf3 from a container to an "outside host" (a network namespace behind a veth):
//!   through NAT (a network with masquerade) against the same path without NAT (a network
//!   with `com.docker.network.bridge.enable_ip_masquerade=false`, the outside host routing
//!   back). Target: NAT at least 90% of the throughput without.
//!
//! Everything runs on addresses of namespaces and bridges this bench creates.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::{self, TempDir};

const RUN_TARGET_MS: f64 = 25.0;
const PODMAN_FACTOR: f64 = 10.0;
const NAT_TARGET: f64 = 0.90;
/// Subnets of this bench (the default bridge, the crun bridge, the outside link, NAT, no NAT).
const BIP: &str = "10.231.0.1/24";
const CRUN_NET: &str = "10.232.0";
const OUTSIDE_NET: &str = "10.233.0";
const NAT_SUBNET: &str = "10.234.0.0/24";
const PLAIN_SUBNET: &str = "10.235.0.0/24";

fn sh(args: &[&str]) -> Result<String> {
    util::output(Command::new(args[0]).args(&args[1..]))
}

fn quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Host objects of this bench, removed on drop.
struct Fixture {
    ebrun: PathBuf,
    root: PathBuf,
    tag: String,
    _work: TempDir,
    work: PathBuf,
}

impl Fixture {
    fn new(ebrun: &Path) -> Result<Self> {
        let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-net-")?;
        let tag = format!("{:x}", std::process::id() & 0xffff);
        let f = Fixture {
            ebrun: ebrun.to_path_buf(),
            root: work.path().join("root"),
            tag,
            work: work.path().to_path_buf(),
            _work: work,
        };
        std::fs::create_dir_all(&f.root)?;
        std::fs::write(f.root.join("daemon.json"), format!(r#"{{"bip": "{BIP}"}}"#))?;
        for (layout, name) in [
            ("busybox", "busybox:latest"),
            ("debian-tools", "debian-tools:latest"),
        ] {
            f.ebrun(&[
                "image",
                "import",
                util::images_dir().join(layout).to_str().unwrap(),
                name,
            ])?;
        }
        Ok(f)
    }

    fn ebrun_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.ebrun);
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn ebrun(&self, args: &[&str]) -> Result<String> {
        util::output(&mut self.ebrun_cmd(args))
    }

    fn ns(&self, what: &str) -> String {
        format!("ebrb-{what}-{}", self.tag)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.ebrun_cmd(&["system", "teardown"]).status();
        quiet(&["ip", "netns", "del", &self.ns("out")]);
        quiet(&["ip", "netns", "del", &self.ns("crun")]);
        quiet(&["ip", "link", "del", &format!("ebrbh{}", self.tag)]);
        quiet(&["ip", "link", "del", &format!("ebrbbr{}", self.tag)]);
        quiet(&["podman", "rm", "-f", "-a"]);
    }
}

fn time_once(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let d = start.elapsed();
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            util::display_cmd(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(d)
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    m.as_secs_f64() * 1000.0
}

fn measure(
    name: &str,
    runs: usize,
    warmup: usize,
    mut make: impl FnMut() -> Command,
) -> Result<f64> {
    println!("measuring {name}: {}", util::display_cmd(&make()));
    for _ in 0..warmup {
        time_once(&mut make())?;
    }
    let samples = (0..runs)
        .map(|_| time_once(&mut make()))
        .collect::<Result<Vec<_>>>()?;
    Ok(median_ms(samples))
}

/// podman (+crun) with the busybox image loaded and its bridge network. On a hybrid cgroup
/// host crun refuses to run, so podman runs in a private mount namespace without the cgroup2
/// mount, as crun does in the main bench.
fn podman_case() -> Result<Command> {
    let archive = util::images_dir().join("busybox-docker.tar");
    sh(&["podman", "load", "-q", "-i", archive.to_str().unwrap()])?;
    let mut c = if Path::new("/sys/fs/cgroup/unified").exists() {
        let mut c = Command::new("unshare");
        c.args([
            "-m",
            "sh",
            "-c",
            r#"umount /sys/fs/cgroup/unified && exec "$0" "$@""#,
            "podman",
        ]);
        c
    } else {
        Command::new("podman")
    };
    c.args([
        "run",
        "--rm",
        "--runtime",
        "crun",
        "--network",
        "bridge",
        "-p",
        "8080:80",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
        "docker.io/library/busybox:latest",
        "true",
    ]);
    Ok(c)
}

/// crun in a pre-made network namespace: a script that makes the namespace, wires it with
/// one `ip -batch`, runs crun in it and deletes the namespace.
fn crun_case(f: &Fixture) -> Result<Command> {
    let bundle = f.work.join("crun-bundle");
    let rootfs = f.work.join("crun-unpacked");
    let layout = util::images_dir().join("busybox");
    util::run(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", layout.display()))
            .arg(&rootfs),
    )?;
    std::fs::create_dir_all(&bundle)?;
    util::output(Command::new("crun").arg("spec").current_dir(&bundle))?;
    let ns = f.ns("crun");
    let path = bundle.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["args"] = serde_json::json!(["true"]);
    spec["process"]["terminal"] = Value::Bool(false);
    spec["root"]["path"] = Value::String(rootfs.join("rootfs").to_string_lossy().into_owned());
    if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
        for n in list.iter_mut() {
            if n["type"] == "network" {
                n["path"] = Value::String(format!("/var/run/netns/{ns}"));
            }
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    let br = format!("ebrbbr{}", f.tag);
    sh(&["ip", "link", "add", &br, "type", "bridge"])?;
    sh(&["ip", "addr", "add", &format!("{CRUN_NET}.1/24"), "dev", &br])?;
    sh(&["ip", "link", "set", &br, "up"])?;
    let state = f.work.join("crun-state");
    std::fs::create_dir_all(&state)?;
    // The host end gets a name of its own per run (the script's pid): `ip netns del`
    // returns before the kernel has deleted the previous run's pair in the background, so a
    // fixed name collides with it ("RTNETLINK answers: File exists").
    let host_batch = format!("link add ebrbv$$ master {br} up type veth peer name eth0 netns {ns}");
    let ns_batch = format!(
        "link set lo up\naddr add {CRUN_NET}.2/24 dev eth0\nlink set eth0 up\n\
         route add default via {CRUN_NET}.1\n"
    );
    std::fs::write(f.work.join("crun-batch-ns"), ns_batch)?;
    // crun refuses hybrid cgroup hosts (see the main bench): a private mount namespace
    // without the cgroup2 mount.
    let hybrid = if Path::new("/sys/fs/cgroup/unified").exists() {
        "unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec \"$0\" \"$@\"' "
    } else {
        ""
    };
    let script = format!(
        "set -e; ip netns add {ns}; echo \"{host_batch}\" | ip -batch -; \
         ip -n {ns} -batch {inner}; \
         {hybrid}crun --root {state} run --bundle {bundle} ebrb-crun-{tag}; ip netns del {ns}",
        inner = f.work.join("crun-batch-ns").display(),
        state = state.display(),
        bundle = bundle.display(),
        tag = f.tag,
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script]);
    Ok(c)
}

/// The outside host for iperf3: a namespace behind a veth, running `iperf3 -s` in an ebrun
/// container that shares its network namespace.
fn outside_host(f: &Fixture) -> Result<String> {
    let ns = f.ns("out");
    let host_if = format!("ebrbh{}", f.tag);
    sh(&["ip", "netns", "add", &ns])?;
    sh(&[
        "ip", "link", "add", &host_if, "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ])?;
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("{OUTSIDE_NET}.1/24"),
        "dev",
        &host_if,
    ])?;
    sh(&["ip", "link", "set", &host_if, "up"])?;
    for args in [
        vec![
            "ip",
            "addr",
            "add",
            &format!("{OUTSIDE_NET}.2/24"),
            "dev",
            "eth0",
        ],
        vec!["ip", "link", "set", "eth0", "up"],
        vec!["ip", "link", "set", "lo", "up"],
        vec![
            "ip",
            "route",
            "add",
            "default",
            "via",
            &format!("{OUTSIDE_NET}.1"),
        ],
    ] {
        let mut full = vec!["ip", "netns", "exec", &ns];
        full.extend(args.iter().map(|s| -> &str { s }));
        sh(&full)?;
    }
    // nsenter switches only the network namespace: `ip netns exec` would also give ebrun a
    // mount namespace without the cgroup hierarchies.
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}"))
        .arg(&f.ebrun)
        .arg("--root")
        .arg(&f.root);
    c.args([
        "run",
        "-d",
        "--net",
        "host",
        "--name",
        "iperf-outside",
        "debian-tools",
        "iperf3",
        "-s",
    ]);
    util::output(&mut c)?;
    std::thread::sleep(Duration::from_millis(500));
    Ok(format!("{OUTSIDE_NET}.2"))
}

/// Gbit/s received by the outside host from a 5 s iperf3 run in a container on `network`.
fn iperf(f: &Fixture, network: &str, server: &str) -> Result<f64> {
    let out = f.ebrun(&[
        "run",
        "--rm",
        "--network",
        network,
        "debian-tools",
        "iperf3",
        "-c",
        server,
        "-t",
        "5",
        "-J",
    ])?;
    let v: Value = serde_json::from_str(&out).context("iperf3 JSON")?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e9)
        .context("iperf3 reported no throughput")
}

/// Runs the networking benchmarks and prints their results and targets.
pub fn run(ebrun: &Path, runs: usize, warmup: usize, iperf_rounds: usize) -> Result<()> {
    println!();
    println!("== networking ==");
    let f = Fixture::new(ebrun)?;
    let ebrun_p = measure("ebrun -p", runs, warmup, || {
        f.ebrun_cmd(&["run", "--rm", "-p", "8080:80", "busybox", "true"])
    })?;
    let ebrun_none = measure("ebrun --net none", runs, warmup, || {
        f.ebrun_cmd(&["run", "--rm", "--net", "none", "busybox", "true"])
    })?;
    let crun = crun_case(&f).and_then(|c| {
        let prog = c.get_program().to_owned();
        let args: Vec<OsString> = c.get_args().map(|a| a.to_owned()).collect();
        measure("crun + netns + ip -batch", runs, warmup, || {
            let mut c = Command::new(&prog);
            c.args(&args);
            c
        })
    });
    let podman = podman_case().and_then(|c| {
        let prog = c.get_program().to_owned();
        let args: Vec<OsString> = c.get_args().map(|a| a.to_owned()).collect();
        measure("podman bridge -p", runs.min(10), warmup.min(1), || {
            let mut c = Command::new(&prog);
            c.args(&args);
            c
        })
    });
    println!();
    println!("{:<28} {:>10}", "case", "median");
    println!("{:<28} {:>7.2} ms", "ebrun run --rm -p", ebrun_p);
    println!("{:<28} {:>7.2} ms", "ebrun run --rm --net none", ebrun_none);
    match &crun {
        Ok(m) => println!("{:<28} {:>7.2} ms", "crun + netns + ip -batch", m),
        Err(e) => println!("{:<28} FAILED: {e:#}", "crun + netns + ip -batch"),
    }
    match &podman {
        Ok(m) => println!("{:<28} {:>7.2} ms", "podman bridge -p", m),
        Err(e) => println!("{:<28} FAILED: {e:#}", "podman bridge -p"),
    }
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "ebrun -p median {ebrun_p:.2} ms, target <= {RUN_TARGET_MS} ms: {}",
        verdict(ebrun_p <= RUN_TARGET_MS)
    );
    if let Ok(p) = &podman {
        println!(
            "podman/ebrun = {:.1}x, target >= {PODMAN_FACTOR}x: {}",
            p / ebrun_p,
            verdict(p / ebrun_p >= PODMAN_FACTOR)
        );
    }
    if let Ok(c) = &crun {
        println!("ebrun/crun+ip = {:.2}x", ebrun_p / c);
    }

    if iperf_rounds > 0 {
        let server = outside_host(&f)?;
        f.ebrun(&["network", "create", "--subnet", NAT_SUBNET, "bench-nat"])?;
        f.ebrun(&[
            "network",
            "create",
            "--subnet",
            PLAIN_SUBNET,
            "-o",
            "com.docker.network.bridge.enable_ip_masquerade=false",
            "bench-plain",
        ])?;
        let (mut nat, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..iperf_rounds {
            plain.push(iperf(&f, "bench-plain", &server)?);
            nat.push(iperf(&f, "bench-nat", &server)?);
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let (n, p) = (med(&mut nat), med(&mut plain));
        println!(
            "iperf3 container -> outside host, 5 s x {iperf_rounds}: NAT {n:.2} Gbit/s, no NAT {p:.2} Gbit/s, \
             ratio {:.3}, target >= {NAT_TARGET}: {}",
            n / p,
            verdict(n / p >= NAT_TARGET)
        );
    }
    if crun.is_err() || podman.is_err() {
        bail!("a networking reference case could not run");
    }
    Ok(())
}
