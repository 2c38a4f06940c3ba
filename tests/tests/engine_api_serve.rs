//! Where and how long the Engine API is served: TCP on loopback, TCP with TLS and client
//! certificates (made with openssl for the test), an open TCP port refused, and a serve
//! stopped and started again under running containers and streams in flight.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::{free_port, Serve};

/// `docker ARGS` against a TCP endpoint, with a client configuration of its own.
fn docker_tcp(config: &Path, host: &str, tls: &[&str], args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_CONFIG", config)
        .env_remove("DOCKER_HOST")
        .arg("-H")
        .arg(host)
        .args(tls)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the docker CLI")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=ebrun-test-ca",
        ],
    );
    for (name, subject, ext) in [
        (
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "/CN=client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                subject,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "1",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}

#[test]
fn tcp_endpoints_are_loopback_or_tls_verified() {
    let inst = Instance::with_busybox();
    let config = tempfile::tempdir().unwrap();
    // An open TCP port is refused before anything is bound.
    let out = inst.run(&[
        "serve",
        "--metrics-addr",
        "127.0.0.1:0",
        "--api",
        "tcp://0.0.0.0:2375",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(stderr(&out).contains("--tlsverify"), "{}", stderr(&out));

    // Loopback: plain TCP, next to the unix socket.
    let port = free_port();
    let sock = format!("unix:///run/{}/docker.sock", inst.prefix());
    let tcp = format!("tcp://127.0.0.1:{port}");
    let serve = Serve::start(&inst, &["--api", &tcp, "--api", &sock]);
    let out = docker_tcp(
        config.path(),
        &tcp,
        &[],
        &["run", "--rm", "busybox", "echo", "over tcp"],
    );
    assert_eq!(stdout(&out), "over tcp\n", "{out:?}");
    assert!(DockerCli::new(&inst)
        .ok(&["version"])
        .contains("API version"));
    serve.stop();

    // TLS with client certificates: only a client the CA signed gets in.
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let c = |f: &str| certs.path().join(f).display().to_string();
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let serve = Serve::start(
        &inst,
        &[
            "--api",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &c("ca.pem"),
            "--tlscert",
            &c("server.pem"),
            "--tlskey",
            &c("server-key.pem"),
        ],
    );
    let (ca, cert, key) = (c("ca.pem"), c("client.pem"), c("client-key.pem"));
    let verified = [
        "--tlsverify",
        "--tlscacert",
        &ca,
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
    ];
    let out = docker_tcp(
        config.path(),
        &tcp,
        &verified,
        &["ps", "-a", "--format", "{{.Names}}"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = docker_tcp(config.path(), &tcp, &["--tls", "--tlscacert", &ca], &["ps"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("certificate required"),
        "{}",
        stderr(&out)
    );
    let out = docker_tcp(config.path(), &tcp, &[], &["ps"]);
    assert!(!out.status.success(), "plain HTTP answered on a TLS port");
    serve.stop();
}

#[test]
fn stopping_serve_stops_no_container_and_a_new_serve_answers_at_once() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.2; done",
    ]);
    // A log stream in flight when serve goes away ends; the container does not.
    let mut follower = docker
        .command(&["logs", "-f", "ticker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    serve.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if follower.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "docker logs -f outlived serve");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        inst.ok(&["inspect", "-f", "{{.State.Status}}", "ticker"]),
        "running\n"
    );
    let serve = Serve::start(&inst, &[]);
    assert_eq!(docker.ok(&["ps", "--format", "{{.Names}}"]), "ticker\n");
    assert_eq!(
        docker.ok(&["exec", "ticker", "echo", "still here"]),
        "still here\n"
    );
    docker.ok(&["rm", "-f", "ticker"]);
    serve.stop();
}

#[test]
fn a_serve_whose_binary_was_replaced_still_starts_containers() {
    // An upgrade (or a rebuild) replaces the file a long-running serve was started from.
    let inst = Instance::with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ebrun");
    std::fs::copy(ebrun_tests::common::ebrun_bin(), &copy).unwrap();
    let port = free_port();
    let mut serve = Command::new(&copy)
        .arg("--root")
        .arg(inst.root())
        .args(["serve", "--metrics-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let docker = DockerCli::new(&inst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !docker.socket().exists() {
        assert!(Instant::now() < deadline, "serve never bound its socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(&copy).unwrap();
    let out = docker.run(&["run", "--rm", "busybox", "echo", "still runs"]);
    assert_eq!(stdout(&out), "still runs\n", "{}", stderr(&out));
    docker.ok(&["run", "-d", "--name", "kept", "busybox", "sleep", "60"]);
    assert_eq!(
        docker.ok(&["exec", "kept", "echo", "exec too"]),
        "exec too\n"
    );
    docker.ok(&["rm", "-f", "kept"]);
    let _ = serve.kill();
    let _ = serve.wait();
}
