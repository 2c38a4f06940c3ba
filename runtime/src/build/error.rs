//! Errors of a build. Each names the Dockerfile line of the step that failed; the CLI exits 1
//! on any of them, as `docker build` does.

use super::dockerfile::DockerfileError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Dockerfile(#[from] DockerfileError),
    /// The context or the Dockerfile cannot be read (Docker's "unable to prepare context").
    #[error("unable to prepare context: {0}")]
    Context(String),
    /// A `--build-arg`, `--target`, `--label`, ... the build cannot use.
    #[error("{0}")]
    Invalid(String),
    /// A step that cannot be carried out, with its line.
    #[error("Dockerfile:{line}: {message}")]
    Step { line: usize, message: String },
    /// A `RUN` whose command failed: Docker's message, then its last lines of output.
    #[error("Dockerfile:{line}: The command '{command}' returned a non-zero code: {code}{}", tail_text(.tail))]
    RunFailed {
        line: usize,
        command: String,
        code: i32,
        tail: Vec<String>,
    },
    #[error("failed to reach build target {0} in Dockerfile")]
    NoTarget(String),
    #[error("build interrupted")]
    Interrupted,
    #[error("{0}")]
    Image(#[from] crate::image::ImageError),
    #[error("{0}")]
    Container(#[from] crate::container::ContainerError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nlast output:");
    for line in tail {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

impl BuildError {
    pub(crate) fn step(line: usize, message: impl std::fmt::Display) -> BuildError {
        BuildError::Step {
            line,
            message: message.to_string(),
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.to_path_buf();
        move |source| BuildError::Io { op, path, source }
    }
}
