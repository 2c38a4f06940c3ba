//! Helpers of the load test (tests/tests/load.rs): the containers' workload, the scraping
//! thread that checks every scrape, the host's HTTP client, and the summary it reports.
#![allow(dead_code)]

pub mod host;
pub mod host_client;
pub mod scraper;
pub mod workload;

use std::time::Duration;

/// A setting from the environment, or its default.
pub fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// What the run measured, printed and (with `EBRUN_LOAD_REPORT=PATH`) written as JSON for
/// `cargo xtask load`.
#[derive(Debug, Default)]
pub struct Summary {
    pub containers: usize,
    pub secs: u64,
    pub startup: Duration,
    pub scrapes: usize,
    pub scrape_failures: usize,
    pub scrape_median: Duration,
    pub scrape_p99: Duration,
    pub scrape_max: Duration,
    /// The slowest scrapes: (seconds into the load, milliseconds).
    pub slowest: Vec<(f64, f64)>,
    /// When the storm's containers were started and when the last of them was dead
    /// (seconds into the load).
    pub storm_window: (f64, f64),
    pub max_series: usize,
    pub counter_comparisons: u64,
    pub counter_decreases: usize,
    pub host_fetches: u64,
    pub host_fetch_failures: u64,
    pub storm_containers: usize,
    pub oom_kills_counted: f64,
    pub oom_events: usize,
}

impl Summary {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "containers": self.containers,
            "secs": self.secs,
            "startup_secs": self.startup.as_secs_f64(),
            "scrapes": self.scrapes,
            "scrape_failures": self.scrape_failures,
            "scrape_median_ms": self.scrape_median.as_secs_f64() * 1e3,
            "scrape_p99_ms": self.scrape_p99.as_secs_f64() * 1e3,
            "scrape_max_ms": self.scrape_max.as_secs_f64() * 1e3,
            "slowest_scrapes": self.slowest,
            "storm_window_secs": self.storm_window,
            "max_series": self.max_series,
            "counter_comparisons": self.counter_comparisons,
            "counter_decreases": self.counter_decreases,
            "host_fetches": self.host_fetches,
            "host_fetch_failures": self.host_fetch_failures,
            "storm_containers": self.storm_containers,
            "oom_kills_counted": self.oom_kills_counted,
            "oom_events": self.oom_events,
        })
    }

    /// Prints the summary and writes it where `EBRUN_LOAD_REPORT` says.
    pub fn report(&self) {
        eprintln!("load summary: {}", self.json());
        if let Some(path) = std::env::var_os("EBRUN_LOAD_REPORT") {
            std::fs::write(&path, self.json().to_string()).expect("write EBRUN_LOAD_REPORT");
        }
    }
}
