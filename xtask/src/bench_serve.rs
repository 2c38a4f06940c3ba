//! `ebrun serve` at scale, part of `cargo xtask bench`: 200 running containers, each with 10
//! service ports that carried traffic (so every traffic series exists), scraped over HTTP.
//!
//! Targets: a scrape takes at most 20 ms (median) and serve's resident memory (peak) stays
//! under 40 MB. Reported beside them: the series per scrape, per container and per family,
//! as cAdvisor-style cardinality numbers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{image, util};

const CONTAINERS: usize = 200;
const PORTS: u16 = 10;
const FIRST_PORT: u16 = 8001;
const SCRAPES: usize = 30;
const WARMUP: usize = 3;
const TARGET_MEDIAN: Duration = Duration::from_millis(20);
const TARGET_RSS_KB: u64 = 40 * 1024;

/// Each container: 10 busybox httpd daemons, one request to each (loopback, so each port
/// gets its ingress and egress series), then sleep.
fn script() -> String {
    let last = FIRST_PORT + PORTS - 1;
    format!(
        "for p in $(seq {FIRST_PORT} {last}); do httpd -p 127.0.0.1:$p -h /tmp; done; \
         for p in $(seq {FIRST_PORT} {last}); do wget -q -O /dev/null http://127.0.0.1:$p/ 2>/dev/null; done; \
         exec sleep 3600"
    )
}

/// The instance, torn down (containers, cgroups, pins) and removed on drop; and the serve
/// process, killed by pid.
struct Fixture {
    ebrun: PathBuf,
    root: util::TempDir,
    serve: Option<Child>,
}

impl Fixture {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.ebrun);
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut c) = self.serve.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self
            .cmd(&["system", "teardown"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One `GET /metrics`: the body and how long it took.
fn scrape(port: u16) -> Result<(String, Duration)> {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let elapsed = start.elapsed();
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("scrape failed: {}", head.lines().next().unwrap_or(""));
    }
    Ok((body.to_string(), elapsed))
}

/// `VmRSS` and `VmHWM` of a process, kB.
fn rss_kb(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Series per family and per container id in one exposition.
fn series_counts(body: &str) -> (usize, BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut total = 0;
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    let mut containers: BTreeMap<String, usize> = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        total += 1;
        let name = line.split(['{', ' ']).next().unwrap_or("");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|base| base.ends_with("_seconds"))
            .unwrap_or(name);
        *families.entry(family.to_string()).or_default() += 1;
        if let Some(id) = line
            .split_once("id=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(id, _)| id)
        {
            *containers.entry(id.to_string()).or_default() += 1;
        }
    }
    (total, families, containers)
}

/// Runs the serve benchmark with the release binary `ebrun`.
pub fn run(ebrun: &Path) -> Result<()> {
    println!();
    println!(
        "ebrun serve: {CONTAINERS} running containers with {PORTS} service ports each, \
         {SCRAPES} scrapes of /metrics"
    );
    util::remove_stale_temp_dirs(Path::new("/var/tmp"), "ebrun-bench-serve-");
    let mut f = Fixture {
        ebrun: ebrun.to_path_buf(),
        root: util::TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-serve-")?,
        serve: None,
    };
    let layout = util::images_dir().join(image::BUSYBOX_LAYOUT);
    util::output(
        f.cmd(&["image", "import"])
            .arg(&layout)
            .arg("busybox:latest"),
    )?;
    let started = Instant::now();
    let script = script();
    for i in 0..CONTAINERS {
        util::output(&mut f.cmd(&[
            "run",
            "-d",
            "--net",
            "none",
            "--name",
            &format!("s{i}"),
            "busybox",
            "sh",
            "-c",
            &script,
        ]))?;
    }
    println!(
        "started {CONTAINERS} containers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let port = free_port()?;
    let child = f
        .cmd(&["serve", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start ebrun serve")?;
    let pid = child.id();
    f.serve = Some(child);
    // Until serve answers and every container's ports show up (each its 10 port series in
    // both directions, plus the always-present "other" ones).
    let wanted = CONTAINERS * (usize::from(PORTS) * 2 + 6);
    let deadline = Instant::now() + Duration::from_secs(120);
    let body = loop {
        if let Ok((body, _)) = scrape(port) {
            let n = body
                .lines()
                .filter(|l| l.starts_with("ebrun_container_network_bytes_total{"))
                .count();
            if n >= wanted {
                break body;
            }
        }
        if Instant::now() > deadline {
            bail!("the containers' traffic series never all appeared");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    for _ in 0..WARMUP {
        scrape(port)?;
    }
    let mut times = Vec::new();
    for _ in 0..SCRAPES {
        times.push(scrape(port)?.1);
    }
    let (rss, peak) = rss_kb(pid)?;
    let med = median(&mut times);
    let p90 = times[(SCRAPES * 9).div_ceil(10) - 1];
    let (total, families, containers) = series_counts(&body);
    let per_container: Vec<usize> = containers.values().copied().collect();
    println!(
        "scrape: median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms; {} bytes",
        med.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[SCRAPES - 1].as_secs_f64() * 1e3,
        body.len()
    );
    println!(
        "serve memory: RSS {:.1} MB, peak {:.1} MB",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!(
        "series: {total} per scrape, {} families; per container {}..{} (cAdvisor-style: \
         id/name/image labels on each)",
        families.len(),
        per_container.iter().min().unwrap_or(&0),
        per_container.iter().max().unwrap_or(&0)
    );
    for (family, n) in &families {
        println!("  {family:<55} {n:>6}");
    }
    let ok_time = med <= TARGET_MEDIAN;
    let ok_rss = peak < TARGET_RSS_KB;
    println!(
        "scrape median {:.2} ms  target: <= 20 ms         {}",
        med.as_secs_f64() * 1e3,
        if ok_time { "PASS" } else { "FAIL" }
    );
    println!(
        "serve peak RSS {:.1} MB  target: < 40 MB          {}",
        peak as f64 / 1024.0,
        if ok_rss { "PASS" } else { "FAIL" }
    );
    drop(f);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_counted_per_family_and_container() {
        let body = "# TYPE a_total counter\na_total{id=\"x\",name=\"n\"} 1\na_total{id=\"y\"} 2\n\
                    h_seconds_bucket{id=\"x\",le=\"1\"} 1\nh_seconds_sum{id=\"x\"} 1\nb 3\n";
        let (total, families, containers) = series_counts(body);
        assert_eq!(total, 5);
        assert_eq!(families["a_total"], 2);
        assert_eq!(families["h_seconds"], 2);
        assert_eq!(containers["x"], 3);
    }

    /// The serve case alone, with the release binary already built:
    /// `cargo test -p xtask -- --ignored serve_case_alone --nocapture`.
    #[test]
    #[ignore]
    fn serve_case_alone() {
        run(&util::target_dir().join("release/ebrun")).unwrap();
    }
}
