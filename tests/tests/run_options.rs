//! `run`/`create` options as a Docker user observes them: `--init` reaping zombies and
//! forwarding signals, `--ulimit`, `--shm-size`, `--group-add`, `--domainname` inside the
//! container, `create` + `start` with `--cidfile`, `stop` using `--stop-signal` and
//! `--stop-timeout`, `version`, bad values refused (125) with nothing created, and the same
//! through the docker CLI against `ebrun serve`.

use std::time::{Duration, Instant};

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::Serve;

/// The `ps -o pid,stat,comm` lines of a container whose PID 1 runs `CMD` after orphaning a
/// short-lived child: without an init that reaps, the orphan stays a zombie.
fn processes_after_orphan(inst: &Instance, init: bool) -> String {
    let mut args = vec!["run", "-d", "--net", "none"];
    if init {
        args.push("--init");
    }
    args.extend(["busybox", "sh", "-c", "(sleep 0.1 &); exec sleep 100"]);
    let id = inst.ok(&args).trim().to_string();
    std::thread::sleep(Duration::from_millis(1200));
    let ps = inst.ok(&["exec", &id, "ps", "-o", "pid,stat,comm"]);
    inst.ok(&["rm", "-f", &id]);
    ps
}

#[test]
fn init_reaps_zombies_forwards_signals_and_keeps_exit_codes() {
    let inst = Instance::with_busybox();
    let without = processes_after_orphan(&inst, false);
    assert!(
        without.lines().any(|l| l.contains(" Z ")),
        "without --init the orphan stays a zombie:\n{without}"
    );
    let with = processes_after_orphan(&inst, true);
    assert!(
        !with.lines().any(|l| l.contains(" Z ")),
        "--init reaps the orphan:\n{with}"
    );
    assert!(
        with.lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.ends_with("docker-init")),
        "PID 1 is the init:\n{with}"
    );

    // PID 1's command line reads as Docker's (no host path of ebrun).
    let cmdline = inst.ok(&[
        "run",
        "--rm",
        "--init",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "tr '\\0' ' ' </proc/1/cmdline",
    ]);
    assert!(
        cmdline.starts_with("/sbin/docker-init -- sh -c "),
        "{cmdline:?}"
    );

    // The command's exit code, and 128+N for a signal, as tini gives them.
    let code = |script: &str| {
        inst.run(&[
            "run", "--rm", "--init", "--net", "none", "busybox", "sh", "-c", script,
        ])
        .status
        .code()
    };
    assert_eq!(code("exit 3"), Some(3));
    assert_eq!(code("kill -9 $$"), Some(137));

    // `sleep` as PID 1 ignores SIGTERM (stop waits its 10 s); under the init it gets it.
    let id = inst
        .ok(&[
            "run", "-d", "--init", "--net", "none", "busybox", "sleep", "100",
        ])
        .trim()
        .to_string();
    let started = Instant::now();
    inst.ok(&["stop", &id]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(
        inst.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Init}} {{.State.ExitCode}}",
            &id
        ])
        .trim(),
        "true 143"
    );
    inst.ok(&["rm", &id]);
}

#[test]
fn ulimit_shm_size_group_add_and_domainname_inside_the_container() {
    let inst = Instance::with_busybox();
    let out = inst.ok(&[
        "run",
        "--name",
        "opts",
        "--net",
        "none",
        "--ulimit",
        "nofile=1024:2048",
        "--ulimit",
        "nproc=500",
        "--shm-size",
        "128m",
        "--group-add",
        "1234",
        "--group-add",
        "app",
        "--domainname",
        "example.org",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -u; df -k /dev/shm | tail -1 | awk '{print $2}'; id -G; cat /proc/sys/kernel/domainname",
    ]);
    assert_eq!(out, "1024\n2048\n500\n131072\n0 1000 1234\nexample.org\n");
    let doc = inst.inspect("opts");
    assert_eq!(
        doc["HostConfig"]["Ulimits"],
        serde_json::json!([
            {"Name": "nofile", "Hard": 2048, "Soft": 1024},
            {"Name": "nproc", "Hard": 500, "Soft": 500},
        ])
    );
    assert_eq!(doc["HostConfig"]["ShmSize"], 134_217_728);
    assert_eq!(
        doc["HostConfig"]["GroupAdd"],
        serde_json::json!(["1234", "app"])
    );
    assert_eq!(doc["Config"]["Domainname"], "example.org");
    assert_eq!(doc["HostConfig"]["Init"], serde_json::Value::Null);

    // Docker's defaults: /dev/shm of 64 MiB, no ulimits given.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "df -k /dev/shm | tail -1 | awk '{print $2}'",
    ]);
    assert_eq!(out, "65536\n");

    // A group the image does not know fails the start as Docker's does.
    let out = inst.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--group-add",
        "nosuchgroup",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Unable to find group nosuchgroup"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn create_start_cidfile_and_stop_signal() {
    let inst = Instance::with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let cidfile = dir.path().join("cid");
    let cid = cidfile.to_str().unwrap();
    let id = inst
        .ok(&[
            "create",
            "--cidfile",
            cid,
            "--name",
            "graceful",
            "--net",
            "none",
            "--stop-signal",
            "USR1",
            "--stop-timeout",
            "30",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got USR1; exit 7' USR1; echo up; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "create prints the id: {id:?}");
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);
    assert_eq!(
        inst.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.StopSignal}} {{.Config.StopTimeout}}",
            "graceful"
        ])
        .trim(),
        "created USR1 30"
    );
    inst.ok(&["start", "graceful"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !inst.ok(&["logs", "graceful"]).contains("up") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    inst.ok(&["stop", "graceful"]);
    assert_eq!(inst.ok(&["logs", "graceful"]), "up\ngot USR1\n");
    assert_eq!(
        inst.ok(&["inspect", "-f", "{{.State.ExitCode}}", "graceful"])
            .trim(),
        "7"
    );

    // The file exists: Docker's error, exit 125, no container made, the file kept.
    let out = inst.run(&[
        "create",
        "--cidfile",
        cid,
        "--net",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains(&format!(
            "container ID file found, make sure the other container isn't running or delete {cid}"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);
    assert_eq!(inst.ok(&["ps", "-aq"]).lines().count(), 1);

    // run --cidfile writes the id too; a failed create leaves no file.
    let second = dir.path().join("cid2");
    let id2 = inst
        .ok(&[
            "run",
            "-d",
            "--cidfile",
            second.to_str().unwrap(),
            "--net",
            "none",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    assert_eq!(std::fs::read_to_string(&second).unwrap(), id2);
    let third = dir.path().join("cid3");
    let out = inst.run(&[
        "run",
        "--cidfile",
        third.to_str().unwrap(),
        "--net",
        "none",
        "--runtime",
        "crun",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(!third.exists());
}

#[test]
fn bad_values_exit_125_naming_flag_and_value_with_nothing_created() {
    let inst = Instance::with_busybox();
    let cases: &[(&[&str], &str)] = &[
        (&["--ulimit", "nofile=abc"], "invalid argument \"nofile=abc\" for \"--ulimit\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax"),
        (&["--ulimit", "bogus=1"], "invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus"),
        (&["--ulimit", "nofile"], "invalid ulimit argument: nofile"),
        (&["--ulimit", "nofile=20:10"], "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
        (&["--shm-size", "lots"], "invalid argument \"lots\" for \"--shm-size\" flag"),
        (&["--stop-signal", "NOPE"], "--stop-signal value \"NOPE\": invalid signal"),
        (&["--stop-timeout", "soon"], "invalid argument \"soon\" for \"--stop-timeout\" flag"),
        (&["--pull", "sometimes"], "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""),
        (&["--runtime", "crun"], "unknown or invalid runtime name: crun"),
        (&["--gpus", "all"], "--gpus \"all\": GPU device requests are not supported by ebrun"),
        (&["--isolation", "hyperv"], "invalid isolation: hyperv"),
        (&["--disable-content-trust=false"], "ebrun does not verify image signatures"),
    ];
    for (flags, wanted) in cases {
        for command in ["run", "create"] {
            let mut args = vec![command, "--net", "none"];
            args.extend_from_slice(flags);
            args.extend(["busybox", "true"]);
            let out = inst.run(&args);
            assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(wanted), "{args:?}: {}", stderr(&out));
        }
    }
    let out = inst.run(&[
        "run",
        "--pull",
        "never",
        "--net",
        "none",
        "nosuchimage",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("No such image: nosuchimage:latest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inst.ok(&["ps", "-aq"]), "", "nothing was created");

    // Accepted as Docker's defaults on Linux.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--isolation",
        "default",
        "--disable-content-trust",
        "--runtime",
        "runc",
        "--pull",
        "missing",
        "-q",
        "busybox",
        "echo",
        "ok",
    ]);
    assert_eq!(out, "ok\n");
}

#[test]
fn version_prints_client_and_server_blocks() {
    let inst = Instance::new();
    let out = inst.ok(&["version"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Client: ebrun");
    assert!(lines[1].starts_with(" Version:           "), "{out}");
    assert!(
        lines.contains(&"Server: ebrun") && lines.contains(&" Engine:"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  API version:      1.50 (minimum version 1.24)")),
        "{out}"
    );
    assert!(lines.contains(&"  Experimental:     false"), "{out}");
    assert_eq!(
        inst.ok(&[
            "version",
            "--format",
            "{{.Server.ApiVersion}} {{.Client.Context}}"
        ]),
        "1.50 default\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&inst.ok(&["version", "-f", "json"])).unwrap();
    assert_eq!(json["Server"]["Components"][0]["Name"], "Engine");
    let out = inst.run(&["version", "-f", "{{.Nope"]);
    assert_eq!(out.status.code(), Some(64));
}

/// The same options through `docker run`/`create`/`stop` against ebrun's API, and `docker
/// version`'s server block as `ebrun version` prints it.
#[test]
fn docker_cli_run_options_through_the_api() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let out = docker.ok(&[
        "run",
        "--name",
        "viaapi",
        "--net",
        "none",
        "--init",
        "--ulimit",
        "nofile=1024:2048",
        "--shm-size",
        "128m",
        "--group-add",
        "1234",
        "--domainname",
        "example.org",
        "--annotation",
        "org.example.team=infra",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | awk '{print $2}'; id -G; cat /proc/sys/kernel/domainname; cat /proc/1/comm",
    ]);
    assert_eq!(
        out,
        "1024\n2048\n131072\n0 1234\nexample.org\ndocker-init\n"
    );
    assert_eq!(
        docker
            .ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.Init}} {{json .HostConfig.Ulimits}} {{.HostConfig.ShmSize}} {{json .HostConfig.GroupAdd}} {{.Config.Domainname}} {{json .HostConfig.Annotations}}",
                "viaapi",
            ])
            .trim(),
        r#"true [{"Name":"nofile","Hard":2048,"Soft":1024}] 134217728 ["1234"] example.org {"org.example.team":"infra"}"#
    );

    docker.ok(&[
        "create",
        "--name",
        "graceful",
        "--net",
        "none",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got USR1; exit 7' USR1; echo up; while true; do sleep 0.1; done",
    ]);
    docker.ok(&["start", "graceful"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !docker.ok(&["logs", "graceful"]).contains("up") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    docker.ok(&["stop", "graceful"]);
    assert_eq!(docker.ok(&["logs", "graceful"]), "up\ngot USR1\n");
    assert_eq!(
        docker
            .ok(&[
                "inspect",
                "-f",
                "{{.State.ExitCode}} {{.Config.StopSignal}}",
                "graceful"
            ])
            .trim(),
        "7 USR1"
    );

    let out = docker.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--runtime",
        "crun",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown or invalid runtime name: crun"),
        "{}",
        stderr(&out)
    );

    // docker version's server block is ebrun version's.
    let server = |text: &str| -> String {
        text.split("\n\n")
            .nth(1)
            .unwrap_or_default()
            .trim_end()
            .to_string()
    };
    let theirs = docker.ok(&["version"]);
    let ours = inst.ok(&["version"]);
    assert_eq!(
        server(&theirs),
        server(&ours),
        "docker:\n{theirs}\nebrun:\n{ours}"
    );
    assert!(!server(&ours).is_empty());
    let _ = stdout;
}
