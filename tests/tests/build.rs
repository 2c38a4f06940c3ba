//! `ebrun build` and `ebrun commit`, checked as a Docker user sees them: the image runs and
//! holds what the Dockerfile says (files, owners, modes, config), cache hits and misses are
//! counted in the output and in the store's layers, `.dockerignore` keeps files out, and
//! every failure (unknown instruction, missing file, failing RUN, missing stage, Ctrl-C)
//! names its line, exits as Docker's does and leaves no container, mount, scratch file or
//! layer behind. Each test has its own default bridge subnet (10.246.N.0/24) for RUN steps.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use ebrun_tests::common::{image_layout, stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::registry::Registry;
use ebrun_tests::serve_support::Serve;

/// An instance with busybox and a default bridge of its own.
fn instance(subnet: u8) -> Instance {
    let inst = Instance::with_busybox();
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"bip": "10.246.{subnet}.1/24"}}"#),
    )
    .unwrap();
    inst
}

/// A context directory holding `files` (path, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn build(inst: &Instance, ctx: &Path, args: &[&str]) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push(ctx.to_str().unwrap());
    inst.run(&all)
}

fn build_ok(inst: &Instance, ctx: &Path, args: &[&str]) -> String {
    let out = build(inst, ctx, args);
    assert!(
        out.status.success(),
        "build failed ({:?})\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn layer_count(inst: &Instance) -> usize {
    std::fs::read_dir(inst.root().join("image/layers"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// What a build may leave behind: containers, mounts under the root, scratch files.
fn leftovers(inst: &Instance) -> Vec<String> {
    let mut found = Vec::new();
    let ps = inst.ok(&["ps", "-a", "-q"]);
    if !ps.trim().is_empty() {
        found.push(format!("containers: {ps}"));
    }
    let root = inst.root().canonicalize().unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mounts.lines() {
        if line.contains(root.to_str().unwrap()) {
            found.push(format!("mount: {line}"));
        }
    }
    for dir in ["image/building", "image/tmp"] {
        if let Ok(entries) = std::fs::read_dir(inst.root().join(dir)) {
            for e in entries.flatten() {
                found.push(format!("{dir}: {}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

fn config_of(inst: &Instance, image: &str) -> Value {
    let doc: Value = serde_json::from_str(&inst.ok(&["image", "inspect", image])).unwrap();
    doc[0]["Config"].clone()
}

#[test]
fn a_dockerfile_becomes_an_image_that_runs_as_written() {
    let inst = instance(1);
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o600);
    h.set_uid(7);
    h.set_gid(8);
    h.set_cksum();
    tar.append_data(&mut h, "inside/packed.txt", &b"packed"[..])
        .unwrap();
    let tar_bytes = tar.into_inner().unwrap();
    let ctx = context(&[
        (
            "Dockerfile",
            r#"# escape=\
ARG BASE=busybox
FROM ${BASE} AS base
ARG GREETING=hello
ENV APP=/app \
    MODE="two words"
WORKDIR $APP
COPY --chown=1000:1001 --chmod=750 src/ ./src/
COPY *.conf /etc/app/
ADD bundle.tar /opt/
RUN <<EOF
echo "${GREETING:-none} $MODE" > /greeting
echo heredoc >> /greeting
EOF
COPY <<EOT /etc/motd
welcome to $APP
EOT
USER 1000
EXPOSE 8080 53/udp
VOLUME /data
LABEL org.example.team="build tests" version=1
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD ["test", "-f", "/greeting"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /greeting"]
"#,
        ),
        ("src/main.c", "int main(void) { return 0; }\n"),
        ("src/lib/util.h", "#define X 1\n"),
        ("a.conf", "a=1\n"),
        ("b.conf", "b=2\n"),
        ("notes.txt", "not copied\n"),
    ]);
    std::fs::write(ctx.path().join("bundle.tar"), &tar_bytes).unwrap();
    let out = build_ok(
        &inst,
        ctx.path(),
        &["-t", "app:1", "--build-arg", "GREETING=hi"],
    );
    assert!(out.contains("Step 1/17 : FROM ${BASE} AS base"), "{out}");
    assert!(out.contains("Successfully tagged app:1"), "{out}");

    assert_eq!(
        inst.ok(&["run", "--rm", "app:1"]),
        "hi two words\nheredoc\n"
    );
    let listing = inst.ok(&[
        "run",
        "--rm",
        "app:1",
        "stat -c '%n %u:%g %a' src src/main.c src/lib/util.h /etc/app/a.conf /etc/app/b.conf \
         /opt/inside/packed.txt; cat /etc/motd; id -u; pwd; ls /app",
    ]);
    assert_eq!(
        listing,
        "src 1000:1001 750\nsrc/main.c 1000:1001 750\nsrc/lib/util.h 1000:1001 750\n\
         /etc/app/a.conf 0:0 644\n/etc/app/b.conf 0:0 644\n/opt/inside/packed.txt 7:8 600\n\
         welcome to /app\n1000\n/app\nsrc\n"
    );

    let config = config_of(&inst, "app:1");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"APP=/app") && env.contains(&"MODE=two words"),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|e| e.starts_with("GREETING")),
        "build args stay out: {env:?}"
    );
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["User"], "1000");
    assert_eq!(config["Cmd"], serde_json::json!(["cat /greeting"]));
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(config["Labels"]["org.example.team"], "build tests");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(
        config["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "test", "-f", "/greeting"], "Interval": 5_000_000_000u64, "Retries": 2})
    );

    // The history has one entry per step, with the intermediate images' ids.
    let history = inst.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}\t{{.CreatedBy}}",
        "app:1",
    ]);
    let rows: Vec<&str> = history.lines().collect();
    assert!(
        rows[0].contains("ENTRYPOINT") || rows[0].contains("CMD"),
        "{history}"
    );
    assert!(
        rows.iter().any(|r| r.contains("|1 GREETING=hi /bin/sh -c")),
        "RUN records its build args: {history}"
    );
    // 16 steps made images, and the base image's top step is busybox's own id.
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("sha256:")).count(),
        17,
        "{history}"
    );
    // Intermediate images only show with -a; removing the image removes them.
    let shown = inst.ok(&["images", "-q"]);
    let all = inst.ok(&["images", "-a", "-q"]);
    assert_eq!(shown.lines().count(), 2, "{shown}");
    assert!(all.lines().count() > 10, "{all}");
    inst.ok(&["rmi", "app:1"]);
    assert_eq!(inst.ok(&["images", "-a", "-q"]).lines().count(), 1);
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));
}

#[test]
fn an_unchanged_rebuild_is_all_cache_and_a_changed_file_invalidates_from_its_copy() {
    let inst = instance(2);
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN echo one > /one\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\nCMD [\"cat\", \"/copy\"]\n",
        ),
        ("app.txt", "v1\n"),
    ]);
    let first = build_ok(&inst, ctx.path(), &["-t", "c:1"]);
    assert_eq!(first.matches("Using cache").count(), 0, "{first}");
    let layers = layer_count(&inst);
    let images = inst.ok(&["images", "-a", "-q"]).lines().count();

    let again = build_ok(&inst, ctx.path(), &["-t", "c:1"]);
    assert_eq!(again.matches("Using cache").count(), 4, "{again}");
    assert!(!again.contains("Running in"), "{again}");
    assert_eq!(layer_count(&inst), layers, "no new layer");
    assert_eq!(inst.ok(&["images", "-a", "-q"]).lines().count(), images);
    // A new mtime alone changes nothing.
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.path().join("app.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    drop(f);
    assert_eq!(
        build_ok(&inst, ctx.path(), &[])
            .matches("Using cache")
            .count(),
        4
    );

    std::fs::write(ctx.path().join("app.txt"), "v2\n").unwrap();
    let changed = build_ok(&inst, ctx.path(), &["-t", "c:2"]);
    // FROM, then the first RUN from cache; COPY and what follows are made again.
    assert_eq!(changed.matches("Using cache").count(), 1, "{changed}");
    assert_eq!(changed.matches("Running in").count(), 1, "{changed}");
    assert_eq!(inst.ok(&["run", "--rm", "c:2"]), "v2\n");
    assert_eq!(inst.ok(&["run", "--rm", "c:1"]), "v1\n");

    let nocache = build_ok(&inst, ctx.path(), &["--no-cache", "-q"]);
    assert!(nocache.trim().starts_with("sha256:"), "{nocache}");
    assert_eq!(
        nocache.lines().count(),
        1,
        "-q prints only the id: {nocache}"
    );
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    let inst = instance(3);
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /ctx/\nCMD [\"find\", \"/ctx\", \"-type\", \"f\"]\n",
        ),
        (
            ".dockerignore",
            "# secrets and build output\n**/*.log\nsecret.txt\nbuild\n!build/keep.me\n",
        ),
        ("main.c", "x"),
        ("debug.log", "x"),
        ("sub/deep/trace.log", "x"),
        ("sub/deep/ok.txt", "x"),
        ("secret.txt", "x"),
        ("build/out.o", "x"),
        ("build/keep.me", "x"),
    ]);
    build_ok(&inst, ctx.path(), &["-t", "ign"]);
    let mut files: Vec<String> = inst
        .ok(&["run", "--rm", "ign"])
        .lines()
        .map(str::to_string)
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/build/keep.me",
            "/ctx/main.c",
            "/ctx/sub/deep/ok.txt"
        ]
    );
    // An excluded file named by COPY is missing from the context.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY secret.txt /\n",
    )
    .unwrap();
    let out = build(&inst, ctx.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Dockerfile:2"), "{}", stderr(&out));
    assert!(stderr(&out).contains("secret.txt"), "{}", stderr(&out));
}

#[test]
fn failures_name_their_line_exit_1_and_leave_nothing_behind() {
    let inst = instance(4);
    let base_layers = layer_count(&inst);
    let cases: &[(&str, &[&str], &str)] = &[
        ("FROM busybox\nRUN true\nRUNN x\n", &[], "Dockerfile:3: unknown instruction: RUNN"),
        ("FROM busybox\nCOPY missing.txt /\n", &[], "Dockerfile:2: COPY failed"),
        (
            "FROM busybox\nRUN echo first; echo second >&2; exit 3\n",
            &[],
            "Dockerfile:2: The command '/bin/sh -c echo first; echo second >&2; exit 3' returned a non-zero code: 3",
        ),
        ("FROM busybox AS a\nRUN true\n", &["--target", "nosuch"], "failed to reach build target nosuch in Dockerfile"),
        ("FROM busybox\nCOPY --from=nosuch /x /x\n", &[], "Dockerfile:2: invalid from flag value nosuch"),
        ("FROM busybox\nRUN [\"/no/such/binary\"]\n", &[], "Dockerfile:2:"),
        ("", &[], "file with no instructions"),
        (
            "FROM busybox\nCOPY --exclude=*.log . /x\n",
            &[],
            "Dockerfile:2: COPY --exclude is not supported",
        ),
    ];
    for (dockerfile, args, expected) in cases {
        let ctx = context(&[("Dockerfile", dockerfile)]);
        let out = build(&inst, ctx.path(), args);
        assert_eq!(out.status.code(), Some(1), "{dockerfile}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{dockerfile}: want {expected:?} in {}",
            stderr(&out)
        );
        assert!(
            leftovers(&inst).is_empty(),
            "{dockerfile}: {:?}",
            leftovers(&inst)
        );
    }
    // The failing RUN's last output lines are in the error.
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo first; echo second >&2; exit 3\n",
    )]);
    let err = stderr(&build(&inst, ctx.path(), &[]));
    assert!(err.contains("first") && err.contains("second"), "{err}");
    // Only the cached steps that succeeded made layers (`RUN true`, none here: one layer).
    assert!(layer_count(&inst) <= base_layers + 1);
    // Bad flags are ebrun's own errors: 125.
    let ctx = context(&[("Dockerfile", "FROM busybox\n")]);
    let out = build(&inst, ctx.path(), &["-t", "Bad:Name"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tag"), "{}", stderr(&out));
    let out = build(&inst, ctx.path(), &["--network", "container:x"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
}

#[test]
fn ctrl_c_during_a_run_step_stops_the_build_and_cleans_up() {
    let inst = instance(5);
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo started; sleep 60\n")]);
    let layers = layer_count(&inst);
    let mut child = inst
        .command(&["build", "-t", "never", ctx.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("started") {
        assert!(
            Instant::now() < deadline,
            "no output: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(
            n > 0,
            "build ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let started = Instant::now();
    // SAFETY: kill(2) of the build this test started, by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));
    assert_eq!(layer_count(&inst), layers);
    assert!(inst.run(&["image", "inspect", "never"]).status.code() != Some(0));
}

#[test]
fn onbuild_triggers_run_in_the_child_build_only() {
    let inst = instance(6);
    let parent = context(&[(
        "Dockerfile",
        "FROM busybox\nONBUILD COPY marker /marker\nONBUILD RUN echo triggered > /triggered\n",
    )]);
    build_ok(&inst, parent.path(), &["-t", "parent"]);
    assert_eq!(
        config_of(&inst, "parent")["OnBuild"],
        serde_json::json!(["COPY marker /marker", "RUN echo triggered > /triggered"])
    );
    let child = context(&[
        ("Dockerfile", "FROM parent\nCMD cat /marker /triggered\n"),
        ("marker", "m\n"),
    ]);
    let out = build_ok(&inst, child.path(), &["-t", "child"]);
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    assert_eq!(inst.ok(&["run", "--rm", "child"]), "m\ntriggered\n");
    assert_eq!(config_of(&inst, "child")["OnBuild"], Value::Null);
}

#[test]
fn commit_makes_an_image_of_a_containers_changes() {
    let inst = instance(7);
    inst.ok(&[
        "run",
        "--name",
        "work",
        "-e",
        "STAGE=made",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /srv && echo data > /srv/file && rm /etc/deleteme 2>/dev/null; rm -f /bin/true",
    ]);
    let id = inst.ok(&[
        "commit",
        "-a",
        "Builder <b@example.com>",
        "-m",
        "snapshot",
        "-c",
        "CMD [\"cat\", \"/srv/file\"]",
        "-c",
        "ENV EXTRA=1",
        "work",
        "snap:v1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(inst.ok(&["run", "--rm", "snap:v1"]), "data\n");
    // Deletions are carried as whiteouts.
    let out = inst.run(&["run", "--rm", "snap:v1", "ls", "/bin/true"]);
    assert_ne!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_str(&inst.ok(&["image", "inspect", "snap:v1"])).unwrap();
    assert_eq!(doc[0]["Comment"], "snapshot");
    assert_eq!(doc[0]["Author"], "Builder <b@example.com>");
    assert!(doc[0]["Parent"].as_str().unwrap().starts_with("sha256:"));
    let env = doc[0]["Config"]["Env"].to_string();
    assert!(
        env.contains("STAGE=made") && env.contains("EXTRA=1"),
        "{env}"
    );
    assert!(!env.contains("HOSTNAME"), "{env}");
    // A change Docker does not allow in commit is refused.
    let out = inst.run(&["commit", "-c", "RUN true", "work"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("RUN is not a valid change command"),
        "{}",
        stderr(&out)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = inst.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &now.to_string(),
        "--filter",
        "event=commit",
    ]);
    assert!(events.contains("commit"), "{events}");
    inst.ok(&["rm", "work"]);
}

/// The image a build makes is what `save` writes, what a registry takes and skopeo reads,
/// and what another instance pulls back by digest.
#[test]
fn a_built_image_is_pushed_to_a_loopback_registry_and_pulled_back_by_digest() {
    let registry = Registry::start(None);
    let inst = instance(8);
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo pushed > /msg\nCMD [\"cat\", \"/msg\"]\n",
    )]);
    let image = format!("{}/team/built:1", registry.host());
    build_ok(&inst, ctx.path(), &["-t", &image]);
    let out = inst.ok(&["push", &image]);
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {out}"))
        .to_string();
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let doc: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(doc["Digest"], digest);
    assert_eq!(doc["Layers"].as_array().unwrap().len(), 3);

    let other = Instance::new();
    let by_digest = format!("{}/team/built@{digest}", registry.host());
    other.ok(&["pull", &by_digest]);
    assert_eq!(other.ok(&["run", "--rm", &by_digest]), "pushed\n");
}

/// The docker CLI's classic builder (`DOCKER_BUILDKIT=0`) and `docker commit` drive the same
/// builder through the Engine API.
#[test]
fn the_docker_cli_builds_and_commits_through_the_engine_api() {
    let inst = instance(9);
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nARG WHO\nRUN echo \"built for $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n",
        ),
        ("other.Dockerfile", "FROM busybox\nRUN exit 7\n"),
    ]);
    let ctx_path = ctx.path().to_str().unwrap();
    let mut cmd = docker.command(&[
        "build",
        "-t",
        "cli:1",
        "--build-arg",
        "WHO=docker",
        ctx_path,
    ]);
    cmd.env("DOCKER_BUILDKIT", "0");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("Successfully tagged cli:1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(docker.ok(&["run", "--rm", "cli:1"]), "built for docker\n");
    assert_eq!(inst.ok(&["run", "--rm", "cli:1"]), "built for docker\n");

    let mut cmd = docker.command(&[
        "build",
        "-f",
        &format!("{ctx_path}/other.Dockerfile"),
        ctx_path,
    ]);
    cmd.env("DOCKER_BUILDKIT", "0");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("returned a non-zero code: 7"),
        "{}",
        stderr(&out)
    );
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));

    let id = docker.ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "echo kept > /kept; sleep 60",
    ]);
    let id = id.trim();
    let deadline = Instant::now() + Duration::from_secs(10);
    while docker.run(&["exec", id, "cat", "/kept"]).status.code() != Some(0) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let made = docker.ok(&["commit", "-c", "CMD cat /kept", id, "fromcli:1"]);
    assert!(made.trim().starts_with("sha256:"), "{made}");
    // Paused while committed, running again after.
    assert_eq!(
        docker
            .ok(&["inspect", "-f", "{{.State.Status}}", id])
            .trim(),
        "running"
    );
    assert_eq!(docker.ok(&["run", "--rm", "fromcli:1"]), "kept\n");
    docker.ok(&["rm", "-f", id]);
}

/// The multi-stage build people write for a C program: compiled static with Debian's gcc in
/// one stage, copied alone into `scratch`.
#[test]
fn a_multi_stage_build_compiles_c_with_debians_gcc_into_scratch() {
    let inst = instance(10);
    inst.ok(&[
        "image",
        "import",
        image_layout("debian-gcc").to_str().unwrap(),
        "debian-gcc:bookworm",
    ]);
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM debian-gcc:bookworm AS build\nWORKDIR /src\nCOPY hello.c .\n\
             RUN gcc -static -O2 -o /hello hello.c && strip /hello\n\
             FROM scratch\nCOPY --from=build /hello /hello\nENTRYPOINT [\"/hello\"]\nCMD [\"world\"]\n",
        ),
        (
            "hello.c",
            "#include <stdio.h>\nint main(int c, char **v) { printf(\"hello, %s\\n\", c > 1 ? v[1] : \"?\"); return 0; }\n",
        ),
    ]);
    build_ok(&inst, ctx.path(), &["-t", "hello:static"]);
    assert_eq!(inst.ok(&["run", "--rm", "hello:static"]), "hello, world\n");
    assert_eq!(
        inst.ok(&["run", "--rm", "hello:static", "ebrun"]),
        "hello, ebrun\n"
    );
    let doc: Value = serde_json::from_str(&inst.ok(&["image", "inspect", "hello:static"])).unwrap();
    assert_eq!(
        doc[0]["RootFS"]["Layers"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    let size = doc[0]["Size"].as_u64().unwrap();
    assert!(
        size > 100_000 && size < 2_000_000,
        "a static binary alone: {size}"
    );
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));
}

/// A web service image with a HEALTHCHECK, run detached with a published port: its page is
/// served, its health goes healthy, then unhealthy when the test breaks it.
#[test]
fn a_web_service_image_with_a_healthcheck_goes_healthy_then_unhealthy() {
    let inst = instance(11);
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN mkdir -p /www && echo ok > /www/health && echo '<h1>served</h1>' > /www/index.html\n\
         EXPOSE 80\n\
         HEALTHCHECK --interval=200ms --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1/health || exit 1\n\
         CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )]);
    build_ok(&inst, ctx.path(), &["-t", "web"]);
    inst.ok(&["run", "-d", "--name", "web", "-p", "127.0.0.1::80", "web"]);
    let port = inst.ok(&["port", "web", "80"]);
    let addr = port.trim().to_string();
    let wait_for = |status: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let doc = inst.inspect("web");
            if doc["State"]["Health"]["Status"] == status {
                return doc;
            }
            assert!(
                Instant::now() < deadline,
                "never {status}: {}",
                doc["State"]["Health"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("healthy");
    let page = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://{addr}/"))
        .output()
        .unwrap();
    assert_eq!(stdout(&page), "<h1>served</h1>\n");
    assert!(inst.ok(&["ps"]).contains("(healthy)"));
    inst.ok(&["exec", "web", "rm", "/www/health"]);
    let doc = wait_for("unhealthy");
    assert!(doc["State"]["Health"]["FailingStreak"].as_u64().unwrap() >= 2);
    assert!(inst.ok(&["ps"]).contains("(unhealthy)"));
    inst.ok(&["rm", "-f", "web"]);
}

/// `diff` lists a container's changes; `export` then `import` (file and STDIN, ebrun and the
/// docker CLI) makes a one-layer image of its root filesystem with `-c` and `-m` applied.
#[test]
fn diff_export_and_import_round_trip_a_root_filesystem() {
    let inst = instance(12);
    inst.ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo exported > /marker && rm /bin/true && echo x >> /etc/passwd",
    ]);
    let diff = inst.ok(&["diff", "src"]);
    for line in [
        "A /marker",
        "C /bin",
        "D /bin/true",
        "C /etc",
        "C /etc/passwd",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing in:\n{diff}"
        );
    }
    assert!(
        !diff.contains("/etc/hosts") && !diff.contains("/proc"),
        "{diff}"
    );
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("rootfs.tar");
    inst.ok(&["export", "-o", tarball.to_str().unwrap(), "src"]);
    let id = inst.ok(&[
        "import",
        "-c",
        "CMD [\"cat\", \"/marker\"]",
        "-m",
        "a rootfs",
        tarball.to_str().unwrap(),
        "flat:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(inst.ok(&["run", "--rm", "flat:1"]), "exported\n");
    assert_ne!(
        inst.run(&["run", "--rm", "flat:1", "ls", "/bin/true"])
            .status
            .code(),
        Some(0)
    );
    let doc: Value = serde_json::from_str(&inst.ok(&["image", "inspect", "flat:1"])).unwrap();
    assert_eq!(doc[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(doc[0]["Comment"], "a rootfs");
    let from_stdin = inst
        .command(&["import", "-", "flat:2"])
        .stdin(std::fs::File::open(&tarball).unwrap())
        .output()
        .unwrap();
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(
        inst.ok(&["run", "--rm", "flat:2", "cat", "/marker"]),
        "exported\n"
    );

    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    assert_eq!(docker.ok(&["diff", "src"]), diff);
    docker.ok(&[
        "import",
        "-c",
        "CMD cat /marker",
        tarball.to_str().unwrap(),
        "viacli:1",
    ]);
    assert_eq!(docker.ok(&["run", "--rm", "viacli:1"]), "exported\n");
    inst.ok(&["rm", "src"]);
}

/// The other clients that build: the Python SDK (`client.images.build` with build args, and
/// its BuildError in Docker's words) and docker-compose's `build:` services.
#[test]
fn the_python_sdk_and_docker_compose_build_through_the_engine_api() {
    let inst = instance(13);
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nARG X=1\nRUN echo \"x=$X\" > /x\nCMD [\"cat\", \"/x\"]\n"),
        (
            "docker-compose.yml",
            "version: \"3\"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        X: \"9\"\n    image: compapp:1\n    network_mode: none\n",
        ),
    ]);
    let script = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
img, logs = c.images.build(path=sys.argv[2], tag="py:1", buildargs={"X": "7"})
assert "py:1" in img.tags, img.tags
assert c.containers.run("py:1", remove=True) == b"x=7\n"
try:
    c.images.build(path=sys.argv[2], dockerfile="nope")
    raise SystemExit("no BuildError")
except docker.errors.BuildError as e:
    assert "Cannot locate specified Dockerfile: nope" in str(e), e
print("built")
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script, &docker.host(), ctx.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "built\n");

    let compose = Command::new("docker-compose")
        .arg("build")
        .current_dir(ctx.path())
        .env("DOCKER_HOST", docker.host())
        .env("DOCKER_CONFIG", docker.config_dir())
        .output()
        .unwrap();
    assert!(
        compose.status.success(),
        "{}\n{}",
        stdout(&compose),
        stderr(&compose)
    );
    assert_eq!(
        inst.ok(&["run", "--rm", "--network", "none", "compapp:1"]),
        "x=9\n"
    );
    assert!(leftovers(&inst).is_empty(), "{:?}", leftovers(&inst));
}
