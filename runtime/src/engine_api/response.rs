//! Docker's response shapes: JSON bodies, `{"message": ...}` errors, the headers every
//! answer carries, and bodies streamed as they are produced (logs, events, progress).

use std::convert::Infallible;

use futures_util::StreamExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

pub type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

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

fn full(status: StatusCode, body: Bytes) -> Reply {
    let mut r = Response::new(Full::new(body).boxed_unsync());
    *r.status_mut() = status;
    with_headers(r)
}

/// A JSON body.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    let mut r = full(status, Bytes::from(value.to_string()));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A plain text body (`_ping`'s `OK`).
pub fn text(status: StatusCode, body: &'static str) -> Reply {
    let mut r = full(status, Bytes::from_static(body.as_bytes()));
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
    r
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
    full(status, Bytes::new())
}

/// The producing end of a streamed body. Producers are blocking threads; a send fails once
/// the client has gone, which tells the producer to stop.
#[derive(Clone)]
pub struct Streamer {
    tx: mpsc::Sender<Bytes>,
}

impl Streamer {
    /// Sends one piece; false when the client is gone.
    pub fn send(&self, data: impl Into<Bytes>) -> bool {
        self.tx.blocking_send(data.into()).is_ok()
    }

    /// Sends one piece from async code; false when the client is gone.
    pub async fn send_async(&self, data: impl Into<Bytes>) -> bool {
        self.tx.send(data.into()).await.is_ok()
    }

    /// Sends one JSON document and a newline (Docker's JSON streams).
    pub fn send_json(&self, value: &serde_json::Value) -> bool {
        self.send(format!("{value}\n"))
    }

    /// True once the client has gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A 200 whose body is streamed: the headers go out at once (the docker CLI waits for them
/// before its next request), the body as `produce` sends it, on a blocking thread.
pub fn streamed(
    content_type: &'static str,
    produce: impl FnOnce(Streamer) + Send + 'static,
) -> Reply {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    std::thread::spawn(move || produce(Streamer { tx }));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(frames.boxed()).boxed_unsync());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_headers(r)
}
