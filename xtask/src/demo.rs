//! `cargo xtask demo`: the main job, end to end: builds ebrun, imports the Debian image with
//! tools into the default root and runs a container from it; then a web server container on
//! a published port, fetched with curl from the host, and its metrics from `ebrun serve`
//! (started in the background for the demo and stopped again). Nothing is left running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{image, util};

#[derive(Debug, clap::Args)]
pub struct Args {}

/// What the demo container runs.
const DEMO_SCRIPT: &str = "hostname; cat /etc/os-release | head -1; stress-ng --version";

/// The web server container: busybox httpd serving one page on port 80.
const WEB_NAME: &str = "ebrun-demo-web";
const WEB_SCRIPT: &str =
    "mkdir -p /www && echo 'hello from an ebrun container' > /www/index.html && exec httpd -f -p 80 -h /www";
/// The host port published to the container's port 80.
const WEB_PORT: u16 = 8080;
/// Where `ebrun serve` listens by default.
const METRICS_ADDR: &str = "127.0.0.1:9449";

/// The demo's background processes and container, stopped and removed on drop (also when
/// the demo fails half-way).
struct Cleanup {
    ebrun: PathBuf,
    serve: Option<Child>,
    web: bool,
}

impl Cleanup {
    fn stop_serve(&mut self) {
        if let Some(mut child) = self.serve.take() {
            // SIGTERM, as a user stops it; the pid is our unreaped child's.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.stop_serve();
        if self.web {
            let _ = Command::new(&self.ebrun)
                .args(["rm", "-f", WEB_NAME])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Prints a command as a shell user would type it.
fn show(cmd: &Command) {
    println!("$ {}", util::display_cmd(cmd));
}

/// `curl -fsS URL` until it answers (or `wait` passes); its output.
fn curl(url: &str, wait: Duration) -> Result<String> {
    let deadline = Instant::now() + wait;
    loop {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "5", url])
            .output()
            .context("run curl")?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        if Instant::now() > deadline {
            bail!(
                "{url} did not answer: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn import(ebrun: &Path, layout: &str, reference: &str) -> Result<()> {
    util::run(
        Command::new(ebrun)
            .args(["image", "import"])
            .arg(util::images_dir().join(layout))
            .arg(reference),
    )
}

pub fn run(_args: Args) -> Result<()> {
    util::require_root("demo")?;
    image::require_images()?;
    util::run(util::cargo().args(["build", "-p", "ebrun"]))?;
    let ebrun = util::target_dir().join("debug/ebrun");
    import(&ebrun, image::DEBIAN_TOOLS_LAYOUT, "debian-tools:latest")?;
    let status = {
        let mut cmd = Command::new(&ebrun);
        cmd.args([
            "run",
            "--rm",
            "debian-tools:latest",
            "sh",
            "-c",
            DEMO_SCRIPT,
        ]);
        show(&cmd);
        cmd.status()?
    };
    if !status.success() {
        bail!("the demo container failed ({status})");
    }
    web_and_metrics(&ebrun)
}

/// A web server on a published port, fetched from the host, and its metrics.
fn web_and_metrics(ebrun: &Path) -> Result<()> {
    import(ebrun, image::BUSYBOX_LAYOUT, "busybox:latest")?;
    // A web container of an earlier, interrupted demo.
    let _ = Command::new(ebrun)
        .args(["rm", "-f", WEB_NAME])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut cleanup = Cleanup {
        ebrun: ebrun.to_path_buf(),
        serve: None,
        web: true,
    };
    let publish = format!("{WEB_PORT}:80");
    let mut run = Command::new(ebrun);
    run.args([
        "run", "-d", "--name", WEB_NAME, "-p", &publish, "busybox", "sh", "-c", WEB_SCRIPT,
    ]);
    println!();
    util::run(&mut run)?;
    let url = format!("http://127.0.0.1:{WEB_PORT}/");
    println!("$ curl {url}");
    print!("{}", curl(&url, Duration::from_secs(10))?);

    let mut serve = Command::new(ebrun);
    serve.args(["serve", "--metrics-addr", METRICS_ADDR]);
    println!();
    println!("$ {} &", util::display_cmd(&serve));
    cleanup.serve = Some(
        serve
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("start ebrun serve")?,
    );
    let metrics_url = format!("http://{METRICS_ADDR}/metrics");
    let metrics = curl(&metrics_url, Duration::from_secs(10))?;
    println!("$ curl -s {metrics_url} | grep 'name=\"{WEB_NAME}\"' | grep -v _bucket");
    let selector = format!("name=\"{WEB_NAME}\"");
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("ebrun_") && l.contains(&selector) && !l.contains("_bucket"))
        .collect();
    if lines.is_empty() {
        bail!("ebrun serve shows no metrics of {WEB_NAME}");
    }
    for line in lines {
        println!("{line}");
    }
    println!("$ kill %1   # stop ebrun serve; the container does not notice");
    cleanup.stop_serve();
    let mut rm = Command::new(ebrun);
    rm.args(["rm", "-f", WEB_NAME]);
    util::run(&mut rm)?;
    cleanup.web = false;
    Ok(())
}
