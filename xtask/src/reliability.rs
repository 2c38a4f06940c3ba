//! `cargo xtask soak` and `cargo xtask faults`: the long versions of the reliability suite
//! (tests/tests/{soak,faults,bad_input}.rs; the normal test run has the short versions),
//! against the release build.

use anyhow::Result;

use crate::util;

#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// `run --rm` cycles (with published ports and volumes).
    #[arg(long, default_value_t = 1000)]
    pub cycles: usize,
}

fn release_ebrun() -> Result<std::path::PathBuf> {
    util::require_root("the reliability suite")?;
    crate::image::require_images()?;
    util::run(util::cargo().args(["build", "--release", "-p", "ebrun"]))?;
    Ok(util::target_dir().join("release/ebrun"))
}

fn run_tests(tests: &[&str], envs: &[(&str, String)]) -> Result<()> {
    let bin = release_ebrun()?;
    let mut cmd = util::cargo();
    cmd.args(["test", "-p", "ebrun-tests"]);
    for t in tests {
        cmd.args(["--test", t]);
    }
    cmd.args(["--", "--nocapture", "--test-threads", "1"])
        .env("EBRUN_BIN", &bin)
        .env("EBRUN_TEST_IMAGES", util::images_dir());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    util::run(&mut cmd)
}

/// 1000 `run --rm` cycles; prints the cycle rate; fails on any host difference.
pub fn soak(args: SoakArgs) -> Result<()> {
    run_tests(&["soak"], &[("EBRUN_SOAK_CYCLES", args.cycles.to_string())])
}

/// A crash at every step of create, start, stop and rm, a full disk (a small tmpfs root),
/// corrupted state files, and the bad-input catalogue.
pub fn faults() -> Result<()> {
    run_tests(&["faults", "bad_input"], &[])
}
