//! The Docker Engine API on a unix socket, served by `ebrun serve` (ARCHITECTURE.md points 4
//! and 9): the `docker` CLI, docker-compose and Docker's SDKs talk to ebrun. It owns
//! nothing: every answer is read from the same store the `ebrun` CLI uses, through the same
//! library, and containers made here are translated to their OCI spec by the same module as
//! `ebrun run`'s.
//!
//! Versions [`MIN_API_VERSION`] to [`API_VERSION`], negotiated as dockerd does (`/_ping`'s
//! `Api-Version` header; `/vX.Y/` prefixes checked). Errors are Docker's `{"message": ...}`
//! with its status codes.

// Handlers return `Result<_, Reply>`: an error is Docker's HTTP answer, built once where it
// is found. Its size (a response head) does not matter on this path.
#![allow(clippy::result_large_err)]

mod archive;
mod attach;
mod body_reader;
mod build;
mod containers;
mod create;
mod create_body;
mod endpoint;
mod events;
mod exec;
mod hijack;
mod image_archive;
mod image_pull;
mod image_push;
mod images;
mod lifecycle;
mod listen;
mod logs;
mod networks;
mod request;
mod response;
mod router;
mod stats;
mod stdio_frames;
mod system;
mod tls;
mod volumes;

pub use containers::list as container_summaries;
pub use endpoint::{Endpoint, TlsFiles};
pub use listen::{bind, default_socket, serve_tcp, serve_unix};
pub use system::version as version_document;
pub use tls::acceptor as tls_acceptor;

/// The newest API version served (the docker CLI of these machines speaks it).
pub const API_VERSION: &str = "1.50";
/// The oldest API version served.
pub const MIN_API_VERSION: &str = "1.24";
