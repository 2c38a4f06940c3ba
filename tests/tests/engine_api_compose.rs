//! Debian's docker-compose (1.29, on the Python Docker SDK) driving ebrun through the Engine
//! API: a project of two services on a user network (the one finds the other by its service
//! name), a named volume, a published port and a depends_on; `up -d`, `ps`, `logs`, `exec`,
//! `--scale`, `down -v`, with ebrun's own view agreeing and nothing left behind.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::{free_port, try_get, Serve};

/// `docker-compose -p PROJECT ARGS` in `dir`.
fn compose(docker: &DockerCli, dir: &Path, project: &str, args: &[&str]) -> Output {
    Command::new("docker-compose")
        .current_dir(dir)
        .env("DOCKER_HOST", docker.host())
        .env("DOCKER_CONFIG", docker.config_dir())
        .args(["--ansi", "never", "-p", project])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("docker-compose (Debian's package)")
}

fn compose_ok(docker: &DockerCli, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(docker, dir, project, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {:?}\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

const PROJECT_FILE: &str = r#"version: "3.8"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db-data > /data/f && echo db ready && exec httpd -f -p 80 -h /data"]
    volumes:
      - dbdata:/data
    networks: [back]
    stop_grace_period: 1s
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www; (while :; do wget -q -O /www/got http://db/f; sleep 0.3; done) & exec httpd -f -p 80 -h /www"]
    ports:
      - "127.0.0.1:PORT:80"
    depends_on: [db]
    networks: [back]
    stop_grace_period: 1s
volumes:
  dbdata:
networks:
  back:
    ipam:
      config:
        - subnet: 10.244.1.0/24
"#;

#[test]
fn docker_compose_runs_a_project_on_ebrun() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        PROJECT_FILE.replace("PORT", &port.to_string()),
    )
    .unwrap();
    let project = "demo";
    let (d, p) = (&docker, dir.path());

    compose_ok(d, p, project, &["up", "-d"]);
    // web reaches db by its service name on the project's network, through the port.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match try_get(port, "/got") {
            Ok(body) if body == "db-data\n" => break,
            other if Instant::now() > deadline => panic!("web never served db's file: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    let ps = compose_ok(d, p, project, &["ps"]);
    assert!(
        ps.contains("demo_db_1") && ps.contains("demo_web_1"),
        "{ps}"
    );
    assert_eq!(ps.matches(" Up ").count(), 2, "{ps}");
    // The same objects in ebrun's own view.
    let names = inst.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(
        names.contains("demo_db_1") && names.contains("demo_web_1"),
        "{names}"
    );
    assert!(inst.ok(&["network", "ls"]).contains("demo_back"));
    assert!(inst.ok(&["volume", "ls"]).contains("demo_dbdata"));
    assert!(compose_ok(d, p, project, &["logs", "db"]).contains("db ready"));
    assert_eq!(
        compose_ok(d, p, project, &["exec", "-T", "db", "cat", "/data/f"]),
        "db-data\n"
    );
    // A second up changes nothing; --scale adds a replica.
    compose_ok(d, p, project, &["up", "-d"]);
    assert_eq!(inst.ok(&["ps", "-q"]).lines().count(), 2);
    compose_ok(d, p, project, &["up", "-d", "--scale", "db=2"]);
    assert_eq!(inst.ok(&["ps", "-q"]).lines().count(), 3);

    compose_ok(d, p, project, &["down", "-v"]);
    assert_eq!(inst.ok(&["ps", "-aq"]), "");
    assert!(!inst.ok(&["network", "ls"]).contains("demo_back"));
    assert!(!inst.ok(&["volume", "ls"]).contains("demo_dbdata"));
    serve.stop();
}
