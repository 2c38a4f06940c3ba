//! `--format` proven against the docker CLI itself: the docker CLI formats client-side from
//! ebrun's Engine API, so for every read command and every template of a catalogue (Docker's
//! documented examples, the defaults, `table` variants, `json`, variables, range, index,
//! methods, functions, errors) `ebrun X` and `docker X` (through `ebrun serve`) must print
//! the same stdout and stderr and exit alike. Times move between the two calls (`Up 2
//! seconds`), so a differing pair is asked again (at most twice) before it counts.
//! Subnets 10.247.61.0/24 (default bridge) and 10.247.62.0/24.

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::{wait_running, Serve};

struct Oracle<'a> {
    inst: &'a Instance,
    docker: DockerCli,
    failures: Vec<String>,
    checked: usize,
}

impl Oracle<'_> {
    fn both(&self, args: &[&str]) -> (String, String) {
        let e = self.inst.run(args);
        let d = self.docker.run(args);
        let show = |o: &std::process::Output| {
            format!(
                "stdout:\n{}stderr:\n{}exit: {:?}\n",
                stdout(o),
                stderr(o)
                    .replace("Error: ", "")
                    .trim_start_matches("ebrun: "),
                o.status.code()
            )
        };
        (show(&e), show(&d))
    }

    fn check(&mut self, args: &[&str]) {
        self.checked += 1;
        for attempt in 0..3 {
            let (e, d) = self.both(args);
            if e == d {
                return;
            }
            if attempt == 2 {
                self.failures
                    .push(format!("{args:?}\n--- ebrun:\n{e}--- docker:\n{d}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

/// Docker's documented `docker ps --format` templates and more.
const PS_FORMATS: &[&str] = &[
    "table",
    "json",
    "{{.ID}}",
    "table {{.ID}}\\t{{.Names}}\\t{{.Status}}",
    "{{.ID}}: {{.Command}}",
    "table {{.ID}}\\t{{.Labels}}",
    "{{.Label \"com.example.vendor\"}}",
    "table {{.Names}}\\t{{.Label \"com.example.vendor\"}}\\t{{.Label \"tier\"}}",
    "{{.Names}}\\t{{.Mounts}}\\t{{.LocalVolumes}}\\t{{.Networks}}",
    "{{.Names}} {{.Ports}} {{.State}} {{.Size}}",
    "{{json .}}",
    "{{json .Names}} {{upper .Names}} {{lower .Image}} {{title .State}}",
    "{{pad .Names 2 3}}|{{truncate .ID 4}}|{{split .Image \":\"}}",
    "{{if eq .State \"running\"}}up{{else}}down{{end}} {{.Names}}",
    "{{$n := .Names}}{{range $i, $p := split .Ports \", \"}}{{$n}}#{{$i}}={{$p}};{{end}}",
    "{{with .Labels}}{{.}}{{else}}none{{end}}",
    "{{printf \"%-10s|%5s\" .Names .State}}",
    "{{.Names}}{{/* a comment */}} {{- \" trimmed\" -}} !",
    "table {{.Names}}\\t{{.Platform}}\\t{{.CreatedAt | len | printf \"%d\"}}",
    "{{.Nope}}",
    "{{nofunc .Names}}",
    "{{.Names",
    "{{.Label}}",
];

/// Formats every list command understands (`network ls`, `volume ls`).
const LS_FORMATS: &[&str] = &[
    "table",
    "json",
    "{{.Name}}\\t{{.Driver}}",
    "table {{.Name}}\\t{{.Driver}}\\t{{.Labels}}\\t{{.Scope}}",
    "{{.Name}}: {{.Label \"team\"}} {{json .}}",
    "{{range $i, $c := split .Name \"\"}}{{if lt $i 3}}{{$c}}{{end}}{{end}}",
    "{{.Nope}}",
];

/// Docker's documented `docker inspect -f` templates and more.
const INSPECT_FORMATS: &[&str] = &[
    "{{.State.Pid}}",
    "{{.Name}} {{.Id}}",
    "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}} {{end}}",
    "{{json .Config.Labels}}",
    "{{index .Config.Labels \"com.example.vendor\"}}",
    "{{index .Config.Labels \"absent\"}}|",
    "{{.Config.Labels.absent}}",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.Gateway}} {{end}}",
    "{{json .Mounts}}",
    "{{.Mounts}}",
    "{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}:{{.RW}} {{end}}",
    "{{.HostConfig.RestartPolicy.Name}} {{json .HostConfig.RestartPolicy}}",
    "{{.HostConfig.RestartPolicy}}",
    "{{.Config.Env}} {{len .Config.Env}}",
    "{{.Config.Entrypoint}} {{json .Config.Entrypoint}}",
    "{{.Config.Cmd}} {{join .Config.Cmd \" \"}}",
    "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}",
    "{{if .State.Running}}running{{else}}stopped{{end}}",
    "{{.HostConfig.PortBindings}}",
    "{{.NetworkSettings.IPAddress}}",
    "{{.Config.Labels}}",
    "{{.LogPath}}",
    "{{.Nope}}",
    "{{.State.Nope.Deeper}}",
    "{{nofunc}}",
    "{{index .Args 7}}",
    "json",
];

#[test]
fn formats_print_what_the_docker_cli_prints() {
    let inst = Instance::with_busybox();
    std::fs::write(
        inst.root().join("daemon.json"),
        r#"{"bip": "10.247.61.1/24"}"#,
    )
    .unwrap();
    let _serve = Serve::start(&inst, &[]);
    inst.ok(&["network", "create", "--subnet", "10.247.62.0/24", "fmtnet"]);
    inst.ok(&["volume", "create", "--label", "team=web", "fmtvol"]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "com.example.vendor=ACME",
        "-l",
        "tier=front",
        "-p",
        "127.0.0.1::80",
        "-v",
        "fmtvol:/data",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    inst.ok(&[
        "run", "-d", "--name", "back", "--net", "fmtnet", "busybox", "sleep", "1d",
    ]);
    let _ = inst.run(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]);
    wait_running(&inst, "web");
    wait_running(&inst, "back");
    let mut oracle = Oracle {
        inst: &inst,
        docker: DockerCli::new(&inst),
        failures: Vec::new(),
        checked: 0,
    };
    for f in PS_FORMATS {
        oracle.check(&["ps", "-a", "--format", f]);
    }
    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["ps", "-q"],
        &["ps", "-a", "--no-trunc"],
        &["ps", "-a", "-s"],
        &["ps", "-n", "2", "--format", "{{.Names}}"],
        &["ps", "-l", "--format", "{{.Names}}"],
        &[
            "ps",
            "-a",
            "-f",
            "status=exited",
            "--format",
            "{{.Names}} {{.Status}}",
        ],
        &["ps", "-q", "--format", "{{.Names}}"],
    ] {
        oracle.check(args);
    }
    for f in INSPECT_FORMATS {
        oracle.check(&["inspect", "-f", f, "web"]);
        oracle.check(&["inspect", "--format", f, "web", "done"]);
    }
    for f in LS_FORMATS {
        oracle.check(&["network", "ls", "--format", f]);
        oracle.check(&["volume", "ls", "--format", f]);
    }
    for args in [
        &["network", "ls"][..],
        &["network", "ls", "-q"],
        &["network", "ls", "--no-trunc"],
        &["volume", "ls"],
        &["volume", "ls", "-q"],
        &[
            "network",
            "ls",
            "--format",
            "{{.ID}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Scope}}",
        ],
        &["network", "ls", "--format", "{{.Name}} {{.CreatedAt}}"],
        &[
            "volume",
            "ls",
            "--format",
            "{{.Links}} {{.Size}} {{.Mountpoint}} {{.Status}}",
        ],
        &[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\\t{{.Label \"team\"}}\\t{{.Group}}",
        ],
    ] {
        oracle.check(args);
    }
    oracle.check(&["inspect", "-f", "{{.Name}}", "web", "nosuch"]);
    oracle.check(&["inspect", "nosuch"]);
    let (checked, failed) = (oracle.checked, oracle.failures.len());
    eprintln!(
        "cli_format: {} passed, {failed} failed of {checked}",
        checked - failed
    );
    assert!(
        oracle.failures.is_empty(),
        "{failed} of {checked} differ from the docker CLI:\n{}",
        oracle.failures.join("\n")
    );
}
