//! What the end-to-end tests share (and the benchmarks reuse): an isolated ebrun instance per
//! test that tears itself down ([`common`]), a running `ebrun serve` with its metrics parsed
//! ([`serve_support`]), and a real containerd of the test's own ([`containerd`]).

pub mod common;
pub mod containerd;
pub mod serve_support;
