//! `cargo xtask demo`: the main job, end to end: builds ebrun, imports the Debian image with
//! tools into the default root and runs a container from it.

use std::process::Command;

use anyhow::{bail, Result};

use crate::{image, util};

#[derive(Debug, clap::Args)]
pub struct Args {}

/// What the demo container runs.
const DEMO_SCRIPT: &str = "hostname; cat /etc/os-release | head -1; stress-ng --version";

pub fn run(_args: Args) -> Result<()> {
    util::require_root("demo")?;
    image::require_images()?;
    util::run(util::cargo().args(["build", "-p", "ebrun"]))?;
    let ebrun = util::target_dir().join("debug/ebrun");
    let layout = util::images_dir().join(image::DEBIAN_TOOLS_LAYOUT);
    util::run(
        Command::new(&ebrun)
            .args(["image", "import"])
            .arg(&layout)
            .arg("debian-tools:latest"),
    )?;
    let status = {
        let mut cmd = Command::new(&ebrun);
        cmd.args([
            "run",
            "--rm",
            "debian-tools:latest",
            "sh",
            "-c",
            DEMO_SCRIPT,
        ]);
        println!("$ {}", util::display_cmd(&cmd));
        cmd.status()?
    };
    if !status.success() {
        bail!("the demo container failed ({status})");
    }
    Ok(())
}
