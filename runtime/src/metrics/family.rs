//! One metric family (name, help, type, series), written straight into the text exposition
//! format.
//!
//! Every scrape builds its families afresh from the counters the kernel keeps. A container's
//! `id`, `name` and `image` labels are rendered once per container ([`ContainerLabels`]) and
//! shared by all its series, and [`Family::encode`] writes the text without building the
//! `prometheus` crate's per-series label model: at 200 containers that model's allocations
//! alone took longer than the whole scrape may. The output is the `prometheus` crate's
//! `TextEncoder` output byte for byte (a unit test compares them), and [`Family::to_proto`]
//! gives the crate's model where one is wanted (the OpenTelemetry export).
//!
//! The same families are written as OpenMetrics 1.0 ([`Format::OpenMetrics`]) for a scraper
//! that asks for it: counters with their `_created` time (the container's creation), and
//! `# EOF`.
//!
//! A container's counters may be written as *born*: value 0 (histograms: every bucket, sum
//! and count 0) stamped with the container's creation or start, instead of the current value.
//! The exporter does that at the first scrape that sees a container created while it
//! serves, so Prometheus holds a 0 from the container's start and `increase()` counts
//! everything that happened before its first scrape (an OOM kill a second after start).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

/// Label name/value pairs of one series.
pub type Labels<'a> = [(&'static str, &'a str)];

/// How families are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
}

/// A container's identifying labels, rendered once.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLabels {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `id="…",name="…",image="…"`
    rendered: String,
    /// When the container was created, Unix seconds (its counters' `_created`); 0 unknown.
    pub created: f64,
    /// Write its counters as born, 0 at this time (Unix seconds), instead of their values.
    pub born: Option<f64>,
}

impl ContainerLabels {
    /// Labels of a container created at `created` (RFC 3339; unparsable: unknown).
    pub fn of(id: &str, name: &str, image: &str, created: &str) -> Self {
        let mut l = ContainerLabels::new(id, name, image);
        l.created = chrono::DateTime::parse_from_rfc3339(created)
            .map_or(0.0, |t| t.timestamp_micros() as f64 / 1e6);
        l
    }

    /// The same labels, with the counters written as born at `at` (Unix seconds).
    pub fn as_born(&self, at: f64) -> Self {
        ContainerLabels {
            born: Some(at),
            ..self.clone()
        }
    }

    pub fn new(id: &str, name: &str, image: &str) -> Self {
        let mut rendered = String::new();
        for (i, (k, v)) in [("id", id), ("name", name), ("image", image)]
            .iter()
            .enumerate()
        {
            if i > 0 {
                rendered.push(',');
            }
            push_label(&mut rendered, k, v);
        }
        ContainerLabels {
            id: id.to_string(),
            name: name.to_string(),
            image: image.to_string(),
            rendered,
            created: 0.0,
            born: None,
        }
    }

    fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            ("id", &self.id),
            ("name", &self.name),
            ("image", &self.image),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug, Clone)]
enum Value {
    Number(f64),
    Histogram {
        /// `(upper bound, cumulative count)`, ascending, without `+Inf`.
        buckets: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    },
}

#[derive(Debug, Clone)]
struct Series {
    container: Option<Arc<ContainerLabels>>,
    extra: Vec<(&'static str, Cow<'static, str>)>,
    value: Value,
}

/// A family under construction.
#[derive(Debug, Clone)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: Vec<Series>,
}

/// `k="v"` with the exposition format's escaping of the value.
fn push_label(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push_str("=\"");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn to_cow(v: &str) -> Cow<'static, str> {
    Cow::Owned(v.to_string())
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: Kind) -> Self {
        Family {
            name,
            help,
            kind,
            series: Vec::new(),
        }
    }

    /// A counter family: the name must end in `_total`.
    pub fn counter(name: &'static str, help: &'static str) -> Self {
        debug_assert!(name.ends_with("_total"), "{name}");
        Family::new(name, help, Kind::Counter)
    }

    pub fn gauge(name: &'static str, help: &'static str) -> Self {
        Family::new(name, help, Kind::Gauge)
    }

    pub fn histogram(name: &'static str, help: &'static str) -> Self {
        Family::new(name, help, Kind::Histogram)
    }

    pub fn name(&self) -> &str {
        self.name
    }

    /// Whether no series were added.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Adds a counter or gauge series with `labels`.
    pub fn add(&mut self, labels: &Labels<'_>, value: f64) {
        self.series.push(Series {
            container: None,
            extra: labels.iter().map(|(k, v)| (*k, to_cow(v))).collect(),
            value: Value::Number(value),
        });
    }

    /// Adds a counter or gauge series of a container, with `extra` labels after its own.
    /// Static label values cost nothing; others are copied.
    pub fn add_container(
        &mut self,
        container: &Arc<ContainerLabels>,
        extra: &[(&'static str, Cow<'static, str>)],
        value: f64,
    ) {
        self.series.push(Series {
            container: Some(container.clone()),
            extra: extra.to_vec(),
            value: Value::Number(value),
        });
    }

    /// Adds a histogram series without a container.
    pub fn add_histogram(
        &mut self,
        labels: &Labels<'_>,
        buckets: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    ) {
        self.series.push(Series {
            container: None,
            extra: labels.iter().map(|(k, v)| (*k, to_cow(v))).collect(),
            value: Value::Histogram {
                buckets,
                count,
                sum,
            },
        });
    }

    /// Adds a histogram series of a container: `(upper bound, cumulative count)` per bucket,
    /// ascending; the `+Inf` bucket is `count`.
    pub fn add_container_histogram(
        &mut self,
        container: &Arc<ContainerLabels>,
        buckets: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    ) {
        self.series.push(Series {
            container: Some(container.clone()),
            extra: Vec::new(),
            value: Value::Histogram {
                buckets,
                count,
                sum,
            },
        });
    }

    /// Appends the family in the text exposition format.
    pub fn encode(&self, out: &mut String) {
        self.encode_as(out, Format::Text)
    }

    /// Appends the family in `format`.
    pub fn encode_as(&self, out: &mut String, format: Format) {
        let om = format == Format::OpenMetrics;
        // OpenMetrics names a counter family without its `_total`.
        let family = match (om, self.kind) {
            (true, Kind::Counter) => self.name.strip_suffix("_total").unwrap_or(self.name),
            _ => self.name,
        };
        out.push_str("# HELP ");
        out.push_str(family);
        out.push(' ');
        for c in self.help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if om => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push_str("\n# TYPE ");
        out.push_str(family);
        out.push_str(match self.kind {
            Kind::Counter => " counter\n",
            Kind::Gauge => " gauge\n",
            Kind::Histogram => " histogram\n",
        });
        let counter = self.kind != Kind::Gauge;
        for s in &self.series {
            let c = s.container.as_deref();
            // Born: 0 at the container's start (a counter's only sample this scrape).
            let born = c.and_then(|c| c.born).filter(|_| counter);
            let at = born.map(|t| Stamp { secs: t, om });
            let created = c
                .filter(|c| om && counter && c.created > 0.0)
                .map(|c| c.created);
            match &s.value {
                Value::Number(v) => {
                    let v = if born.is_some() { 0.0 } else { *v };
                    sample(out, self.name, "", s, None, v, at);
                    if let Some(t) = created {
                        sample(out, family, "_created", s, None, t, None);
                    }
                }
                Value::Histogram {
                    buckets,
                    count,
                    sum,
                } => {
                    let z = |n: u64| if born.is_some() { 0.0 } else { n as f64 };
                    let mut bound = String::new();
                    for (b, n) in buckets {
                        bound.clear();
                        let _ = write!(bound, "{b}");
                        sample(out, self.name, "_bucket", s, Some(&bound), z(*n), at);
                    }
                    sample(out, self.name, "_bucket", s, Some("+Inf"), z(*count), at);
                    let sum = if born.is_some() { 0.0 } else { *sum };
                    sample(out, self.name, "_sum", s, None, sum, at);
                    sample(out, self.name, "_count", s, None, z(*count), at);
                    if let Some(t) = created {
                        sample(out, self.name, "_created", s, None, t, None);
                    }
                }
            }
        }
    }

    /// The family in the `prometheus` crate's model.
    pub fn to_proto(&self) -> MetricFamily {
        let mut mf = MetricFamily::default();
        mf.set_name(self.name.to_string());
        mf.set_help(self.help.to_string());
        mf.set_field_type(match self.kind {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
            Kind::Histogram => MetricType::HISTOGRAM,
        });
        for s in &self.series {
            let mut pairs: Vec<LabelPair> = Vec::new();
            let mut push = |k: &str, v: &str| {
                let mut p = LabelPair::default();
                p.set_name(k.to_string());
                p.set_value(v.to_string());
                pairs.push(p);
            };
            if let Some(c) = &s.container {
                for (k, v) in c.pairs() {
                    push(k, v);
                }
            }
            for (k, v) in &s.extra {
                push(k, v);
            }
            let mut m = Metric::from_label(pairs);
            match (&s.value, self.kind) {
                (Value::Number(v), Kind::Counter) => {
                    let mut c = Counter::default();
                    c.set_value(*v);
                    m.set_counter(c);
                }
                (Value::Number(v), _) => {
                    let mut g = Gauge::default();
                    g.set_value(*v);
                    m.set_gauge(g);
                }
                (
                    Value::Histogram {
                        buckets,
                        count,
                        sum,
                    },
                    _,
                ) => {
                    let mut h = Histogram::default();
                    h.set_sample_count(*count);
                    h.set_sample_sum(*sum);
                    h.set_bucket(
                        buckets
                            .iter()
                            .map(|(bound, n)| {
                                let mut b = Bucket::default();
                                b.set_upper_bound(*bound);
                                b.set_cumulative_count(*n);
                                b
                            })
                            .collect(),
                    );
                    m.set_histogram(h);
                }
            }
            mf.mut_metric().push(m);
        }
        mf
    }
}

/// A sample's explicit timestamp: milliseconds in the text format, seconds in OpenMetrics.
#[derive(Clone, Copy)]
struct Stamp {
    secs: f64,
    om: bool,
}

/// One sample line: `name[suffix]{labels[,le="…"]} value[ timestamp]`.
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    s: &Series,
    le: Option<&str>,
    value: f64,
    at: Option<Stamp>,
) {
    out.push_str(name);
    out.push_str(suffix);
    let mut open = false;
    let mut sep = |out: &mut String| {
        out.push(if open { ',' } else { '{' });
        open = true;
    };
    if let Some(c) = &s.container {
        sep(out);
        out.push_str(&c.rendered);
    }
    for (k, v) in &s.extra {
        sep(out);
        push_label(out, k, v);
    }
    if let Some(le) = le {
        sep(out);
        push_label(out, "le", le);
    }
    if open {
        out.push('}');
    }
    let _ = match at {
        None => writeln!(out, " {value}"),
        Some(Stamp { secs, om: true }) => writeln!(out, " {value} {secs:.3}"),
        Some(Stamp { secs, om: false }) => writeln!(out, " {value} {}", (secs * 1e3) as i64),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::TextEncoder;

    #[test]
    fn text_equals_the_prometheus_crates_encoder() {
        let c = Arc::new(ContainerLabels::new("abc", "we\"b\\1\n", "busybox"));
        let mut counter = Family::counter("x_bytes_total", "Help with \\ and\nnewline.");
        counter.add_container(
            &c,
            &[("port", "80".into()), ("direction", "ingress".into())],
            1.5,
        );
        counter.add_container(&c, &[], 0.0);
        counter.add(&[("meter", "cpu")], 3.0);
        counter.add(&[], 1e21);
        let mut gauge = Family::gauge("y", "A gauge.");
        gauge.add(&[], f64::NAN);
        gauge.add_container(&c, &[], 123456789.0);
        let mut hist = Family::histogram("z_seconds", "A histogram.");
        hist.add_container_histogram(
            &c,
            vec![(0.000004, 1), (0.016384, 7), (4.194304, 9)],
            10,
            0.25,
        );
        for f in [counter, gauge, hist] {
            let mut ours = String::new();
            f.encode(&mut ours);
            let theirs = TextEncoder::new()
                .encode_to_string(&[f.to_proto()])
                .unwrap();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn openmetrics_names_counters_by_base_with_created_and_born_series_are_stamped_zeros() {
        let l = ContainerLabels::of("abc", "web", "busybox", "2024-01-01T00:00:00Z");
        assert_eq!(l.created, 1704067200.0);
        let c = Arc::new(l.clone());
        let born = Arc::new(l.as_born(1704067201.5));
        let mut f = Family::counter("x_total", "Help \"q\".");
        f.add_container(&c, &[], 5.0);
        f.add_container(&born, &[("k", "v".into())], 7.0);
        let mut om = String::new();
        f.encode_as(&mut om, Format::OpenMetrics);
        let labels = r#"id="abc",name="web",image="busybox""#;
        assert_eq!(
            om,
            format!(
                "# HELP x Help \\\"q\\\".\n# TYPE x counter\n\
                 x_total{{{labels}}} 5\nx_created{{{labels}}} 1704067200\n\
                 x_total{{{labels},k=\"v\"}} 0 1704067201.500\n\
                 x_created{{{labels},k=\"v\"}} 1704067200\n"
            )
        );
        let mut text = String::new();
        f.encode(&mut text);
        assert!(text.contains(&format!("x_total{{{labels},k=\"v\"}} 0 1704067201500\n")));
        assert!(text.contains(&format!("x_total{{{labels}}} 5\n")));
        assert!(!text.contains("_created"));
        // Gauges keep their values; a born histogram is all zeros.
        let mut g = Family::gauge("y", "A gauge.");
        g.add_container(&born, &[], 3.0);
        let mut h = Family::histogram("z_seconds", "A histogram.");
        h.add_container_histogram(&born, vec![(0.5, 2)], 3, 1.25);
        let mut out = String::new();
        g.encode(&mut out);
        h.encode(&mut out);
        assert!(out.contains(&format!("y{{{labels}}} 3\n")));
        for line in out.lines().filter(|l| l.starts_with("z_seconds")) {
            assert!(line.ends_with(" 0 1704067201500"), "{line}");
        }
    }
}
