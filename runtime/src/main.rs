//! The `ebrun` binary: parses the command line, sets up logging, maps errors to Docker's exit
//! codes (125 for ebrun's own errors).

mod cli;

use clap::Parser;

/// Docker's exit code for an error of the runtime itself.
const EXIT_RUNTIME_ERROR: i32 = 125;

fn main() {
    ebrun::process::sealed::reexec_sealed();
    if let Some(args) = cli::oci::oci_args() {
        std::process::exit(cli::oci::main(args));
    }
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
    init_logging(&cli.log_level);
    let ctx = cli::Context {
        paths: ebrun::Paths::new(&cli.root),
    };
    ctx.paths.secure_root();
    let code = match cli::dispatch(&ctx, cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ebrun: {}", render(&e));
            EXIT_RUNTIME_ERROR
        }
    };
    std::process::exit(code);
}

pub(crate) fn init_logging(level: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}

/// The error and its causes on one line, each cause once: wrapper variants that display
/// their inner error (`#[error("{0}")]`), or an OS error in Go's words ("no space left on
/// device"), would otherwise repeat it.
pub(crate) fn render(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !normalized(&text).contains(&normalized(&cause)) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Lower case, without Rust's " (os error N)".
fn normalized(message: &str) -> String {
    let message = match message.rfind(" (os error ") {
        Some(cut) if message.ends_with(')') => &message[..cut],
        _ => message,
    };
    message.to_lowercase()
}
