//! Fault injection for the reliability suite: `EBRUN_FAULT_AT=<point>` makes ebrun SIGKILL
//! itself when it reaches that named point of create, start, stop or rm, as a crash would.
//! `cargo xtask faults` and tests/tests/faults.rs walk every point.

use std::sync::OnceLock;

/// Every fault point, in the order an operation reaches them.
pub const POINTS: [&str; 9] = [
    "create:dir",
    "create:config",
    "start:cgroups",
    "start:spawned",
    "start:network",
    "start:state",
    "stop:signalled",
    "rm:marked",
    "rm:undone",
];

/// The fault points of `ebrun oci create`, in order.
pub const OCI_POINTS: [&str; 3] = ["oci:dir", "oci:cgroups", "oci:spawned"];

fn wanted() -> Option<&'static str> {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    WANTED
        .get_or_init(|| std::env::var("EBRUN_FAULT_AT").ok())
        .as_deref()
}

/// Dies here (SIGKILL, no clean-up) if `EBRUN_FAULT_AT` names this point.
pub fn point(name: &str) {
    if wanted() == Some(name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}
