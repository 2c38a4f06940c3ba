//! `cargo xtask`: the project's own tasks (setting a machine up, building the eBPF programs and
//! the test images, running the tests, the demo and the benchmark). One file per subcommand;
//! `util` and `oci` hold what several of them share.

mod bench;
mod bpf_attach;
mod build_ebpf;
mod demo;
mod image;
mod load;
mod oci;
mod reliability;
mod setup;
mod test;
mod test_v2;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "ebrun's development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what this machine lacks (Debian packages, bpf-linker, nightly rust-src, bpffs,
    /// test images). Idempotent.
    Setup(setup::Args),
    /// Build the kernel-side eBPF programs (ebpf/ebrun-ebpf) and print the object's path.
    BuildEbpf(build_ebpf::Args),
    /// Build the test/demo images as OCI layouts and archives (cached).
    Image(image::Args),
    /// Check formatting and lints, build ebrun and run the workspace's tests (as root).
    Test(test::Args),
    /// Run the resource-limit and eBPF meter tests on a pure cgroup v2 kernel, in a qemu VM (Debian's
    /// linux-image-amd64 with cgroup_no_v1=all).
    TestV2(test_v2::Args),
    /// Build ebrun and run the demo: a Debian image with tools, in a container.
    Demo(demo::Args),
    /// Measure `ebrun run` against crun and runc.
    Bench(bench::Args),
    /// Many `run --rm` cycles with ports and volumes; the host must end as it began.
    Soak(reliability::SoakArgs),
    /// A crash at every step of create/start/stop/rm, and the bad-input catalogue.
    Faults,
    /// Many busy containers while `ebrun serve` is scraped every second, and an OOM storm.
    Load(load::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Setup(args) => setup::run(args),
        Command::BuildEbpf(args) => build_ebpf::run(args).map(|_| ()),
        Command::Image(args) => image::run(args).map(|_| ()),
        Command::Test(args) => test::run(args),
        Command::TestV2(args) => test_v2::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Soak(args) => reliability::soak(args),
        Command::Faults => reliability::faults(),
        Command::Load(args) => load::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_args(argv: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Test(args) => args.cargo_test_args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn test_passes_arguments_through() {
        assert_eq!(test_args(&["xtask", "test"]), Vec::<String>::new());
        assert_eq!(test_args(&["xtask", "test", "--", "image"]), ["image"]);
        assert_eq!(
            test_args(&[
                "xtask",
                "test",
                "--",
                "-p",
                "ebrun-tests",
                "image",
                "--",
                "--nocapture"
            ]),
            ["-p", "ebrun-tests", "image", "--", "--nocapture"]
        );
        assert_eq!(test_args(&["xtask", "test", "image"]), ["image"]);
    }
}
