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
    /// Serve the Docker Engine API on this socket (unix:///PATH; repeatable). Default:
    /// unix:///run/<prefix>/docker.sock (/run/ebrun/docker.sock for the default root).
    #[arg(long = "api", value_name = "unix:///PATH")]
    api: Vec<String>,
}

/// `10s`, `500ms`, `1m`.
pub(crate) fn parse_interval(v: &str) -> Option<Duration> {
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
    let mut api_sockets = Vec::new();
    for url in &args.api {
        match url.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => api_sockets.push(std::path::PathBuf::from(path)),
            _ => bail!(
                "invalid --api {url:?}: expected unix:///PATH (tcp:// needs TLS, which ebrun serve does not do yet)"
            ),
        }
    }
    if api_sockets.is_empty() {
        api_sockets.push(ebrun::engine_api::default_socket(&ctx.paths));
    }
    let options = ServeOptions {
        metrics_addr,
        api_sockets,
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
