//! The real `docker` CLI (a client only on these machines) pointed at an instance's Engine
//! API socket, with a client configuration of its own (never the user's contexts).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{stderr, stdout, Instance};

/// `docker` against one instance's `ebrun serve`.
pub struct DockerCli {
    socket: PathBuf,
    config: tempfile::TempDir,
}

/// The socket `ebrun serve` answers on by default for `inst`.
pub fn socket_of(inst: &Instance) -> PathBuf {
    PathBuf::from("/run")
        .join(inst.prefix())
        .join("docker.sock")
}

impl DockerCli {
    pub fn new(inst: &Instance) -> DockerCli {
        DockerCli {
            socket: socket_of(inst),
            config: tempfile::tempdir().expect("a docker client config dir"),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `DOCKER_HOST` for other clients (compose, the Python SDK).
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The client configuration directory (`DOCKER_CONFIG`).
    pub fn config_dir(&self) -> &Path {
        self.config.path()
    }

    /// `docker ARGS`, stdin from /dev/null.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.config.path())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run the docker CLI")
    }

    /// `docker ARGS` that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {:?}\n{}\n{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `docker ARGS` with `input` on its stdin.
    pub fn with_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the docker CLI");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input).expect("write docker's stdin");
        drop(stdin);
        child.wait_with_output().expect("docker's output")
    }

    /// `docker ARGS` in a terminal of `rows`x`cols` (util-linux `script`), for `-it`;
    /// returns its exit code and what the terminal showed.
    pub fn in_terminal(&self, args: &str, rows: u16, cols: u16) -> (Option<i32>, String) {
        let line = format!("stty rows {rows} cols {cols}; docker {args}");
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.config.path())
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux)");
        (out.status.code(), stdout(&out))
    }
}
