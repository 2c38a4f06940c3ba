//! The lifecycle benchmark of `cargo xtask bench`: a detached create+start+remove cycle and
//! an exec into a running container, for ebrun, runc, crun and podman in the same run.
//! ebrun: `run -d --net none` + `rm -f` (like the others: a new netns with only loopback);
//! runc/crun: `create` + `start` + `delete -f` of a bundle
//! running `sleep`; podman: `run -d` + `rm -f` (own --root/--runroot, no network).
//! Targets: at most runc's time, and ten times faster than podman.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use super::{hybrid_cgroups, ms, stats, time_once};
use crate::image;
use crate::util::{self, TempDir};

pub(super) fn sh(script: String) -> Vec<OsString> {
    vec!["sh".into(), "-c".into(), script.into()]
}

pub(super) fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// How crun is run on a hybrid host (it refuses those with cgroup2 mounted).
fn crun_prefix() -> &'static str {
    if hybrid_cgroups() {
        r#"unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' crun"#
    } else {
        "crun"
    }
}

struct Bundles {
    work: TempDir,
}

impl Bundles {
    fn new() -> Result<Bundles> {
        let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-life-")?;
        let layout = util::images_dir().join(image::BUSYBOX_LAYOUT);
        let unpacked = work.path().join("unpacked");
        util::run(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:latest", layout.display()))
                .arg(&unpacked),
        )?;
        for runtime in ["runc", "crun"] {
            let bundle = work.path().join(format!("bundle-{runtime}"));
            std::fs::create_dir_all(&bundle)?;
            util::output(Command::new(runtime).arg("spec").current_dir(&bundle))?;
            let path = bundle.join("config.json");
            let mut spec: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
            spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
            spec["process"]["terminal"] = Value::Bool(false);
            spec["root"]["path"] = Value::String(unpacked.join("rootfs").display().to_string());
            std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
            std::fs::create_dir_all(work.path().join(format!("state-{runtime}")))?;
        }
        Ok(Bundles { work })
    }

    fn bundle(&self, runtime: &str) -> std::path::PathBuf {
        self.work.path().join(format!("bundle-{runtime}"))
    }

    fn state(&self, runtime: &str) -> std::path::PathBuf {
        self.work.path().join(format!("state-{runtime}"))
    }
}

/// One measured command and its median.
pub(super) fn measure(name: &str, cmd: &[OsString], runs: usize, warmup: usize) -> Result<f64> {
    for _ in 0..warmup {
        time_once(cmd)?;
    }
    let samples = (0..runs)
        .map(|_| time_once(cmd))
        .collect::<Result<Vec<_>>>()?;
    let s = stats(&samples);
    println!(
        "{name:<28} {runs:>5} {:>11} {:>11}",
        ms(s.median),
        ms(s.p90)
    );
    Ok(s.median.as_secs_f64())
}

pub(super) fn verdict(what: &str, ratio: f64, max: f64) {
    let pass = if ratio <= max { "PASS" } else { "FAIL" };
    println!("{what:<44} = {ratio:>6.2}x  target <= {max}x  {pass}");
}

pub fn run(ebrun: &Path, ebrun_root: &Path, runs: usize, warmup: usize) -> Result<()> {
    let bundles = Bundles::new()?;
    let e = format!("{} --root {}", quote(ebrun), quote(ebrun_root));
    let podman_root = bundles.work.path().join("podman-root");
    let podman_run = bundles.work.path().join("podman-run");
    // podman's runtime refuses hybrid hosts too: the same private-mount-namespace wrapper.
    let podman_prefix = if hybrid_cgroups() {
        r#"unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' podman"#
    } else {
        "podman"
    };
    let podman = format!(
        "{podman_prefix} --root {} --runroot {} --cgroup-manager cgroupfs --runtime crun",
        quote(&podman_root),
        quote(&podman_run)
    );
    let have_podman = util::try_output(Command::new("podman").arg("--version")).is_some();
    if have_podman {
        let archive = util::images_dir().join("busybox-oci.tar");
        util::run(Command::new("sh").args([
            "-c",
            &format!("{podman} load -q -i {} >/dev/null", quote(&archive)),
        ]))
        .context("load busybox into podman")?;
    }
    let podman_run_flags = "--network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768";

    println!();
    println!(
        "{:<28} {:>5} {:>11} {:>11}",
        "lifecycle case", "runs", "median", "p90"
    );
    let oci_cycle = |rt: &str, prefix: &str| {
        let (b, s) = (quote(&bundles.bundle(rt)), quote(&bundles.state(rt)));
        sh(format!(
            "{prefix} --root {s} create --bundle {b} cyc-{rt} && {prefix} --root {s} start cyc-{rt} && {prefix} --root {s} delete -f cyc-{rt}"
        ))
    };
    let cycle_ebrun = measure(
        "ebrun run -d + rm -f",
        &sh(format!(
            "{e} rm -f $({e} run -d --net none busybox sleep 1000) >/dev/null"
        )),
        runs,
        warmup,
    )?;
    let cycle_runc = measure(
        "runc create+start+delete",
        &oci_cycle("runc", "runc"),
        runs,
        warmup,
    )?;
    let cycle_crun = measure(
        "crun create+start+delete",
        &oci_cycle("crun", crun_prefix()),
        runs,
        warmup,
    )
    .ok();
    let cycle_podman = if have_podman {
        measure(
            "podman run -d + rm -f",
            &sh(format!("{podman} rm -f -t 0 $({podman} run -d {podman_run_flags} busybox sleep 1000) >/dev/null")),
            runs.min(10),
            1,
        )
        .ok()
    } else {
        None
    };

    // exec into a running container of each runtime.
    util::run(Command::new("sh").args([
        "-c",
        &format!("{e} run -d --net none --name bench-exec busybox sleep 1000 >/dev/null"),
    ]))?;
    {
        let rt = "runc";
        let (b, s) = (quote(&bundles.bundle(rt)), quote(&bundles.state(rt)));
        util::run(Command::new("sh").args([
            "-c",
            &format!("{rt} --root {s} run -d --bundle {b} exec-{rt} </dev/null >/dev/null 2>&1"),
        ]))?;
    }
    if have_podman {
        util::run(Command::new("sh").args([
            "-c",
            &format!("{podman} run -d --name bench-exec {podman_run_flags} busybox sleep 1000 >/dev/null"),
        ]))?;
    }
    let exec_ebrun = measure(
        "ebrun exec true",
        &sh(format!("{e} exec bench-exec true")),
        runs,
        warmup,
    )?;
    let s = quote(&bundles.state("runc"));
    let exec_runc = measure(
        "runc exec true",
        &sh(format!("runc --root {s} exec exec-runc true")),
        runs,
        warmup,
    )?;
    let exec_podman = if have_podman {
        measure(
            "podman exec true",
            &sh(format!("{podman} exec bench-exec true")),
            runs.min(10),
            1,
        )
        .ok()
    } else {
        None
    };

    println!();
    verdict("ebrun cycle / runc cycle", cycle_ebrun / cycle_runc, 1.0);
    if let Some(c) = cycle_crun {
        println!(
            "ebrun cycle / crun cycle                     = {:>6.2}x",
            cycle_ebrun / c
        );
    }
    if let Some(p) = cycle_podman {
        verdict("ebrun cycle / podman cycle", cycle_ebrun / p, 0.1);
    }
    verdict("ebrun exec / runc exec", exec_ebrun / exec_runc, 1.0);
    if let Some(p) = exec_podman {
        verdict("ebrun exec / podman exec", exec_ebrun / p, 0.1);
    }

    // Clean up: every container this benchmark made.
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!("{e} rm -f bench-exec; runc --root {s} delete -f exec-runc"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if have_podman {
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!("{podman} rm -af -t 0; {podman} rmi -af; {podman} system reset -f"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(())
}
