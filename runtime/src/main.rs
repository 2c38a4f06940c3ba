//! The `ebrun` binary: parses the command line, sets up logging, maps errors to Docker's exit
//! codes (125 for ebrun's own errors).

mod cli;

use clap::Parser;

/// Docker's exit code for an error of the runtime itself.
const EXIT_RUNTIME_ERROR: i32 = 125;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_RUNTIME_ERROR
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let ctx = cli::Context {
        paths: ebrun::Paths::new(&cli.root),
    };
    let code = match cli::dispatch(&ctx, cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ebrun: {e:#}");
            EXIT_RUNTIME_ERROR
        }
    };
    std::process::exit(code);
}
