//! The Docker Engine API on a unix socket, served by `ebrun serve` (ARCHITECTURE.md points 4
//! and 9): the `docker` CLI and Docker's SDKs talk to ebrun. It owns nothing: every answer
//! is read from the same store the `ebrun` CLI uses, through the same library.
//!
//! Versions [`MIN_API_VERSION`] to [`API_VERSION`], negotiated as dockerd does (`/_ping`'s
//! `Api-Version` header; `/vX.Y/` prefixes checked). Errors are Docker's `{"message": ...}`
//! with its status codes.
//!
//! What is served so far: `_ping`, `version`, `info`, `containers/json`, `images/json`, and a
//! container's `json`, `start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `wait` and
//! `DELETE`.

mod containers;
mod images;
mod lifecycle;
mod listen;
mod response;
mod system;

pub use listen::{bind, default_socket, serve_unix};

/// The newest API version served (the docker CLI of these machines speaks it).
pub const API_VERSION: &str = "1.50";
/// The oldest API version served.
pub const MIN_API_VERSION: &str = "1.41";
