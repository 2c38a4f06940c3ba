//! Building one metric family (name, help, type, series) in the `prometheus` crate's model,
//! with values set directly: every scrape builds its families afresh from the counters the
//! kernel keeps, so nothing is accumulated in this process.

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

/// Label name/value pairs of one series.
pub type Labels<'a> = [(&'a str, &'a str)];

/// A family under construction.
pub struct Family {
    mf: MetricFamily,
}

fn label_pairs(labels: &Labels<'_>) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(k, v)| {
            let mut p = LabelPair::default();
            p.set_name(k.to_string());
            p.set_value(v.to_string());
            p
        })
        .collect()
}

impl Family {
    fn new(name: &str, help: &str, kind: MetricType) -> Self {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(kind);
        Family { mf }
    }

    /// A counter family: the name must end in `_total`.
    pub fn counter(name: &str, help: &str) -> Self {
        debug_assert!(name.ends_with("_total"), "{name}");
        Family::new(name, help, MetricType::COUNTER)
    }

    pub fn gauge(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub fn histogram(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::HISTOGRAM)
    }

    pub fn name(&self) -> &str {
        self.mf.name()
    }

    /// Adds a counter or gauge series.
    pub fn add(&mut self, labels: &Labels<'_>, value: f64) {
        let mut m = Metric::from_label(label_pairs(labels));
        match self.mf.get_field_type() {
            MetricType::COUNTER => {
                let mut c = Counter::default();
                c.set_value(value);
                m.set_counter(c);
            }
            _ => {
                let mut g = Gauge::default();
                g.set_value(value);
                m.set_gauge(g);
            }
        }
        self.mf.mut_metric().push(m);
    }

    /// Adds a histogram series: `(upper bound, cumulative count)` per bucket, ascending; the
    /// `+Inf` bucket is `count`.
    pub fn add_histogram(
        &mut self,
        labels: &Labels<'_>,
        buckets: &[(f64, u64)],
        count: u64,
        sum: f64,
    ) {
        let mut h = Histogram::default();
        h.set_sample_count(count);
        h.set_sample_sum(sum);
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
        let mut m = Metric::from_label(label_pairs(labels));
        m.set_histogram(h);
        self.mf.mut_metric().push(m);
    }

    /// Whether no series were added.
    pub fn is_empty(&self) -> bool {
        self.mf.get_metric().is_empty()
    }

    pub fn into_inner(self) -> MetricFamily {
        self.mf
    }
}
