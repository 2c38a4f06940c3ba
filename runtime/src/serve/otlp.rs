//! OpenTelemetry export over OTLP/HTTP (protobuf): the same metric families `/metrics`
//! shows, pushed periodically, and the create/start/rm step timings as traces (a span per
//! operation with a child span per step).
//!
//! Mapping from the Prometheus families: a counter `x_total` becomes the cumulative
//! monotonic sum `x`; a gauge stays a gauge of the same name; units come from the name's
//! suffix (`_seconds` is `s`, `_bytes` is `By`), so a Prometheus receiving OTLP gives back
//! the same names. OpenTelemetry has no asynchronous histogram, so a histogram `h` is sent
//! as the cumulative sums `h_bucket` (attribute `le`), `h_sum` and `h_count`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use prometheus::proto::{MetricFamily, MetricType};
use tokio::sync::watch;

use super::ServeError;
use crate::events::{JournalCursor, Trace, TraceJournal};
use crate::metrics::Exporter;
use crate::Paths;

/// How often new step timings are turned into spans.
const TRACE_POLL: Duration = Duration::from_secs(1);
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Points of one instrument: attributes and value.
type Points = Vec<(Vec<KeyValue>, f64)>;

/// The running exporters.
#[derive(Clone)]
pub(super) struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    paths: Paths,
    meters: SdkMeterProvider,
    tracers: SdkTracerProvider,
    meter: Meter,
    tracer: SdkTracer,
    exporter: Arc<Mutex<Exporter>>,
    interval: Duration,
    /// The latest points per instrument name, read by the instruments' callbacks.
    points: Arc<Mutex<HashMap<String, Points>>>,
    /// Instruments registered so far (kept alive with their callbacks).
    instruments: Mutex<HashMap<String, Box<dyn std::any::Any + Send + Sync>>>,
}

fn signal_url(endpoint: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", endpoint.trim_end_matches('/'))
}

fn otlp_err(endpoint: &str) -> impl Fn(opentelemetry_otlp::ExporterBuildError) -> ServeError + '_ {
    move |e| ServeError::Otlp {
        endpoint: endpoint.to_string(),
        message: e.to_string(),
    }
}

/// The unit of a family, from its name.
fn unit_of(name: &str) -> Option<&'static str> {
    if name.ends_with("_seconds") {
        Some("s")
    } else if name.ends_with("_bytes") {
        Some("By")
    } else {
        None
    }
}

/// Instrument kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Gauge,
}

/// One family as instruments: (name, kind, unit source name, help, points).
fn instruments_of(mf: &MetricFamily) -> Vec<(String, Kind, String, String, Points)> {
    let labels = |m: &prometheus::proto::Metric| -> Vec<KeyValue> {
        m.get_label()
            .iter()
            .map(|l| KeyValue::new(l.name().to_string(), l.value().to_string()))
            .collect()
    };
    let name = mf.name();
    let help = mf.help().to_string();
    match mf.get_field_type() {
        MetricType::COUNTER => {
            let base = name.strip_suffix("_total").unwrap_or(name).to_string();
            let points = mf
                .get_metric()
                .iter()
                .map(|m| (labels(m), m.get_counter().get_value()))
                .collect();
            vec![(base.clone(), Kind::Sum, base, help, points)]
        }
        MetricType::HISTOGRAM => {
            let mut buckets = Points::new();
            let mut sums = Points::new();
            let mut counts = Points::new();
            for m in mf.get_metric() {
                let h = m.get_histogram();
                let attrs = labels(m);
                for b in h.get_bucket() {
                    let mut a = attrs.clone();
                    a.push(KeyValue::new("le", b.upper_bound().to_string()));
                    buckets.push((a, b.cumulative_count() as f64));
                }
                let mut inf = attrs.clone();
                inf.push(KeyValue::new("le", "+Inf"));
                buckets.push((inf, h.get_sample_count() as f64));
                sums.push((attrs.clone(), h.get_sample_sum()));
                counts.push((attrs, h.get_sample_count() as f64));
            }
            vec![
                (
                    format!("{name}_bucket"),
                    Kind::Sum,
                    String::new(),
                    help.clone(),
                    buckets,
                ),
                (
                    format!("{name}_sum"),
                    Kind::Sum,
                    name.to_string(),
                    help.clone(),
                    sums,
                ),
                (
                    format!("{name}_count"),
                    Kind::Sum,
                    String::new(),
                    help,
                    counts,
                ),
            ]
        }
        _ => {
            let points = mf
                .get_metric()
                .iter()
                .map(|m| (labels(m), m.get_gauge().get_value()))
                .collect();
            vec![(
                name.to_string(),
                Kind::Gauge,
                name.to_string(),
                help,
                points,
            )]
        }
    }
}

fn system_time(unix_nano: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_nano.max(0) as u64)
}

impl Telemetry {
    /// Builds the OTLP exporters for `endpoint` (a base URL such as
    /// `http://127.0.0.1:4318`) and the providers pushing through them.
    pub(super) fn start(
        paths: &Paths,
        endpoint: &str,
        interval: Duration,
        exporter: Arc<Mutex<Exporter>>,
    ) -> Result<Self, ServeError> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ServeError::Otlp {
                endpoint: endpoint.to_string(),
                message: "must be an http:// or https:// URL".into(),
            });
        }
        let resource = Resource::builder()
            .with_service_name("ebrun")
            .with_attributes([
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("ebrun.root", paths.root().display().to_string()),
            ])
            .build();
        let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(signal_url(endpoint, "metrics"))
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(otlp_err(endpoint))?;
        let meters = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(metric_exporter)
                    .with_interval(interval)
                    .build(),
            )
            .with_resource(resource.clone())
            .build();
        let span_exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(signal_url(endpoint, "traces"))
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(otlp_err(endpoint))?;
        let tracers = SdkTracerProvider::builder()
            .with_batch_exporter(span_exporter)
            .with_resource(resource)
            .build();
        let meter = meters.meter("ebrun");
        let tracer = tracers.tracer("ebrun");
        Ok(Telemetry {
            inner: Arc::new(Inner {
                paths: paths.clone(),
                meters,
                tracers,
                meter,
                tracer,
                exporter,
                interval,
                points: Arc::new(Mutex::new(HashMap::new())),
                instruments: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Registers an instrument the first time its name shows up.
    fn ensure_instrument(&self, name: &str, kind: Kind, unit_source: &str, help: &str) {
        let mut instruments = self
            .inner
            .instruments
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if instruments.contains_key(name) {
            return;
        }
        let points = self.inner.points.clone();
        let key = name.to_string();
        let callback = move |observer: &dyn opentelemetry::metrics::AsyncInstrument<f64>| {
            let points = points.lock().unwrap_or_else(|p| p.into_inner());
            for (attrs, value) in points.get(&key).into_iter().flatten() {
                observer.observe(*value, attrs);
            }
        };
        let unit = unit_of(unit_source);
        let handle: Box<dyn std::any::Any + Send + Sync> = match kind {
            Kind::Sum => {
                let mut b = self
                    .inner
                    .meter
                    .f64_observable_counter(name.to_string())
                    .with_description(help.to_string());
                if let Some(u) = unit {
                    b = b.with_unit(u);
                }
                Box::new(b.with_callback(callback).build())
            }
            Kind::Gauge => {
                let mut b = self
                    .inner
                    .meter
                    .f64_observable_gauge(name.to_string())
                    .with_description(help.to_string());
                if let Some(u) = unit {
                    b = b.with_unit(u);
                }
                Box::new(b.with_callback(callback).build())
            }
        };
        instruments.insert(name.to_string(), handle);
    }

    /// Samples the instance and replaces the points the instruments report.
    fn refresh_metrics(&self) {
        let families = {
            let mut e = self
                .inner
                .exporter
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            e.families()
        };
        let mut fresh = HashMap::new();
        for mf in &families {
            for (name, kind, unit_source, help, points) in instruments_of(mf) {
                self.ensure_instrument(&name, kind, &unit_source, &help);
                fresh.insert(name, points);
            }
        }
        *self.inner.points.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// One trace: a span for the operation, a child span per step.
    fn export_trace(&self, t: &Trace) {
        let tracer = &self.inner.tracer;
        let root = tracer
            .span_builder(format!("container.{}", t.op))
            .with_start_time(system_time(t.start_unix_nano))
            .with_attributes([
                KeyValue::new("container.id", t.container_id.clone()),
                KeyValue::new("ebrun.complete", t.complete),
            ])
            .start(tracer);
        let cx = Context::new().with_span(root);
        for s in &t.steps {
            let mut span = tracer
                .span_builder(s.name.clone())
                .with_start_time(system_time(s.start_unix_nano))
                .with_attributes([KeyValue::new("container.id", t.container_id.clone())])
                .start_with_context(tracer, &cx);
            span.end_with_timestamp(system_time(s.end_unix_nano));
        }
        cx.span().end_with_timestamp(system_time(t.end_unix_nano));
    }

    fn export_new_traces(&self, cursor: &mut JournalCursor) {
        match TraceJournal::new(&self.inner.paths).read_new(cursor) {
            Ok(traces) => traces.iter().for_each(|t| self.export_trace(t)),
            Err(e) => tracing::debug!(error = %e, "step timings unreadable"),
        }
    }

    /// Keeps the metric points fresh (twice per export interval) and turns new step
    /// timings into spans, until `stop`.
    pub(super) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut cursor = TraceJournal::new(&self.inner.paths).end();
        let refresh_every = (self.inner.interval / 2).max(Duration::from_millis(100));
        let mut next_refresh = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_refresh {
                let me = self.clone();
                let _ = tokio::task::spawn_blocking(move || me.refresh_metrics()).await;
                next_refresh = tokio::time::Instant::now() + refresh_every;
            }
            let me = self.clone();
            cursor = tokio::task::spawn_blocking(move || {
                let mut c = cursor;
                me.export_new_traces(&mut c);
                c
            })
            .await
            .unwrap_or(cursor);
            let wait = TRACE_POLL.min(next_refresh - tokio::time::Instant::now());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Pushes what is pending and stops the exporters. Call outside the async runtime.
    pub(super) fn shutdown(self) {
        self.refresh_metrics();
        if let Err(e) = self.inner.tracers.force_flush() {
            tracing::warn!(error = %e, "flushing spans");
        }
        if let Err(e) = self.inner.meters.force_flush() {
            tracing::warn!(error = %e, "flushing metrics");
        }
        let _ = self.inner.tracers.shutdown();
        let _ = self.inner.meters.shutdown();
    }
}
