//! Scrapes `ebrun serve` once a second on a thread of its own, as Prometheus would, and
//! checks every scrape: it answers, it parses, no counter series (a `counter` family, or a
//! histogram's buckets, sum and count) is lower than in the scrape before, and every load
//! container is still reported running.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::serve_support::{try_get, Metrics, Series};

/// What the scraping saw.
#[derive(Debug, Default)]
pub struct ScrapeLog {
    /// Time of each successful scrape.
    pub durations: Vec<Duration>,
    /// Scrapes that failed or did not parse: (scrape number, why).
    pub failures: Vec<(usize, String)>,
    /// Counter series lower than in the previous scrape: "series: before -> after (scrape n)".
    pub decreases: Vec<String>,
    /// Load containers not reported running: "name (scrape n)".
    pub not_running: Vec<String>,
    /// The most series in one scrape, and how many counter series were compared in all.
    pub max_series: usize,
    pub comparisons: u64,
    /// The last successful scrape.
    pub last: Option<Metrics>,
}

impl ScrapeLog {
    pub fn scrapes(&self) -> usize {
        self.durations.len() + self.failures.len()
    }

    /// Median and maximum scrape time.
    pub fn median_max(&self) -> (Duration, Duration) {
        let mut d = self.durations.clone();
        d.sort();
        if d.is_empty() {
            return (Duration::ZERO, Duration::ZERO);
        }
        (d[d.len() / 2], d[d.len() - 1])
    }
}

/// The scraping thread; [`Scraper::finish`] stops it and returns what it saw.
pub struct Scraper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ScrapeLog>>,
}

/// The series whose values must never go down: counters, and histograms' parts.
fn counter_series(m: &Metrics) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (family, kind) in &m.types {
        match kind.as_str() {
            "counter" => {
                names.insert(family.clone());
            }
            "histogram" | "summary" => {
                for part in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{family}{part}"));
                }
            }
            _ => {}
        }
    }
    names
}

fn show(s: &Series) -> String {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", s.name, labels.join(","))
}

/// One scrape checked against the one before.
fn check(
    n: usize,
    m: &Metrics,
    prev: &mut BTreeMap<Series, f64>,
    running: &[String],
    log: &mut ScrapeLog,
) {
    let counters = counter_series(m);
    let mut now = BTreeMap::new();
    for (s, v) in &m.series {
        if !counters.contains(&s.name) {
            continue;
        }
        if let Some(before) = prev.get(s) {
            log.comparisons += 1;
            if v < before {
                log.decreases
                    .push(format!("{}: {before} -> {v} (scrape {n})", show(s)));
            }
        }
        now.insert(s.clone(), *v);
    }
    *prev = now;
    log.max_series = log.max_series.max(m.series.len());
    let up: BTreeSet<&str> = m
        .series
        .iter()
        .filter(|(s, v)| {
            s.name == "ebrun_container_state"
                && *v == 1.0
                && s.labels.get("state").map(String::as_str) == Some("running")
        })
        .filter_map(|(s, _)| s.labels.get("name").map(String::as_str))
        .collect();
    for name in running {
        if !up.contains(name.as_str()) {
            log.not_running.push(format!("{name} (scrape {n})"));
        }
    }
}

impl Scraper {
    /// Scrapes 127.0.0.1:`port` every `every`; `running` must be reported running each time.
    pub fn start(port: u16, every: Duration, running: Vec<String>) -> Scraper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut log = ScrapeLog::default();
            let mut prev = BTreeMap::new();
            let mut next = Instant::now();
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                n += 1;
                let t = Instant::now();
                match try_get(port, "/metrics") {
                    Ok(text) => {
                        let took = t.elapsed();
                        match std::panic::catch_unwind(|| Metrics::parse(&text)) {
                            Ok(m) => {
                                log.durations.push(took);
                                check(n, &m, &mut prev, &running, &mut log);
                                log.last = Some(m);
                            }
                            Err(_) => log.failures.push((n, "exposition did not parse".into())),
                        }
                    }
                    Err(e) => log.failures.push((n, e)),
                }
                next += every;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            log
        });
        Scraper {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops scraping; what was seen.
    pub fn finish(mut self) -> ScrapeLog {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the scraping thread panicked")
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
