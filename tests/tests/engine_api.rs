//! The Docker Engine API that `ebrun serve` answers on its unix socket, driven by the real
//! `docker` CLI (a client only on these machines): it sees the containers and images the
//! `ebrun` CLI made, negotiates its API version, and gets Docker's errors.

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::Serve;

use std::process::Command;

#[test]
fn the_docker_cli_sees_what_ebrun_made() {
    let inst = Instance::with_busybox();
    let port = ebrun_tests::serve_support::free_port().to_string();
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    inst.ok(&["run", "--name", "done", "busybox", "true"]);
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let socket = docker.socket().to_path_buf();
    let ok = |args: &[&str]| {
        let out = docker.run(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    // Root only, without a docker group on the host (dockerd's 0600 / 0660 root:docker).
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    let docker_group = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("docker:"));
    assert_eq!(mode & 0o777, if docker_group { 0o660 } else { 0o600 });

    assert_eq!(
        ok(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}"
        ]),
        format!("{} 1.50 1.24\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        ok(&["ps", "--format", "{{.Names}} {{.State}} {{.Ports}}"]),
        format!("web running 127.0.0.1:{port}->80/tcp\n")
    );
    let all = ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(all.contains("done exited Exited (0)"), "{all}");
    // The same ids and image as ebrun's own view.
    let id = inst.ok(&["inspect", "-f", "{{.Id}}", "web"]);
    assert_eq!(
        ok(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Image}}"]),
        format!("{} busybox\n", id.trim())
    );
    assert_eq!(
        ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    assert_eq!(
        ok(&[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}"
        ]),
        "2 1 1 1\n"
    );

    // What is not served yet is Docker's 404, and the server goes on serving.
    let out = docker.run(&["plugin", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("page not found"), "{}", stderr(&out));
    // A client older than the oldest version served gets Docker's 400.
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&socket)
        .arg("http://localhost/v1.12/info")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.ends_with("\n400"), "{text}");
    assert!(
        text.contains("client version 1.12 is too old. Minimum supported API version is 1.24"),
        "{text}"
    );
    assert_eq!(ok(&["ps", "-q"]).lines().count(), 1);

    serve.stop();
    assert!(!socket.exists(), "the socket outlived serve");
    inst.ok(&["rm", "-f", "web", "done"]);
}

#[test]
fn the_docker_cli_runs_a_containers_lifecycle_through_ebrun() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "life", "busybox", "sleep", "600"]);
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let run = |args: &[&str]| docker.run(args);
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let state = || {
        inst.ok(&["inspect", "-f", "{{.State.Status}}", "life"])
            .trim()
            .to_string()
    };
    assert_eq!(
        ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.Name}} {{.Config.Image}}",
            "life"
        ]),
        "true /life busybox\n"
    );
    // sleep is pid 1: it ignores SIGTERM, so stop kills it after the grace period.
    ok(&["stop", "-t", "1", "life"]);
    assert_eq!(state(), "exited");
    assert_eq!(
        inst.ok(&["inspect", "-f", "{{.State.ExitCode}}", "life"]),
        "137\n"
    );
    ok(&["start", "life"]);
    assert_eq!(state(), "running");
    ok(&["pause", "life"]);
    assert_eq!(state(), "paused");
    ok(&["unpause", "life"]);
    assert_eq!(state(), "running");
    ok(&["kill", "--signal", "KILL", "life"]);
    assert_eq!(ok(&["wait", "life"]), "137\n");
    ok(&["restart", "-t", "1", "life"]);
    assert_eq!(state(), "running");
    // Docker's refusals and codes: a running container is not removed without -f.
    let out = run(&["rm", "life"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("container is running: stop the container before removing or force remove"),
        "{}",
        stderr(&out)
    );
    let out = run(&["inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["kill", "--signal", "NOPE", "life"]);
    assert!(
        stderr(&out).contains("Invalid signal: NOPE"),
        "{}",
        stderr(&out)
    );
    ok(&["rm", "-f", "life"]);
    assert_eq!(inst.ok(&["ps", "-aq"]), "");
    serve.stop();
}
