//! Prometheus exposition of ebrun's meters (ARCHITECTURE.md points 4 and 6).
//!
//! Every scrape reads the instance afresh: the containers' state files, their cgroup files
//! and the pinned eBPF maps ([`Sampler`]), then runs the [`Registry`]'s collectors over that
//! sample. Counters live in the kernel (pinned maps, cgroup files), so an exporter that
//! restarts continues every counter, and the series of a removed container are gone from the
//! next scrape (or, if no scrape has shown its final values yet, from the one after: see
//! [`removed`]). A container that exited keeps its final cgroup readings until it starts
//! again or is removed ([`ExitReading`]), and the first scrape of a container created while
//! serve runs writes its counters as born, 0 at its start, so Prometheus counts what happened
//! before that scrape (see [`family`]). A scraper that accepts OpenMetrics gets it, with
//! `_created` samples. Names follow Prometheus conventions: one `ebrun_` prefix, base units,
//! `_total` counters, `_seconds` histograms; per-container series carry `id`, `name` and
//! `image`, as cAdvisor's do.

mod batch;
mod cgroup_reader;
mod collectors;
mod family;
mod meters;
mod oci_containers;
mod registry;
pub mod removed;
mod sample;

use std::time::Instant;

use prometheus::core::Collector as _;
use prometheus::{Encoder as _, HistogramOpts, TextEncoder};

pub use cgroup_reader::{CgroupFiles, CgroupReading, ExitReading, MemoryPids};
pub use collectors::Collector;
pub use family::{ContainerLabels, Family, Format, Labels};
pub use meters::MeterTables;
pub use prometheus::proto::MetricFamily;
pub use registry::Registry;
pub use sample::{BpfHealth, ContainerSample, Sample, Sampler};

use crate::Paths;

/// The content type of [`Exporter::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// The content type of [`Exporter::render_as`]'s OpenMetrics output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Scrape duration buckets, seconds.
const SCRAPE_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Errors of the metrics module.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("encode metrics: {0}")]
    Encode(#[from] prometheus::Error),
}

/// Renders an instance's metrics, keeping what is worth keeping between scrapes (parsed
/// configs, its own scrape durations).
pub struct Exporter {
    paths: Paths,
    sampler: Sampler,
    registry: Registry,
    scrape_seconds: prometheus::Histogram,
    /// Size of the last exposition, to size the next one's buffer.
    last_len: usize,
}

impl Exporter {
    pub fn new(paths: &Paths) -> Self {
        let scrape_seconds = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "ebrun_scrape_duration_seconds",
                "Time this ebrun serve took to read the instance and render its metrics.",
            )
            .buckets(SCRAPE_BUCKETS.to_vec()),
        )
        .expect("valid histogram options");
        Exporter {
            paths: paths.clone(),
            sampler: Sampler::new(),
            registry: Registry::standard(),
            scrape_seconds,
            last_len: 0,
        }
    }

    /// The registry, to add collectors.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Reads the instance now.
    pub fn sample(&mut self) -> Sample {
        self.sampler.sample(&self.paths)
    }

    /// The text exposition of every family, encoded family by family (so a large instance
    /// never holds all its series twice).
    pub fn render(&mut self) -> Result<String, MetricsError> {
        self.render_as(Format::Text)
    }

    /// Every family in `format`. This is the scrape: a container first seen by it has its
    /// counters written as born (see [`family`]), and a removed container's last values are
    /// shown once before it goes.
    pub fn render_as(&mut self, format: Format) -> Result<String, MetricsError> {
        let started = Instant::now();
        let mut sample = self.sample();
        self.sampler.scraped(&mut sample);
        let sampled = started.elapsed();
        let mut out = String::with_capacity(self.last_len + 4096);
        self.registry
            .collect(&sample, &mut |family| family.encode_as(&mut out, format));
        self.sampler.exposed(&sample);
        tracing::debug!(
            containers = sample.containers.len(),
            read_ms = sampled.as_secs_f64() * 1e3,
            total_ms = started.elapsed().as_secs_f64() * 1e3,
            bytes = out.len(),
            "scrape"
        );
        self.scrape_seconds.observe(started.elapsed().as_secs_f64());
        self.scrape_family().encode_as(&mut out, format);
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        self.last_len = out.len();
        Ok(out)
    }

    /// `ebrun_scrape_duration_seconds` as a family.
    fn scrape_family(&self) -> Family {
        let mut f = Family::histogram(
            "ebrun_scrape_duration_seconds",
            "Time this ebrun serve took to read the instance and render its metrics.",
        );
        let h = self.scrape_seconds.collect();
        if let Some(m) = h.first().and_then(|mf| mf.get_metric().first()) {
            let h = m.get_histogram();
            f.add_histogram(
                &[],
                h.get_bucket()
                    .iter()
                    .map(|b| (b.upper_bound(), b.cumulative_count()))
                    .collect(),
                h.get_sample_count(),
                h.get_sample_sum(),
            );
        }
        f
    }

    /// Every family of one sample (for the OpenTelemetry export).
    pub fn families(&mut self) -> Vec<MetricFamily> {
        let started = Instant::now();
        let sample = self.sample();
        let mut out = Vec::new();
        self.registry
            .collect(&sample, &mut |family| out.push(family.to_proto()));
        self.scrape_seconds.observe(started.elapsed().as_secs_f64());
        out.extend(self.scrape_seconds.collect());
        out
    }

    /// Encodes families as text.
    pub fn encode(families: &[MetricFamily]) -> Result<Vec<u8>, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(families, &mut out)?;
        Ok(out)
    }
}
