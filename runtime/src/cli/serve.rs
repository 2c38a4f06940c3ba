//! `ebrun serve [--metrics-addr ADDR] [--otlp-endpoint URL]`: Prometheus metrics, the OOM
//! events watcher and OpenTelemetry export, until SIGINT/SIGTERM. It owns no container.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use ebrun::serve::{ServeOptions, DEFAULT_METRICS_ADDR};

use super::Context;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the Prometheus metrics endpoint (GET /metrics).
    #[arg(long = "metrics-addr", default_value = DEFAULT_METRICS_ADDR, value_name = "HOST:PORT")]
    metrics_addr: String,
    /// Also export metrics and step-timing traces over OTLP/HTTP to this base URL
    /// (e.g. http://127.0.0.1:4318; /v1/metrics and /v1/traces are appended).
    #[arg(long = "otlp-endpoint", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// How often metrics are pushed over OTLP (e.g. 10s, 500ms).
    #[arg(long = "otlp-interval", default_value = "10s", value_name = "DURATION")]
    otlp_interval: String,
}

/// `10s`, `500ms`, `1m`.
fn parse_interval(v: &str) -> Option<Duration> {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

pub fn serve(ctx: &Context, args: ServeArgs) -> Result<i32> {
    let Ok(metrics_addr) = args.metrics_addr.parse::<SocketAddr>() else {
        bail!(
            "invalid --metrics-addr {:?}: must be HOST:PORT with an IP address, e.g. {DEFAULT_METRICS_ADDR}",
            args.metrics_addr
        );
    };
    let Some(otlp_interval) = parse_interval(&args.otlp_interval) else {
        bail!(
            "invalid --otlp-interval {:?}: must be a positive duration such as 10s or 500ms",
            args.otlp_interval
        );
    };
    let options = ServeOptions {
        metrics_addr,
        otlp_endpoint: args.otlp_endpoint,
        otlp_interval,
        oom_poll: Duration::from_secs(1),
    };
    ebrun::serve::run(&ctx.paths, &options, |addr| {
        println!("Serving metrics on http://{addr}/metrics");
        let _ = std::io::stdout().flush();
    })?;
    Ok(0)
}
