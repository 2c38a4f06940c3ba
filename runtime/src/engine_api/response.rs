//! Docker's response shapes: JSON bodies, `{"message": ...}` errors, the headers every
//! answer carries.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub type Reply = Response<Full<Bytes>>;

fn with_headers(mut r: Reply) -> Reply {
    let h = r.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(super::API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("ebrun/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    r
}

/// A JSON body.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    with_headers(r)
}

/// A plain text body (`_ping`'s `OK`).
pub fn text(status: StatusCode, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    with_headers(r)
}

/// Docker's error body.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Reply {
    json(
        status,
        &serde_json::json!({ "message": message.to_string() }),
    )
}

/// No body (204 No Content, 304 Not Modified).
pub fn empty(status: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    with_headers(r)
}
