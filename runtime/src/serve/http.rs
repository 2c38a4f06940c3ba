//! The HTTP side: `GET /metrics` (Prometheus text format, or OpenMetrics to a scraper that
//! accepts it; gzip-compressed to one that accepts that), `GET /` (a pointer to it).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::{Exporter, Format, CONTENT_TYPE as METRICS_TYPE, OPENMETRICS_CONTENT_TYPE};

const INDEX: &str = "<html><head><title>ebrun</title></head><body><h1>ebrun</h1>\
<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// Whether a header's comma-separated list names `what` without `q=0`.
fn accepts(req: &Request<Incoming>, header: hyper::header::HeaderName, what: &str) -> bool {
    req.headers().get_all(header).iter().any(|v| {
        v.to_str().unwrap_or("").split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next().is_some_and(|t| t.eq_ignore_ascii_case(what))
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q == 0.0)
                })
        })
    })
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    e.write_all(body).ok()?;
    e.finish().ok()
}

async fn handle(
    req: Request<Incoming>,
    exporter: Arc<Mutex<Exporter>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(ALLOW, "GET, HEAD".parse().expect("header"));
        return Ok(r);
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            let format = if accepts(&req, ACCEPT, "application/openmetrics-text") {
                Format::OpenMetrics
            } else {
                Format::Text
            };
            let compress = accepts(&req, ACCEPT_ENCODING, "gzip");
            // Reading the instance is blocking file and map I/O; so is compressing.
            let rendered = tokio::task::spawn_blocking(move || {
                let text = {
                    let mut e = exporter.lock().unwrap_or_else(|p| p.into_inner());
                    e.render_as(format)
                }?;
                Ok::<_, crate::metrics::MetricsError>(match compress {
                    true => gzip(text.as_bytes()).map_or((text.into_bytes(), false), |z| (z, true)),
                    false => (text.into_bytes(), false),
                })
            })
            .await;
            let content_type = match format {
                Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
                Format::Text => METRICS_TYPE,
            };
            match rendered {
                Ok(Ok((body, gzipped))) => {
                    let mut r = response(StatusCode::OK, content_type, body);
                    let h = r.headers_mut();
                    h.insert(VARY, "Accept, Accept-Encoding".parse().expect("header"));
                    if gzipped {
                        h.insert(CONTENT_ENCODING, "gzip".parse().expect("header"));
                    }
                    r
                }
                Ok(Err(e)) => response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("{e}\n"),
                ),
                Err(e) => response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("scrape failed: {e}\n"),
                ),
            }
        }
        "/" => response(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        _ => response(StatusCode::NOT_FOUND, "text/plain", "404 page not found\n"),
    })
}

/// Serves connections on `listener` until `stop` turns true.
pub(super) async fn serve(
    listener: TcpListener,
    exporter: Arc<Mutex<Exporter>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept");
                        continue;
                    }
                };
                let exporter = exporter.clone();
                let service = hyper::service::service_fn(move |req| handle(req, exporter.clone()));
                tokio::spawn(async move {
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection");
                    }
                });
            }
            _ = stop.changed() => return,
        }
    }
}
