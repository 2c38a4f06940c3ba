//! `ebrun serve [--metrics-addr ADDR] [--otlp-endpoint URL]`: Prometheus metrics, the OOM
//! events watcher and OpenTelemetry export, until SIGINT/SIGTERM. It owns no container.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use ebrun::serve::{ServeOptions, DEFAULT_METRICS_ADDR};

use ebrun::engine_api::{Endpoint, TlsFiles};

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
    /// Serve the Docker Engine API here (unix:///PATH, or tcp://IP:PORT on loopback or with
    /// --tlsverify; repeatable). Default: unix:///run/<prefix>/docker.sock
    /// (/run/ebrun/docker.sock for the default root).
    #[arg(long = "api", value_name = "URL")]
    api: Vec<String>,
    /// Serve TCP endpoints with TLS and require client certificates signed by --tlscacert.
    #[arg(long = "tlsverify")]
    tlsverify: bool,
    /// The CA that signs the client certificates (with --tlsverify).
    #[arg(long = "tlscacert", value_name = "FILE")]
    tlscacert: Option<std::path::PathBuf>,
    /// The server's TLS certificate (PEM) for TCP endpoints.
    #[arg(long = "tlscert", value_name = "FILE")]
    tlscert: Option<std::path::PathBuf>,
    /// The server's TLS key (PEM) for TCP endpoints.
    #[arg(long = "tlskey", value_name = "FILE")]
    tlskey: Option<std::path::PathBuf>,
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
    let tls = match (&args.tlscert, &args.tlskey) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: if args.tlsverify {
                match &args.tlscacert {
                    Some(ca) => Some(ca.clone()),
                    None => bail!(
                        "--tlsverify needs --tlscacert (the CA that signs client certificates)"
                    ),
                }
            } else {
                None
            },
        }),
        (None, None) if args.tlsverify || args.tlscacert.is_some() => {
            bail!("--tlsverify and --tlscacert need --tlscert and --tlskey (the server's certificate and key)")
        }
        (None, None) => None,
        _ => bail!("--tlscert and --tlskey go together"),
    };
    let mut api_endpoints = Vec::new();
    for url in &args.api {
        api_endpoints.push(Endpoint::parse(url, tls.as_ref()).map_err(anyhow::Error::msg)?);
    }
    if api_endpoints.is_empty() {
        api_endpoints.push(Endpoint::Unix(ebrun::engine_api::default_socket(
            &ctx.paths,
        )));
    }
    let options = ServeOptions {
        metrics_addr,
        api_endpoints,
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
