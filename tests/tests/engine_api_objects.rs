//! The Engine API's `/networks` and `/volumes`, driven by the real `docker` CLI (and curl for
//! status codes and malformed requests): what docker makes, `ebrun network|volume` sees, and
//! the reverse; bridges appear and go on the host; errors have Docker's shape. Each test has
//! its own instance, daemon.json and subnets (10.241-10.243).

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::serve_support::{wait_running, Serve};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The instance's Engine API socket.
fn socket_of(inst: &Instance) -> PathBuf {
    PathBuf::from("/run")
        .join(inst.prefix())
        .join("docker.sock")
}

/// The docker CLI against one instance, with a client configuration of its own.
struct Docker {
    socket: PathBuf,
    config: tempfile::TempDir,
}

impl Docker {
    fn new(inst: &Instance) -> Docker {
        Docker {
            socket: socket_of(inst),
            config: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", self.config.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the docker CLI")
    }

    /// Asserts success; stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Asserts exit code 1 with `wanted` in stderr (Docker's "Error response from daemon").
    fn fails(&self, args: &[&str], wanted: &str) {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "docker {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(wanted),
            "docker {args:?}: {:?} not in {}",
            wanted,
            stderr(&out)
        );
    }

    /// One raw request: (status, body as JSON, or the text as a JSON string).
    fn curl(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        curl(&self.socket, method, path, body)
    }
}

fn curl(socket: &Path, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", method, "--unix-socket"])
        .arg(socket);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = cmd
        .arg(format!("http://localhost{path}"))
        .output()
        .expect("run curl");
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n').expect("curl's status line");
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into()));
    (code.parse().expect("a status code"), json)
}

/// An instance with busybox and a default bridge subnet of its own.
fn instance(bip: &str) -> Instance {
    let inst = Instance::with_busybox();
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"bip": "{bip}"}}"#),
    )
    .unwrap();
    inst
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .unwrap()
        .status
        .success()
}

/// Every network event of the instance so far: (action, network name, container).
fn network_events(inst: &Instance) -> Vec<(String, String, String)> {
    let until = format!(
        "{:.3}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    );
    inst.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--format",
        "json",
        "-f",
        "type=network",
    ])
    .lines()
    .map(|l| {
        let e: serde_json::Value = serde_json::from_str(l).unwrap();
        let attr = |k: &str| {
            e["Actor"]["Attributes"][k]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        (
            e["Action"].as_str().unwrap().to_string(),
            attr("name"),
            attr("container"),
        )
    })
    .collect()
}

#[test]
fn docker_network_commands_work_on_ebruns_networks() {
    let inst = instance("10.241.0.1/24");
    let _serve = Serve::start(&inst, &[]);
    let docker = Docker::new(&inst);

    // docker makes a network: ebrun sees it, with its subnet, gateway and labels.
    let id = docker
        .ok(&[
            "network",
            "create",
            "--subnet",
            "10.241.1.0/24",
            "--gateway",
            "10.241.1.1",
            "--label",
            "team=a",
            "--label",
            "env=test",
            "api41",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(
        inst.ok(&["network", "inspect", "-f", "{{.Id}}", "api41"])
            .trim(),
        id
    );
    assert!(inst.ok(&["network", "ls"]).contains("api41"));
    assert_eq!(
        docker.ok(&[
            "network", "inspect", "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.team}} {{.Scope}} {{.Driver}} {{.Internal}} {{.EnableIPv6}}",
            "api41",
        ]),
        "10.241.1.0/24 10.241.1.1 a local bridge false false\n"
    );
    // Options are the ones given (none), as dockerd shows them; the bridge is named as
    // dockerd names it.
    assert_eq!(
        docker.ok(&["network", "inspect", "-f", "{{len .Options}}", "api41"]),
        "0\n"
    );
    let bridge = format!("br-{}", &id[..12]);
    assert!(link_exists(&bridge), "no bridge {bridge}");

    // ebrun makes one (with an explicit bridge name): docker sees it.
    let web_bridge = format!("ebt41-{}", std::process::id() % 100_000);
    inst.ok(&[
        "network",
        "create",
        "--subnet",
        "10.241.2.0/24",
        "--label",
        "made=ebrun",
        "-o",
        &format!("com.docker.network.bridge.name={web_bridge}"),
        "web41",
    ]);
    assert!(link_exists(&web_bridge));
    let web_id = inst.ok(&["network", "inspect", "-f", "{{.Id}}", "web41"]);
    assert_eq!(
        docker.ok(&["network", "ls", "-q", "--filter", "label=made=ebrun"]),
        format!("{}\n", &web_id[..12])
    );
    assert_eq!(
        docker.ok(&[
            "network",
            "ls",
            "--filter",
            "label=team=a",
            "--format",
            "{{.Name}}"
        ]),
        "api41\n"
    );
    assert_eq!(
        docker.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "api41\nbridge\nhost\nnone\nweb41\n"
    );
    assert_eq!(
        docker.ok(&[
            "network",
            "ls",
            "--filter",
            "type=custom",
            "--format",
            "{{.Name}}"
        ]),
        "api41\nweb41\n"
    );
    assert_eq!(
        docker.ok(&[
            "network",
            "ls",
            "--filter",
            "name=^web",
            "--format",
            "{{.Name}}"
        ]),
        "web41\n"
    );

    // A container ebrun runs on the network is among its containers.
    inst.ok(&[
        "run", "-d", "--name", "c41", "--net", "api41", "busybox", "sleep", "300",
    ]);
    let cid = wait_running(&inst, "c41");
    let containers = r#"{{range $id, $c := .Containers}}{{$id}} {{$c.Name}} {{$c.IPv4Address}} {{$c.MacAddress}} {{len $c.EndpointID}};{{end}}"#;
    assert_eq!(
        docker.ok(&["network", "inspect", "-f", containers, "api41"]),
        format!("{cid} c41 10.241.1.2/24 02:42:0a:f1:01:02 64;\n")
    );
    assert_eq!(
        docker.ok(&[
            "network",
            "ls",
            "--filter",
            "dangling=true",
            "--format",
            "{{.Name}}"
        ]),
        "web41\n"
    );

    // connect and disconnect through docker, seen inside the container and by ebrun.
    docker.ok(&[
        "network",
        "connect",
        "--ip",
        "10.241.2.50",
        "--alias",
        "webby",
        "web41",
        "c41",
    ]);
    assert_eq!(
        docker
            .ok(&["network", "inspect", "-f", containers, "web41"])
            .split(' ')
            .nth(2),
        Some("10.241.2.50/24")
    );
    let addrs = inst.ok(&["exec", "c41", "ip", "-4", "addr"]);
    assert!(addrs.contains("inet 10.241.2.50/24"), "{addrs}");
    let attached = inst.inspect("c41")["NetworkSettings"]["Networks"].clone();
    assert_eq!(attached["web41"]["IPAddress"], "10.241.2.50", "{attached}");
    docker.fails(
        &["network", "connect", "web41", "c41"],
        "endpoint with name c41 already exists in network web41",
    );

    // A network in use is not removed (dockerd's 403 and words).
    docker.fails(
        &["network", "rm", "web41"],
        "error while removing network: network web41 has active endpoints (name:\"c41\"",
    );
    let (status, body) = docker.curl("DELETE", "/v1.50/networks/api41", None);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("error while removing network: network api41 has active endpoints"),
        "{body}"
    );

    docker.ok(&["network", "disconnect", "web41", "c41"]);
    assert_eq!(
        docker.ok(&["network", "inspect", "-f", containers, "web41"]),
        "\n"
    );
    let addrs = inst.ok(&["exec", "c41", "ip", "-4", "addr"]);
    assert!(!addrs.contains("10.241.2.50"), "{addrs}");
    docker.fails(
        &["network", "disconnect", "web41", "c41"],
        "is not connected to network web41",
    );
    docker.ok(&["network", "disconnect", "--force", "web41", "c41"]);
    docker.fails(
        &["network", "connect", "web41", "ghost41"],
        "No such container: ghost41",
    );

    // rm: the network and its bridge go.
    inst.ok(&["rm", "-f", "c41"]);
    assert_eq!(docker.ok(&["network", "rm", "api41"]), "api41\n");
    assert!(!link_exists(&bridge), "bridge {bridge} left");
    assert!(!inst.ok(&["network", "ls"]).contains("api41"));

    // prune: by label, then the rest; the pre-defined networks stay.
    docker.ok(&[
        "network",
        "create",
        "--subnet",
        "10.241.3.0/24",
        "--label",
        "keep=yes",
        "kept41",
    ]);
    assert_eq!(
        docker.ok(&["network", "prune", "-f", "--filter", "label!=keep=yes"]),
        "Deleted Networks:\nweb41\n\n"
    );
    assert!(!link_exists(&web_bridge));
    assert_eq!(
        docker.ok(&[
            "network",
            "prune",
            "-f",
            "--filter",
            "until=2000-01-01T00:00:00Z"
        ]),
        ""
    );
    assert_eq!(
        docker.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nkept41\n\n"
    );
    assert_eq!(
        docker.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nnone\n"
    );

    // The library emitted what Docker emits, whoever asked.
    let events = network_events(&inst);
    for wanted in [
        ("create", "api41", ""),
        ("create", "web41", ""),
        ("connect", "web41", cid.as_str()),
        ("disconnect", "web41", cid.as_str()),
        ("destroy", "api41", ""),
        ("destroy", "web41", ""),
        ("destroy", "kept41", ""),
    ] {
        assert!(
            events
                .iter()
                .any(|(a, n, c)| (a.as_str(), n.as_str(), c.as_str()) == wanted),
            "{wanted:?} not in {events:?}"
        );
    }
}

#[test]
fn bad_network_requests_get_dockers_errors() {
    let inst = instance("10.242.0.1/24");
    let _serve = Serve::start(&inst, &[]);
    let docker = Docker::new(&inst);

    docker.fails(
        &["network", "create", "--subnet", "10.242.300.0/24", "bad42"],
        "invalid subnet 10.242.300.0/24: invalid CIDR block notation",
    );
    docker.fails(
        &["network", "create", "--subnet", "10.242.1.7/24", "bad42"],
        "invalid subnet 10.242.1.7/24: it should be 10.242.1.0/24",
    );
    docker.fails(
        &["network", "create", "-d", "nosuchdriver", "bad42"],
        "plugin \"nosuchdriver\" not found",
    );
    docker.fails(
        &["network", "create", "bridge"],
        "operation is not permitted on predefined bridge network",
    );
    docker.fails(
        &["network", "rm", "host"],
        "host is a pre-defined network and cannot be removed",
    );
    docker.fails(
        &["network", "inspect", "ghost42"],
        "network ghost42 not found",
    );
    docker.fails(&["network", "rm", "ghost42"], "network ghost42 not found");
    docker.fails(
        &["network", "ls", "--filter", "type=weird"],
        "invalid filter: 'type'='weird'",
    );
    docker.fails(
        &["network", "ls", "--filter", "colour=red"],
        "invalid filter 'colour'",
    );
    // Nothing was made by the refused requests.
    assert_eq!(
        inst.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nnone\n"
    );

    // A name taken: dockerd's 409.
    docker.ok(&["network", "create", "--subnet", "10.242.1.0/24", "dup42"]);
    docker.fails(
        &["network", "create", "--subnet", "10.242.2.0/24", "dup42"],
        "network with name dup42 already exists",
    );
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/create",
        Some(r#"{"Name":"dup42","Driver":"bridge"}"#),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "network with name dup42 already exists");

    // Status codes and Docker's {"message"} for what the CLI never sends.
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/create",
        Some(r#"{"Name":"x42","Driver":"weird"}"#),
    );
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("plugin \"weird\" not found"))
    );
    let (status, body) = docker.curl("POST", "/v1.50/networks/create", Some(r#"{"Name": 5}"#));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Name"), "{body}");
    let (status, body) = docker.curl("POST", "/v1.50/networks/create", Some("{nope"));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].is_string(), "{body}");
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/create",
        Some(r#"{"Name":"x42","IPAM":{"Config":[{"Subnet":"10.242.5.0/24","IPRange":"10.242.6.0/25"}]}}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("doesn't contain ip-range"),
        "{body}"
    );
    // (the docker CLI checks a gateway against its subnet itself)
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/create",
        Some(r#"{"Name":"x42","IPAM":{"Config":[{"Subnet":"10.242.5.0/24","Gateway":"10.242.9.1"}]}}"#),
    );
    assert_eq!(
        (status, body["message"].as_str()),
        (
            400,
            Some("invalid network config:\ninvalid gateway 10.242.9.1: parent subnet 10.242.5.0/24 doesn't contain this address")
        )
    );
    let (status, body) = docker.curl(
        "GET",
        "/v1.50/networks?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("invalid filter 'bogus'"))
    );
    let (status, _) = docker.curl("GET", "/v1.50/networks/dup42?scope=swarm", None);
    assert_eq!(status, 404);
    let (status, body) = docker.curl("GET", "/v1.50/networks/dup42?verbose=maybe", None);
    assert_eq!(status, 400, "{body}");
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/dup42/connect",
        Some(r#"{"Container":"ghost42"}"#),
    );
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("No such container: ghost42"))
    );
    let (status, body) = docker.curl("POST", "/v1.50/networks/dup42/bogus", Some("{}"));
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("page not found"))
    );
    // A request with a body: 201 and the id, the network usable by ebrun.
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/networks/create",
        Some(r#"{"Name":"raw42","Internal":true,"Attachable":true,"Labels":{"k":"v"},"IPAM":{"Driver":"default","Config":[{"Subnet":"10.242.3.0/24","IPRange":"10.242.3.128/25","Gateway":"10.242.3.1"}]},"Options":{"com.docker.network.driver.mtu":"1400"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["Warning"], "");
    let id = body["Id"].as_str().unwrap().to_string();
    assert_eq!(
        inst.ok(&[
            "network", "inspect", "-f",
            "{{.Id}} {{.Internal}} {{.Attachable}} {{.Labels.k}} {{range .IPAM.Config}}{{.IPRange}}{{end}}",
            "raw42",
        ]),
        format!("{id} true true v 10.242.3.128/25\n")
    );
    let (status, body) = docker.curl("GET", &format!("/v1.50/networks/{}", &id[..10]), None);
    assert_eq!((status, body["Name"].as_str()), (200, Some("raw42")));
    let (status, body) = docker.curl("DELETE", "/v1.50/networks/raw42", None);
    assert_eq!(status, 204, "{body}");
    let (status, body) = docker.curl("POST", "/v1.50/networks/prune", None);
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"NetworksDeleted": ["dup42"]}));
    let (status, body) = docker.curl("POST", "/v1.50/networks/prune", None);
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"NetworksDeleted": null}))
    );
}

#[test]
fn docker_volume_commands_work_on_ebruns_volumes() {
    let inst = instance("10.243.0.1/24");
    let _serve = Serve::start(&inst, &[]);
    let docker = Docker::new(&inst);

    // Made by docker, seen by ebrun; made by ebrun, seen by docker.
    assert_eq!(
        docker.ok(&["volume", "create", "--label", "x=y", "v43"]),
        "v43\n"
    );
    assert_eq!(inst.ok(&["volume", "ls", "-q"]), "v43\n");
    inst.ok(&[
        "volume", "create", "--label", "x=y", "--label", "by=ebrun", "e43",
    ]);
    let mut named = docker.ok(&[
        "volume",
        "ls",
        "--filter",
        "label=x=y",
        "--format",
        "{{.Name}}",
    ]);
    let mut lines: Vec<&str> = named.lines().collect();
    lines.sort();
    assert_eq!(lines, ["e43", "v43"]);
    named = docker.ok(&["volume", "ls", "-q", "--filter", "label=by=ebrun"]);
    assert_eq!(named, "e43\n");
    assert_eq!(
        docker.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels.x}}",
            "v43",
        ]),
        format!(
            "v43 local local {} y\n",
            inst.root().join("volumes/v43/_data").display()
        )
    );
    // docker's create of an existing volume gives it back.
    assert_eq!(docker.ok(&["volume", "create", "v43"]), "v43\n");
    // An unnamed volume is anonymous, as dockerd makes it.
    let anon = docker.ok(&["volume", "create"]).trim().to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    assert!(docker
        .ok(&["volume", "inspect", "-f", "{{json .Labels}}", &anon])
        .contains("com.docker.volume.anonymous"),);

    // In use by a container (running or not): not removed, not dangling.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "u43",
        "-v",
        "v43:/data",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_running(&inst, "u43");
    docker.fails(&["volume", "rm", "v43"], "remove v43: volume is in use - [");
    let (status, body) = docker.curl("DELETE", "/v1.50/volumes/v43?force=1", None);
    assert_eq!(status, 409, "{body}");
    let mut dangling: Vec<String> = docker
        .ok(&["volume", "ls", "-q", "--filter", "dangling=true"])
        .lines()
        .map(str::to_string)
        .collect();
    dangling.sort();
    let mut expected = vec![anon.clone(), "e43".to_string()];
    expected.sort();
    assert_eq!(dangling, expected);

    // prune: anonymous volumes only (API >= 1.42), then --all; used ones stay.
    let out = docker.ok(&["volume", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Volumes:\n{anon}\n")),
        "{out}"
    );
    let out = docker.ok(&["volume", "prune", "-f", "--all", "--filter", "label!=keep"]);
    assert!(out.starts_with("Deleted Volumes:\ne43\n"), "{out}");
    assert_eq!(inst.ok(&["volume", "ls", "-q"]), "v43\n");

    // An older client's prune removes named volumes too, as dockerd did.
    inst.ok(&["volume", "create", "old43"]);
    let (status, body) = docker.curl("POST", "/v1.41/volumes/prune", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["VolumesDeleted"], serde_json::json!(["old43"]));

    inst.ok(&["rm", "-f", "u43"]);
    assert_eq!(docker.ok(&["volume", "rm", "v43"]), "v43\n");
    assert_eq!(inst.ok(&["volume", "ls", "-q"]), "");
    // -f: a missing volume is no error (dockerd's 204).
    assert_eq!(docker.ok(&["volume", "rm", "-f", "ghost43"]), "ghost43\n");

    // Errors with Docker's words and codes.
    docker.fails(
        &["volume", "inspect", "ghost43"],
        "get ghost43: no such volume",
    );
    docker.fails(&["volume", "rm", "ghost43"], "get ghost43: no such volume");
    docker.fails(
        &["volume", "create", "-d", "nfs", "n43"],
        "plugin \"nfs\" not found",
    );
    docker.fails(
        &["volume", "create", "-o", "type=tmpfs", "n43"],
        "takes no options",
    );
    docker.fails(
        &["volume", "create", "bad/43"],
        "includes invalid characters",
    );
    docker.fails(
        &["volume", "ls", "--filter", "dangling=maybe"],
        "invalid filter 'dangling=[maybe]'",
    );
    docker.fails(
        &["volume", "ls", "--filter", "colour=red"],
        "invalid filter 'colour'",
    );
    let (status, body) = docker.curl("POST", "/v1.50/volumes/create", Some(r#"{"Labels":"x"}"#));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("Labels"),
        "{body}"
    );
    let (status, body) = docker.curl("GET", "/v1.50/volumes/ghost43", None);
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("get ghost43: no such volume"))
    );
    let (status, body) = docker.curl(
        "POST",
        "/v1.50/volumes/create",
        Some(r#"{"Name":"raw43","Labels":{"k":"v"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["Name"].as_str(), body["Labels"]["k"].as_str()),
        (Some("raw43"), Some("v"))
    );
    let (status, body) = docker.curl("GET", "/v1.50/volumes", None);
    assert_eq!(status, 200);
    assert_eq!(body["Volumes"][0]["Name"], "raw43", "{body}");
    assert!(
        body["Warnings"].as_array().is_some_and(|w| w.is_empty()),
        "{body}"
    );
    let (status, _) = docker.curl("DELETE", "/v1.50/volumes/raw43", None);
    assert_eq!(status, 204);
    assert_eq!(inst.ok(&["volume", "ls", "-q"]), "");
}
