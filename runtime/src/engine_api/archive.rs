//! `docker cp` and `docker export` through the Engine API, with the library `ebrun cp` and
//! `ebrun export` call (the tar work happens in a helper confined to the container's root):
//!
//! - `HEAD /containers/{id}/archive?path=P`: the path's stat in `X-Docker-Container-Path-Stat`;
//! - `GET /containers/{id}/archive?path=P`: the same header, and P as a tar, streamed;
//! - `PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=&copyUIDGID=`: the request
//!   body (a tar, streamed) extracted into DIR;
//! - `GET /containers/{id}/export`: the container's filesystem as a tar, streamed.

use std::io::Read;

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};

use super::response::{self, Reply, Streamer};
use super::router::Call;
use crate::container::{self, ArchiveError, ArchiveReader, ContainerStore, ExtractOptions};

const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn error(e: ArchiveError) -> Reply {
    let status = match &e {
        ArchiveError::Container(c) => super::lifecycle::status_of(c),
        ArchiveError::PathNotFound { .. } => StatusCode::NOT_FOUND,
        ArchiveError::BadParameter(_) => StatusCode::BAD_REQUEST,
        ArchiveError::Forbidden(_) => StatusCode::FORBIDDEN,
        ArchiveError::Conflict(_) => StatusCode::CONFLICT,
        ArchiveError::Failed(_) | ArchiveError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    response::error(status, e)
}

/// The tar from the helper, as the body.
fn stream_tar(reader: ArchiveReader) -> Reply {
    response::streamed("application/x-tar", move |out: Streamer| {
        let mut reader = reader;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if !out.send(buf[..n].to_vec()) {
                        // The client went away: dropping the reader stops the helper.
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the archive helper's tar");
                    return;
                }
            }
        }
        if let Err(e) = reader.finish() {
            tracing::warn!(error = %e, "archive helper");
        }
    })
}

fn with_stat(mut reply: Reply, stat: &container::PathStat) -> Reply {
    if let Ok(v) = HeaderValue::from_str(&stat.header_value()) {
        reply.headers_mut().insert(PATH_STAT_HEADER, v);
    }
    reply
}

/// `archive` (HEAD, GET, PUT) and `export` (GET) of container `key`.
pub fn handle(call: &Call, key: &str, action: &str) -> Option<Reply> {
    let paths = &call.paths;
    let config = match ContainerStore::new(paths).lookup(key) {
        Ok(c) => c,
        Err(e) => return Some(error(e.into())),
    };
    if action == "export" {
        return Some(match container::export(paths, &config) {
            Ok(reader) => stream_tar(reader),
            Err(e) => error(e),
        });
    }
    if action != "archive" {
        return None;
    }
    let path = match call.query.get("path") {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => {
            return Some(response::error(
                StatusCode::BAD_REQUEST,
                "Path cannot be empty",
            ))
        }
    };
    Some(match call.method {
        Method::HEAD => match container::stat_path(paths, &config, key, &path) {
            Ok(stat) => with_stat(response::empty(StatusCode::OK), &stat),
            Err(e) => error(e),
        },
        Method::GET => match container::archive_path(paths, &config, key, &path, None) {
            Ok((stat, reader)) => with_stat(stream_tar(reader), &stat),
            Err(e) => error(e),
        },
        Method::PUT => {
            let options = ExtractOptions {
                no_overwrite_dir_non_dir: call.query.flag("noOverwriteDirNonDir"),
                copy_uid_gid: call.query.flag("copyUIDGID"),
            };
            let Some(mut body) = call.take_body_stream() else {
                return Some(response::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request body was not streamed",
                ));
            };
            match container::extract_to(paths, &config, key, &path, options, &mut body) {
                Ok(()) => response::empty(StatusCode::OK),
                Err(e) => error(e),
            }
        }
        _ => return None,
    })
}
