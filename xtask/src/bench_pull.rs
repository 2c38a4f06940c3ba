//! The pull benchmark of `cargo xtask bench`: pulling the busybox test image from a loopback
//! `docker-registry` (plain HTTP) with `ebrun pull`, `skopeo copy` to an OCI directory and
//! `podman pull`, in the same run. Before each measured run, untimed, the previous pull's
//! result is removed (`ebrun rmi`, `rm -rf`, `podman rmi`), so every run downloads and
//! stores the whole image. Target: ebrun within 1.5x of skopeo.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::{self, TempDir};

const TARGET_RATIO: f64 = 1.5;

/// A docker-registry of the benchmark's own, killed on drop.
struct Registry {
    child: Child,
    port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry(work: &Path) -> Result<Registry> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = work.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            work.join("registry").display()
        ),
    )?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start docker-registry (cargo xtask setup installs it)")?;
    let registry = Registry { child, port };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("docker-registry did not start on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(registry)
}

struct PullCase {
    name: &'static str,
    prepare: Vec<OsString>,
    cmd: Vec<OsString>,
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn with(mut v: Vec<OsString>, more: &[&str]) -> Vec<OsString> {
    v.extend(more.iter().map(OsString::from));
    v
}

fn quiet(cmd: &[OsString]) -> Result<()> {
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let _ = status;
    Ok(())
}

/// Runs the pull benchmark and prints its table and target verdict.
pub fn run(ebrun: &Path, runs: usize, warmup: usize) -> Result<()> {
    let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-pull-")?;
    let w = work.path();
    let registry = start_registry(w)?;
    let image = format!("127.0.0.1:{}/bench/busybox:latest", registry.port);
    let layout = util::images_dir().join(crate::image::BUSYBOX_LAYOUT);
    util::run(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{image}")),
    )?;
    let root = w.join("ebrun-root");
    std::fs::create_dir_all(&root)?;
    std::fs::write(
        root.join("daemon.json"),
        format!(
            r#"{{"insecure-registries":["127.0.0.1:{}"]}}"#,
            registry.port
        ),
    )?;
    let ebrun_base: Vec<OsString> = vec![ebrun.into(), "--root".into(), root.clone().into()];
    let oci_dir = w.join("skopeo-oci");
    let podman_base: Vec<OsString> = vec![
        "podman".into(),
        "--root".into(),
        w.join("podman-root").into(),
        "--runroot".into(),
        w.join("podman-run").into(),
        "--storage-driver".into(),
        "overlay".into(),
    ];
    let mut cases = vec![
        PullCase {
            name: "ebrun pull",
            prepare: with(ebrun_base.clone(), &["rmi", "-f", &image]),
            cmd: with(ebrun_base.clone(), &["pull", "-q", &image]),
        },
        PullCase {
            name: "skopeo copy",
            prepare: vec!["rm".into(), "-rf".into(), oci_dir.clone().into()],
            cmd: with(
                os(&["skopeo", "copy", "-q", "--src-tls-verify=false"]),
                &[
                    &format!("docker://{image}"),
                    &format!("oci:{}:latest", oci_dir.display()),
                ],
            ),
        },
    ];
    let podman = util::try_output(Command::new("podman").arg("--version")).is_some();
    if podman {
        cases.push(PullCase {
            name: "podman pull",
            prepare: with(podman_base.clone(), &["rmi", "-af"]),
            cmd: with(
                podman_base.clone(),
                &["pull", "-q", "--tls-verify=false", &image],
            ),
        });
    } else {
        println!("note: podman is not installed; its pull case is skipped");
    }

    println!();
    println!("pull of the busybox test image from a loopback docker-registry ({image})");
    let mut medians = Vec::new();
    for case in &cases {
        let mut samples = Vec::new();
        for i in 0..warmup + runs {
            quiet(&case.prepare)?;
            let elapsed = super::time_once(&case.cmd)
                .with_context(|| format!("{} could not run", case.name))?;
            if i >= warmup {
                samples.push(elapsed);
            }
        }
        let s = super::stats(&samples);
        println!(
            "{:<12} {:>6} {:>11} {:>11} {:>11} {:>11}",
            case.name,
            runs,
            super::ms(s.median),
            super::ms(s.p90),
            super::ms(s.min),
            super::ms(s.max)
        );
        medians.push((case.name, s.median.as_secs_f64()));
    }
    let median = |n: &str| medians.iter().find(|(c, _)| *c == n).map(|(_, m)| *m);
    if let (Some(e), Some(s)) = (median("ebrun pull"), median("skopeo copy")) {
        let ratio = e / s;
        println!(
            "ebrun pull/skopeo copy = {ratio:.2}x target: within {TARGET_RATIO}x of skopeo {}",
            if ratio <= TARGET_RATIO {
                "PASS"
            } else {
                "FAIL"
            }
        );
    }
    if let (Some(e), Some(p)) = (median("ebrun pull"), median("podman pull")) {
        println!("ebrun pull/podman pull = {:.2}x", e / p);
    }
    println!(
        "note: ebrun and podman pull also unpack the layers into their stores; skopeo only \
         writes the blobs to an OCI directory"
    );
    if podman {
        let _ = quiet(&with(podman_base, &["rmi", "-af"]));
    }
    let _ = quiet(&with(ebrun_base, &["system", "teardown"]));
    drop(registry);
    Ok(())
}
