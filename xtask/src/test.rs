//! `cargo xtask test`: the project's test command (CI runs exactly this). Checks formatting
//! and lints first (fail fast), builds ebrun, then runs `cargo test --workspace` with
//! `EBRUN_BIN` and `EBRUN_TEST_IMAGES` set, as root.
//!
//! Extra arguments go to `cargo test` unchanged: `cargo xtask test -- image` runs the tests
//! whose names contain "image"; `cargo xtask test -- -p ebrun-tests image -- --nocapture`.

use anyhow::{Context, Result};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and `cargo clippy`.
    #[arg(long)]
    pub no_lint: bool,
    /// Arguments for `cargo test` (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    util::require_root("test")?;
    crate::image::require_images()?;
    if !args.no_lint {
        util::run(util::cargo().args(["fmt", "--all", "--check"]))
            .context("formatting differs: run `cargo fmt --all`")?;
        util::run(util::cargo().args(["clippy", "--workspace", "--", "-D", "warnings"]))?;
    }
    util::run(util::cargo().args(["build", "-p", "ebrun"]))?;
    let bin = util::target_dir().join("debug/ebrun");
    link_oci_runtime(&bin)?;
    util::run(
        util::cargo()
            .args(["test", "--workspace"])
            .args(&args.cargo_test_args)
            .env("EBRUN_BIN", &bin)
            .env("EBRUN_TEST_IMAGES", util::images_dir()),
    )
}

/// `ebrun-oci` beside the binary: the same binary under runc's role, for containerd's
/// `BinaryName` (the binary looks at the name it was run under).
pub fn link_oci_runtime(bin: &std::path::Path) -> Result<()> {
    let link = bin.with_file_name("ebrun-oci");
    if std::fs::read_link(&link).ok().as_deref() != Some(std::path::Path::new("ebrun")) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("ebrun", &link)
            .with_context(|| format!("symlink {}", link.display()))?;
    }
    Ok(())
}
