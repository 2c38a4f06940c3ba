//! `cargo xtask load`: the long version of the load test (tests/tests/load.rs; the normal
//! test run has a short one): 100 containers with CPU, memory and network load for 300 s
//! while `ebrun serve` is scraped every second, and an OOM storm of 20, against the release
//! build. Prints what the run measured.

use anyhow::{Context, Result};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Load containers running at once (a quarter each: web servers, their clients, CPU
    /// spinners, memory holders).
    #[arg(long, default_value_t = 100)]
    pub containers: usize,
    /// Seconds of load, scraped every second (the OOM storm comes halfway).
    #[arg(long, default_value_t = 300)]
    pub secs: u64,
}

pub fn run(args: Args) -> Result<()> {
    util::require_root("the load test")?;
    crate::image::require_images()?;
    if args.containers < 4 {
        anyhow::bail!(
            "invalid --containers {}: must be at least 4 (one of each role)",
            args.containers
        );
    }
    util::run(util::cargo().args(["build", "--release", "-p", "ebrun"]))?;
    let bin = util::target_dir().join("release/ebrun");
    let report = util::target_dir().join("ebrun-load-report.json");
    let _ = std::fs::remove_file(&report);
    let result = util::run(
        util::cargo()
            .args(["test", "-p", "ebrun-tests", "--test", "load"])
            .args(["--", "--nocapture", "--test-threads", "1"])
            .env("EBRUN_BIN", &bin)
            .env("EBRUN_TEST_IMAGES", util::images_dir())
            .env("EBRUN_LOAD_CONTAINERS", args.containers.to_string())
            .env("EBRUN_LOAD_SECS", args.secs.to_string())
            .env("EBRUN_LOAD_REPORT", &report),
    );
    if let Ok(text) = std::fs::read_to_string(&report) {
        let v: serde_json::Value = serde_json::from_str(&text).context("the load report")?;
        print_summary(&v);
    }
    result
}

fn print_summary(v: &serde_json::Value) {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!("load: {} containers for {} s", v["containers"], v["secs"]);
    println!("  started in            {:.1} s", f("startup_secs"));
    println!(
        "  scrapes               {} ({} failed)",
        v["scrapes"], v["scrape_failures"]
    );
    println!(
        "  scrape time           median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} series at most)",
        f("scrape_median_ms"),
        f("scrape_p99_ms"),
        f("scrape_max_ms"),
        v["max_series"]
    );
    let slowest: Vec<String> = v["slowest_scrapes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{:.0} ms at {:.0} s",
                p[1].as_f64().unwrap_or(0.0),
                p[0].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    println!("  slowest scrapes       {}", slowest.join(", "));
    println!(
        "  counters compared     {} ({} went down)",
        v["counter_comparisons"], v["counter_decreases"]
    );
    println!(
        "  host fetches          {} ({} failed)",
        v["host_fetches"], v["host_fetch_failures"]
    );
    println!(
        "  OOM storm             {} containers: {:.0} kills counted, {} oom events (from {:.0} s to {:.0} s)",
        v["storm_containers"],
        f("oom_kills_counted"),
        v["oom_events"],
        v["storm_window_secs"][0].as_f64().unwrap_or(0.0),
        v["storm_window_secs"][1].as_f64().unwrap_or(0.0)
    );
}
