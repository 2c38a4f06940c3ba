//! The HTTP side: `GET /metrics` (Prometheus text format), `GET /` (a pointer to it).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::{Exporter, CONTENT_TYPE as METRICS_TYPE};

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
            // Reading the instance is blocking file and map I/O.
            let rendered = tokio::task::spawn_blocking(move || {
                let mut e = exporter.lock().unwrap_or_else(|p| p.into_inner());
                e.render()
            })
            .await;
            match rendered {
                Ok(Ok(text)) => response(StatusCode::OK, METRICS_TYPE, text),
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
