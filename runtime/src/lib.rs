//! ebrun: a container runtime with eBPF metering built in.
//!
//! The library exposes the operations; the `ebrun` binary (src/main.rs) is a thin clap front
//! end over it. One module per kernel subsystem.

pub mod image;
pub mod paths;
pub mod state;

pub use paths::Paths;
