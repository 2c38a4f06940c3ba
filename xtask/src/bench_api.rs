//! The Engine API against podman's Docker-compatible one (`podman system service`), driven
//! by the same docker CLI in the same run: `docker run --rm busybox true` and `docker ps`
//! with 100 containers, and the API's cost over the `ebrun run` it wraps. Targets: at most
//! 0.2x podman's time; the API adding at most 20% to `ebrun run`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::hybrid_cgroups;
use super::lifecycle::{measure, quote, sh, verdict};
use crate::util::{self, TempDir};

/// Containers `docker ps` lists.
const LISTED: usize = 100;

/// A server process of the bench's own, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_socket(path: &Path, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(path).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not answer on {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `docker` with a client configuration of the bench's own, against `socket`.
fn docker(config: &Path, socket: &Path) -> String {
    format!(
        "DOCKER_CONFIG={} docker -H unix://{}",
        quote(config),
        socket.display()
    )
}

/// The limits podman's crun needs on this host (it cannot raise RLIMIT_NOFILE past the
/// host's), as the lifecycle bench gives them; ebrun refuses `--ulimit` (not supported yet)
/// and needs none.
const PODMAN_FLAGS: &str = "--ulimit nofile=20000:20000 --ulimit nproc=32768:32768";

/// Makes `LISTED` sleeping containers through `docker`, measures `docker ps`, removes them.
fn ps_with_containers(
    name: &str,
    docker: &str,
    flags: &str,
    runs: usize,
    warmup: usize,
) -> Result<f64> {
    util::run(Command::new("sh").args([
        "-c",
        &format!(
            "for i in $(seq {LISTED}); do {docker} run -d --network none {flags} busybox sleep 1000 >/dev/null || exit 1; done"
        ),
    ]))
    .with_context(|| format!("make {LISTED} containers for {name}"))?;
    let median = measure(name, &sh(format!("{docker} ps >/dev/null")), runs, warmup);
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!("{docker} rm -f $({docker} ps -aq) >/dev/null"),
        ])
        .status();
    median
}

pub fn run(ebrun: &Path, ebrun_root: &Path, runs: usize, warmup: usize) -> Result<()> {
    if util::try_output(Command::new("docker").arg("--version")).is_none() {
        bail!("the docker CLI is not installed");
    }
    let work = TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-api-")?;
    let config = work.path().join("docker-config");
    std::fs::create_dir_all(&config)?;

    let ebrun_sock = work.path().join("ebrun.sock");
    let _ebrun_serve = Server(
        Command::new(ebrun)
            .arg("--root")
            .arg(ebrun_root)
            .args(["serve", "--metrics-addr", "127.0.0.1:0", "--api"])
            .arg(format!("unix://{}", ebrun_sock.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start ebrun serve")?,
    );
    wait_for_socket(&ebrun_sock, "ebrun serve")?;

    // podman with storage of its own, crun and cgroupfs, like the lifecycle bench's.
    let podman_sock = work.path().join("podman.sock");
    let podman_flags = format!(
        "--root {} --runroot {} --cgroup-manager cgroupfs --runtime crun",
        quote(&work.path().join("podman-root")),
        quote(&work.path().join("podman-run"))
    );
    let prefix = if hybrid_cgroups() {
        r#"unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' podman"#
    } else {
        "podman"
    };
    let archive: PathBuf = util::images_dir().join("busybox-oci.tar");
    util::run(Command::new("sh").args([
        "-c",
        &format!(
            "{prefix} {podman_flags} load -q -i {} >/dev/null",
            quote(&archive)
        ),
    ]))
    .context("load busybox into podman")?;
    let _podman_service = Server(
        Command::new("sh")
            .args([
                "-c",
                &format!(
                    "exec {prefix} {podman_flags} system service --time=0 unix://{}",
                    podman_sock.display()
                ),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start podman system service")?,
    );
    wait_for_socket(&podman_sock, "podman system service")?;

    let on_ebrun = docker(&config, &ebrun_sock);
    let on_podman = docker(&config, &podman_sock);
    let e = format!("{} --root {}", quote(ebrun), quote(ebrun_root));
    println!();
    println!(
        "{:<28} {:>5} {:>11} {:>11}",
        "Engine API case", "runs", "median", "p90"
    );
    let run_flags = "--rm --network none busybox true";
    // What any docker command costs before the server does anything.
    let floor = measure(
        "docker version (client floor)",
        &sh(format!("{on_ebrun} version >/dev/null")),
        runs,
        warmup,
    )?;
    let api_run = measure(
        "docker run (ebrun API)",
        &sh(format!("{on_ebrun} run {run_flags}")),
        runs,
        warmup,
    )?;
    let direct_run = measure(
        "ebrun run",
        &sh(format!("{e} run {run_flags}")),
        runs,
        warmup,
    )?;
    let podman_run = measure(
        "docker run (podman API)",
        &sh(format!("{on_podman} run {PODMAN_FLAGS} {run_flags}")),
        runs.min(10),
        warmup.min(2),
    )?;
    let api_ps = ps_with_containers("docker ps x100 (ebrun)", &on_ebrun, "", runs, warmup)?;
    let podman_ps = ps_with_containers(
        "docker ps x100 (podman)",
        &on_podman,
        PODMAN_FLAGS,
        runs.min(10),
        warmup.min(2),
    )?;
    println!();
    verdict(
        "docker run: ebrun API / podman API",
        api_run / podman_run,
        0.2,
    );
    verdict("docker run via API / ebrun run", api_run / direct_run, 1.2);
    verdict(
        "(docker run via API - client floor) / ebrun run",
        (api_run - floor) / direct_run,
        1.2,
    );
    verdict(
        "docker ps x100: ebrun API / podman API",
        api_ps / podman_ps,
        0.2,
    );
    println!("note: podman's runs carry {PODMAN_FLAGS} (its crun cannot start without them here)");
    Ok(())
}
