//! `ebrun build` against `podman build` (buildah) on the same Dockerfile and context, in the
//! same run: a cached rebuild (every step from the cache) and a small uncached build
//! (`--no-cache`: a COPY, a RUN writing files, an ENV, a CMD). Both builders run their RUN
//! steps without a network (`--network none`), podman with storage of its own, crun and
//! cgroupfs, like the other podman benches. Target: no slower than podman (ratio at most 1).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::hybrid_cgroups;
use super::lifecycle::{measure, quote, sh, verdict};
use crate::util::{self, TempDir};

const DOCKERFILE: &str = "FROM busybox
COPY app/ /app/
RUN for i in $(seq 50); do echo $i > /app/gen-$i; done
ENV MODE=bench
CMD [\"ls\", \"/app\"]
";

pub fn run(ebrun: &Path, ebrun_root: &Path, runs: usize, warmup: usize) -> Result<()> {
    let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-build-")?;
    let ctx = work.path().join("context");
    std::fs::create_dir_all(ctx.join("app"))?;
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE)?;
    for i in 0..20 {
        std::fs::write(
            ctx.join(format!("app/file-{i}.txt")),
            format!("{i}\n").repeat(200),
        )?;
    }

    let podman_flags = format!(
        "--root {} --runroot {} --cgroup-manager cgroupfs --runtime crun",
        quote(&work.path().join("podman-root")),
        quote(&work.path().join("podman-run"))
    );
    let podman = if hybrid_cgroups() {
        format!(
            r#"unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' podman {podman_flags}"#
        )
    } else {
        format!("podman {podman_flags}")
    };
    let archive = util::images_dir().join("busybox-oci.tar");
    util::run(Command::new("sh").args([
        "-c",
        &format!(
            "{podman} load -q -i {} >/dev/null && {podman} tag $({podman} images -q | head -1) busybox:latest",
            quote(&archive)
        ),
    ]))
    .context("load busybox into podman")?;

    let e = format!("{} --root {}", quote(ebrun), quote(ebrun_root));
    let c = quote(&ctx);
    let ebrun_build =
        |extra: &str| format!("{e} build -q --network none {extra} -t bench-build {c} >/dev/null");
    let podman_build = |extra: &str| {
        format!("{podman} build -q --network none --layers {extra} -t bench-build {c} >/dev/null")
    };
    // Prime both caches.
    util::run(Command::new("sh").args(["-c", &ebrun_build("")])).context("ebrun build")?;
    util::run(Command::new("sh").args(["-c", &podman_build("")])).context("podman build")?;

    println!();
    println!(
        "{:<28} {:>5} {:>11} {:>11}",
        "build case", "runs", "median", "p90"
    );
    let runs_podman = runs.min(10);
    let cached = measure("ebrun build (cached)", &sh(ebrun_build("")), runs, warmup)?;
    let podman_cached = measure(
        "podman build (cached)",
        &sh(podman_build("")),
        runs_podman,
        warmup.min(2),
    )?;
    let fresh = measure(
        "ebrun build --no-cache",
        &sh(ebrun_build("--no-cache")),
        runs.min(10),
        warmup.min(2),
    )?;
    let podman_fresh = measure(
        "podman build --no-cache",
        &sh(podman_build("--no-cache")),
        runs_podman,
        warmup.min(2),
    )?;
    println!();
    verdict(
        "cached rebuild: ebrun / podman",
        cached / podman_cached,
        1.0,
    );
    verdict("uncached build: ebrun / podman", fresh / podman_fresh, 1.0);
    // What the no-cache runs left: dangling images of each builder, removed with the root.
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!("{e} image prune -f >/dev/null; {podman} system reset -f >/dev/null 2>&1"),
        ])
        .status();
    Ok(())
}
