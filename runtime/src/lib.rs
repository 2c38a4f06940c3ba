//! ebrun: a container runtime with eBPF metering built in.
//!
//! The library exposes the operations; the `ebrun` binary (src/main.rs) is a thin clap front
//! end over it. One module per kernel subsystem:
//! - [`image`]: the image store (import, layers, whiteouts)
//! - [`rootfs`]: overlayfs root, kernel filesystems, masked paths, pivot_root
//! - [`process`]: namespaces, the in-child set-up until exec, supervision
//! - [`cgroups`]: v1, hybrid and v2 behind one interface
//! - [`network`]: bridges, veths, firewall, IPAM, ports, DNS files
//! - [`bpf`]: loading, pinning and reading the eBPF meters
//! - [`oci`]: the OCI runtime spec, the contract between the front ends and the executor
//! - [`container`]: create / run / remove, built on the above
//! - [`faults`]: named crash points for the reliability suite
//! - [`undo`]: the one mechanism that makes every host change undoable (it records and
//!   orders; [`teardown`] hands each change back to the subsystem that undoes it)
//! - [`format`]: Docker-style tables, sizes, durations and `--format` templates
//! - [`state`]: atomic state files and locks

pub mod bpf;
pub mod build;
pub mod cgroups;
pub mod container;
pub mod engine_api;
pub mod events;
pub mod faults;
pub mod format;
pub mod image;
pub mod metrics;
pub mod network;
pub mod oci;
pub mod paths;
pub mod process;
pub mod rootfs;
pub mod serve;
pub mod state;
pub mod teardown;
pub mod undo;
pub mod userns;
pub mod volumes;

pub use paths::Paths;
