//! The `ebrun` command line: clap definitions and thin handlers over the library.
//! Each Docker command lives in its own file; flags map to spec fields one hop away.

use anyhow::Result;
use clap::{Parser, Subcommand};

use ebrun::Paths;

pub mod attach;
pub mod build;
pub mod commit;
pub mod cp;
pub mod diff;
pub mod events;
pub mod exec;
pub mod export;
pub mod health_flags;
pub mod image;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod load;
pub mod login;
pub mod logs;
pub mod monitor;
pub mod network;
pub mod network_flags;
pub mod oci;
pub mod port;
pub mod ps;
pub mod pull;
pub mod resource_flags;
pub mod rm;
pub mod run;
pub mod run_option_flags;
pub mod save;
pub mod serve;
pub mod stats;
pub mod system;
pub mod top;
pub mod update;
pub mod version;
pub mod volume;
pub mod volume_flags;

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

    /// Log level (error, warn, info, debug, trace). No short `-l`: that is `run -l`
    /// (`--label`), as in Docker.
    #[arg(
        long = "log-level",
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
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(image::TagArgs),
    /// Show the history of an image.
    History(image::HistoryArgs),
    /// Upload an image to a registry.
    Push(image::PushArgs),
    /// Build an image from a Dockerfile.
    Build(Box<build::BuildArgs>),
    /// Create a new image from a container's changes.
    Commit(commit::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(diff::DiffArgs),
    /// Import the contents from a tarball to create a filesystem image (or an image archive).
    Import(image::ImportArgs),
    /// Create and run a new container from an image.
    Run(Box<run::RunArgs>),
    /// Create a new container (run's flags; `ebrun start` starts it).
    Create(Box<run::RunArgs>),
    /// Show the ebrun version information.
    Version(version::VersionArgs),
    /// Remove one or more containers.
    Rm(rm::RmArgs),
    /// Return low-level information on containers.
    Inspect(inspect::InspectArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Attach to a running container's output (and input with -i).
    Attach(attach::AttachArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Start one or more stopped containers.
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers.
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers.
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers.
    Kill(lifecycle::KillArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(lifecycle::ContainersArgs),
    /// Pause all processes within one or more containers.
    Pause(lifecycle::ContainersArgs),
    /// Unpause all processes within one or more containers.
    Unpause(lifecycle::ContainersArgs),
    /// Rename a container.
    Rename(lifecycle::RenameArgs),
    /// Display the running processes of a container.
    Top(top::TopArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
    /// The monitor of a detached container (internal).
    #[command(name = "container-monitor", hide = true)]
    Monitor(monitor::MonitorArgs),
    /// One health check probe of a running container (internal).
    #[command(name = "container-health-probe", hide = true)]
    HealthProbe(monitor::HealthProbeArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(cp::CpArgs),
    /// Export a container's filesystem as a tar archive.
    Export(export::ExportArgs),
    /// The confined tar helper of `cp` and `export` (internal).
    #[command(name = "container-archive", hide = true)]
    ContainerArchive(cp::ArchiveHelperArgs),
    /// Download an image from a registry.
    Pull(pull::PullArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(load::LoadArgs),
    /// Log in to a registry.
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Display system-wide information.
    Info(info::InfoArgs),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// List port mappings or a specific mapping for the container.
    Port(port::PortArgs),
    /// Serve Prometheus metrics, record OOM events and export OpenTelemetry.
    Serve(serve::ServeArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Manage this ebrun instance.
    #[command(subcommand)]
    System(system::SystemCommand),
}

/// Looks a container up by name, id or unique prefix; on failure prints Docker's
/// `Error response from daemon: ...` (the caller exits 1).
pub fn lookup_or_report(
    store: &ebrun::container::ContainerStore,
    key: &str,
) -> Option<ebrun::container::ContainerConfig> {
    match store.lookup(key) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            None
        }
    }
}

/// Runs the chosen command and returns the process exit code.
pub fn dispatch(ctx: &Context, command: Command) -> Result<i32> {
    match command {
        Command::Image(cmd) => image::image_command(ctx, cmd),
        Command::Images(args) => image::images(ctx, args),
        Command::Rmi(args) => image::rmi(ctx, args),
        Command::Tag(args) => image::tag(ctx, args),
        Command::History(args) => image::history(ctx, args),
        Command::Push(args) => image::push(ctx, args),
        Command::Build(args) => build::build(ctx, *args),
        Command::Commit(args) => commit::commit(ctx, args),
        Command::Diff(args) => diff::diff(ctx, args),
        Command::Import(args) => image::import(ctx, args),
        Command::Run(args) => run::run(ctx, *args),
        Command::Create(args) => run::create(ctx, *args),
        Command::Version(args) => version::version(ctx, args),
        Command::Rm(args) => rm::rm(ctx, args),
        Command::Inspect(args) => inspect::inspect(ctx, args),
        Command::Network(cmd) => network::network_command(ctx, cmd),
        Command::Port(args) => port::port(ctx, args),
        Command::System(cmd) => system::system(ctx, cmd),
        Command::Ps(args) => ps::ps(ctx, args),
        Command::Logs(args) => logs::logs(ctx, args),
        Command::Attach(args) => attach::attach(ctx, args),
        Command::Exec(args) => exec::exec(ctx, args),
        Command::Start(args) => lifecycle::start(ctx, args),
        Command::Stop(args) => lifecycle::stop(ctx, args),
        Command::Restart(args) => lifecycle::restart(ctx, args),
        Command::Kill(args) => lifecycle::kill(ctx, args),
        Command::Wait(args) => lifecycle::wait(ctx, args),
        Command::Pause(args) => lifecycle::pause(ctx, args),
        Command::Unpause(args) => lifecycle::unpause(ctx, args),
        Command::Rename(args) => lifecycle::rename(ctx, args),
        Command::Top(args) => top::top(ctx, args),
        Command::Update(args) => update::update(ctx, args),
        Command::Stats(args) => stats::stats(ctx, args),
        Command::Monitor(args) => monitor::monitor(ctx, args),
        Command::HealthProbe(args) => monitor::health_probe(ctx, args),
        Command::Volume(cmd) => volume::volume(ctx, cmd),
        Command::Cp(args) => cp::cp(ctx, args),
        Command::Export(args) => export::export(ctx, args),
        Command::ContainerArchive(args) => cp::archive_helper(ctx, args),
        Command::Pull(args) => pull::pull(ctx, args),
        Command::Save(args) => save::save(ctx, args),
        Command::Load(args) => load::load(ctx, args),
        Command::Login(args) => login::login(ctx, args),
        Command::Logout(args) => login::logout(ctx, args),
        Command::Info(args) => info::info(ctx, args),
        Command::Events(args) => events::events(ctx, args),
        Command::Serve(args) => serve::serve(ctx, args),
    }
}

/// Writes `text` to stdout; a closed pipe (`ebrun ps | head`) ends the output quietly.
pub fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
