//! The `ebrun` command line: clap definitions and thin handlers over the library.
//! Each Docker command lives in its own file; flags map to spec fields one hop away.

use anyhow::Result;
use clap::{Parser, Subcommand};

use ebrun::Paths;

pub mod image;
pub mod inspect;
pub mod network;
pub mod network_flags;
pub mod port;
pub mod resource_flags;
pub mod rm;
pub mod run;
pub mod system;

/// Global flags and the chosen command.
#[derive(Debug, Parser)]
#[command(
    name = "ebrun",
    version,
    about = "A container runtime with eBPF metering built in"
)]
pub struct Cli {
    /// Root of ebrun's persistent state; also names its host objects.
    #[arg(long, global = true, env = "EBRUN_ROOT", default_value = ebrun::paths::DEFAULT_ROOT)]
    pub root: std::path::PathBuf,

    /// Log level (error, warn, info, debug, trace).
    #[arg(
        long = "log-level",
        short = 'l',
        global = true,
        env = "EBRUN_LOG",
        default_value = "warn"
    )]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

/// What every handler receives.
pub struct Context {
    pub paths: Paths,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage images.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// List images.
    Images(image::ImagesArgs),
    /// Remove one or more images.
    Rmi(image::RmiArgs),
    /// Create and run a new container from an image.
    Run(run::RunArgs),
    /// Remove one or more containers.
    Rm(rm::RmArgs),
    /// Return low-level information on containers.
    Inspect(inspect::InspectArgs),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// List port mappings or a specific mapping for the container.
    Port(port::PortArgs),
    /// Manage this ebrun instance.
    #[command(subcommand)]
    System(system::SystemCommand),
}

/// Runs the chosen command and returns the process exit code.
pub fn dispatch(ctx: &Context, command: Command) -> Result<i32> {
    match command {
        Command::Image(cmd) => image::image_command(ctx, cmd),
        Command::Images(args) => image::images(ctx, args),
        Command::Rmi(args) => image::rmi(ctx, args),
        Command::Run(args) => run::run(ctx, args),
        Command::Rm(args) => rm::rm(ctx, args),
        Command::Inspect(args) => inspect::inspect(ctx, args),
        Command::Network(cmd) => network::network_command(ctx, cmd),
        Command::Port(args) => port::port(ctx, args),
        Command::System(cmd) => system::system(ctx, cmd),
    }
}
