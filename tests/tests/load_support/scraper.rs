//! Scrapes `ebrun serve` once a second on a thread of its own, as Prometheus would, and
//! checks every scrape: it answers, it parses, no counter series (a `counter` family, or a
//! histogram's buckets, sum and count) is lower than in the scrape before, and every load
//! container is still reported running.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ebrun_tests::serve_support::{try_get, Metrics, Series};

/// What the scraping saw.
#[derive(Debug, Default)]
pub struct ScrapeLog {
    /// Time of each successful scrape.
    pub durations: Vec<Duration>,
    /// When each successful scrape began (since scraping began) and how long it took.
    pub timeline: Vec<(Duration, Duration)>,
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

    /// Median, 99th percentile and maximum scrape time.
    pub fn median_p99_max(&self) -> (Duration, Duration, Duration) {
        let mut d = self.durations.clone();
        d.sort();
        if d.is_empty() {
            return (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        }
        let at = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99), d[d.len() - 1])
    }

    /// The `k` slowest scrapes: (when, how long), slowest first.
    pub fn slowest(&self, k: usize) -> Vec<(Duration, Duration)> {
        let mut t = self.timeline.clone();
        t.sort_by_key(|(_, took)| std::cmp::Reverse(*took));
        t.truncate(k);
        t
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
            let began = Instant::now();
            let mut next = began;
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
                                log.timeline.push((t - began, took));
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

/// The checks themselves can fail: a counter that goes down, a histogram bucket that goes
/// down and a container that stops are reported; a gauge that goes down is not.
#[test]
fn the_scrape_checks_report_what_they_should() {
    let scrape = |total: u64, bucket: u64, gauge: u64, state: u64| {
        Metrics::parse(&format!(
            "# TYPE ebrun_x_total counter\nebrun_x_total{{id=\"a\"}} {total}\n\
             # TYPE ebrun_h histogram\nebrun_h_bucket{{le=\"+Inf\"}} {bucket}\n\
             ebrun_h_sum 1\nebrun_h_count {bucket}\n\
             # TYPE ebrun_g gauge\nebrun_g {gauge}\n\
             # TYPE ebrun_container_state gauge\n\
             ebrun_container_state{{name=\"web\",state=\"running\"}} {state}\n"
        ))
    };
    let running = vec!["web".to_string()];
    let mut log = ScrapeLog::default();
    let mut prev = BTreeMap::new();
    check(1, &scrape(5, 3, 9, 1), &mut prev, &running, &mut log);
    check(2, &scrape(6, 3, 1, 1), &mut prev, &running, &mut log);
    assert!(log.decreases.is_empty(), "{:?}", log.decreases);
    assert!(log.not_running.is_empty());
    assert_eq!(log.comparisons, 4);
    check(3, &scrape(4, 2, 1, 0), &mut prev, &running, &mut log);
    assert_eq!(
        log.decreases,
        [
            "ebrun_x_total{id=\"a\"}: 6 -> 4 (scrape 3)",
            "ebrun_h_bucket{le=\"+Inf\"}: 3 -> 2 (scrape 3)",
            "ebrun_h_count{}: 3 -> 2 (scrape 3)",
        ]
    );
    assert_eq!(log.not_running, ["web (scrape 3)"]);
}
