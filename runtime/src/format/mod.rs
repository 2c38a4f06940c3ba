//! What Docker users see: human sizes and durations, aligned tables, and the Go-template
//! subset of `--format` / `-f`.

pub mod display;
pub mod filters;
pub mod go_duration;
pub mod template;
