//! What the end-to-end tests share (and the benchmarks reuse): an isolated ebrun instance per
//! test that tears itself down ([`common`]), a running `ebrun serve` with its metrics parsed
//! ([`serve_support`]), a real containerd of the test's own ([`containerd`]), and a real
//! registry on loopback ([`registry`]).

pub mod common;
pub mod containerd;
pub mod docker_cli;
pub mod registry;
pub mod serve_support;
