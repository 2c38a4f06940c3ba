//! The image store: OCI images imported from an OCI layout directory, an OCI archive tar or a
//! `docker save` tar; layers unpacked once, content-addressed by diff id, shared by every
//! image and container; whiteouts turned into overlayfs whiteouts.
//!
//! - [`ImageStore::import`] reads any of the three formats (detected from the content),
//!   verifies every blob digest and every layer's diff id, and commits atomically.
//! - [`ImageStore::resolve`] finds an image by name (Docker's normalization), id or id prefix.
//! - [`ImageStore::remove`] is `docker rmi`, [`ImageStore::prune`] `docker image prune`
//!   ([`filter`] holds Docker's filters of `images` and `prune`; [`usage`] tells which
//!   container uses an image).
//! - [`ImageStore::tag`] is `docker tag`; [`history::history`] `docker history`.
//! - [`ImageStore::save`] is `docker save` (from the layer blobs kept at import and pull);
//!   `docker load` is [`ImageStore::import_reader`] with [`ImportOutcome::messages`].
//! - [`pull`] pulls from registries and checks logins; [`push`] pushes to them.
//! - [`ImageStore::layer_dirs`] gives the overlayfs lowerdirs of an image.
//! - [`inspect::inspect`] is the JSON `docker image inspect` shows.
//!
//! The on-disk layout is described in [`store`]. [`display`] and [`template`] hold Docker's
//! presentation rules (sizes, durations, tables, `--format` templates) for the CLI.

pub mod commit;
pub mod compression;
pub mod digest;
pub mod docker_config;
mod error;
pub mod filter;
pub mod history;
pub mod import;
pub mod import_rootfs;
pub mod inspect;
pub mod layer_pack;
pub mod layer_unpack;
pub mod new_image;
pub mod platform;
pub mod pull;
pub mod push;
mod record;
pub mod reference;
mod remove;
pub mod save;
pub mod store;
mod tag;
pub mod usage;

#[cfg(test)]
mod tests;

pub use docker_config::{DockerExtras, HealthConfig};
pub use error::ImageError;
pub use import::{ImportOutcome, LoadedImage};
pub use platform::Platform;
pub use record::ImageRecord;
pub use reference::Reference;
pub use remove::{Deletion, InUse, PruneReport};
pub use save::{SaveArchive, SaveReport};
pub use store::ImageStore;
pub use tag::{repo_tag, target as tag_target};
