//! `ebrun build`: Docker's classic builder (a Dockerfile's stages, one image per step, the
//! cache keyed on parent and step) over ebrun's own image store and containers, and the
//! config changes `commit -c` applies.
//!
//! - [`dockerfile`] parses a Dockerfile (directives, continuations, heredocs, flags) and
//!   expands variables as Docker's shell lexer does; [`dockerignore`] and [`context_match`]
//!   select the context's files.
//! - [`executor::build`] runs the stages; [`run_step`] and [`copy_step`] are the steps that
//!   make layers (in a [`step_container`]), [`metadata`] the ones that change the config.
//! - [`changes::apply_changes`] is `commit -c`.

pub mod changes;
pub mod context;
pub mod context_match;
mod copy_step;
pub mod copy_tar;
pub mod dockerfile;
pub mod dockerignore;
mod error;
pub mod executor;
pub mod metadata;
pub mod options;
pub mod output;
mod run_step;
pub mod stage;
mod step_container;
mod tar_moves;

pub use changes::apply_changes;
pub use error::BuildError;
pub use executor::build;
pub use options::{BuildOptions, DockerfileSource};
pub use output::BuildOutput;
