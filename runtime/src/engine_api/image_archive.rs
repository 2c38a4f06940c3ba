//! `docker save` and `docker load` through the Engine API, with the store's own save and
//! import (what `ebrun save` / `ebrun load` run):
//!
//! - `GET /images/{name}/get`, `GET /images/get?names=a&names=b`: the archive, streamed as
//!   it is written (`application/x-tar`). Names are resolved and every file opened before
//!   the answer starts, so a missing image is a 404, as dockerd answers it.
//! - `POST /images/load?quiet=`: the archive streamed in, Docker's JSON messages out
//!   (`{"stream":"Loaded image: busybox:latest\n"}`); a failure is the stream's
//!   `errorDetail`, after a 200, as dockerd does it.

use std::io::Write;

use hyper::StatusCode;
use serde_json::json;

use super::response::{self, Reply, Streamer};
use super::router::Call;
use crate::image::{ImageStore, Platform};

/// Sends what is written to the client, in pieces of up to 1 MiB.
struct ToClient {
    out: Streamer,
    buf: Vec<u8>,
}

impl ToClient {
    const PIECE: usize = 1 << 20;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::PIECE));
        if self.out.send(piece) {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client went away",
            ))
        }
    }
}

impl Write for ToClient {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `GET /images/{name}/get` (`name`) or `GET /images/get?names=...`.
pub fn save(call: &Call, name: Option<&str>) -> Reply {
    let names = match name {
        Some(n) => vec![n.to_string()],
        None => call.query.all("names").map(str::to_string).collect(),
    };
    if names.is_empty() {
        return response::error(StatusCode::BAD_REQUEST, "no image to save: give names");
    }
    let platform = match call.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => match Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return super::images::error(e),
        },
        None => None,
    };
    let (store, archive) = match ImageStore::open(&call.paths).and_then(|store| {
        let archive = store.prepare_save(&names, platform.as_ref())?;
        Ok((store, archive))
    }) {
        Ok(a) => a,
        Err(e) => return super::images::error(e),
    };
    response::streamed("application/x-tar", move |out| {
        let mut to_client = ToClient {
            out,
            buf: Vec::with_capacity(ToClient::PIECE),
        };
        match archive.write(&mut to_client) {
            Ok(report) => store.saved(&report),
            // The headers are out: the client sees a truncated archive, as with dockerd.
            Err(e) => tracing::warn!("images/get: {e}"),
        }
    })
}

/// `POST /images/load?quiet=`.
pub fn load(call: &Call) -> Reply {
    let Some(body) = call.take_body_stream() else {
        return response::error(StatusCode::BAD_REQUEST, "no archive in the request body");
    };
    let paths = call.paths.clone();
    response::streamed("application/json", move |out| {
        let result = ImageStore::open(&paths).and_then(|s| s.import_reader(body, None, false));
        match result {
            Ok(outcome) => {
                for line in outcome.messages() {
                    if !out.send_json(&json!({ "stream": format!("{line}\n") })) {
                        return;
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                out.send_json(&json!({"errorDetail": {"message": message}, "error": message}));
            }
        }
    })
}
