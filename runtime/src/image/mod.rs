//! The image store: OCI images imported from an OCI layout directory, an OCI archive tar or a
//! `docker save` tar; layers unpacked once, content-addressed by diff id, shared by every
//! image and container; whiteouts turned into overlayfs whiteouts.
//!
//! - [`ImageStore::import`] reads any of the three formats (detected from the content),
//!   verifies every blob digest and every layer's diff id, and commits atomically.
//! - [`ImageStore::resolve`] finds an image by name (Docker's normalization), id or id prefix.
//! - [`ImageStore::remove`] is `docker rmi`.
//! - [`ImageStore::save`] is `docker save` (from the layer blobs kept at import and pull).
//! - [`ImageStore::layer_dirs`] gives the overlayfs lowerdirs of an image.
//! - [`inspect::inspect`] is the JSON `docker image inspect` shows.
//!
//! The on-disk layout is described in [`store`]. [`display`] and [`template`] hold Docker's
//! presentation rules (sizes, durations, tables, `--format` templates) for the CLI.

pub mod compression;
pub mod digest;
mod error;
pub mod import;
pub mod inspect;
pub mod layer_unpack;
pub mod platform;
pub mod pull;
mod record;
pub mod reference;
mod remove;
pub mod save;
pub mod store;

#[cfg(test)]
mod tests;

pub use error::ImageError;
pub use import::{ImportOutcome, LoadedImage};
pub use platform::Platform;
pub use record::ImageRecord;
pub use reference::Reference;
pub use remove::PruneReport;
pub use save::SaveReport;
pub use store::ImageStore;
