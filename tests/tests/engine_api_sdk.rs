//! The Python Docker SDK (Debian's python3-docker) on ebrun's Engine API, for the streaming
//! endpoints a CLI run does not show: attach through a hijacked socket, logs followed,
//! events in a time range, a stats stream, and a bad request raised as Docker's APIError.

use std::process::Command;

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::Serve;

const SCRIPT: &str = r#"
import socket, struct, sys, time
import docker

client = docker.DockerClient(base_url=sys.argv[1], version="auto")
api = client.api
t0 = time.time()

# A foreground run returns the output; an exit code other than 0 raises ContainerError.
assert client.containers.run("busybox", ["echo", "hello"], remove=True) == b"hello\n"
try:
    client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
    raise SystemExit("no ContainerError")
except docker.errors.ContainerError as e:
    assert e.exit_status == 3, e

# logs followed to the container's end, stdout and stderr demultiplexed.
c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo l$i; echo e$i >&2; sleep 0.2; done"], detach=True)
out = b"".join(c.logs(stream=True, follow=True, stdout=True, stderr=False))
assert out == b"l1\nl2\nl3\n", out
assert c.wait()["StatusCode"] == 0
c.remove()

# attach through the hijacked socket: what is sent reaches cat, its echo comes back framed.
c = client.containers.create("busybox", "cat", stdin_open=True)
s = c.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
c.start()
raw = s._sock
raw.sendall(b"ping\n")
header = b""
while len(header) < 8:
    header += raw.recv(8 - len(header))
stream, size = struct.unpack(">BxxxL", header)
body = b""
while len(body) < size:
    body += raw.recv(size - len(body))
assert (stream, body) == (1, b"ping\n"), (stream, body)
raw.close()
c.kill()
c.remove(force=True)

# the detach keys end an attachment and leave the container running.
c = client.containers.create("busybox", "cat", stdin_open=True)
c.start()
s = c.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x"})
raw = s._sock
raw.sendall(b"\x18")
raw.settimeout(10)
assert raw.recv(100) == b"", "the attachment did not end"
raw.close()
c.reload()
assert c.status == "running", c.status
c.remove(force=True)

# a stats stream: documents a second apart, with what docker stats computes from.
c = client.containers.run("busybox", ["sleep", "30"], detach=True)
stats = c.stats(stream=True, decode=True)
first, second = next(stats), next(stats)
assert second["cpu_stats"]["system_cpu_usage"] > first["cpu_stats"]["system_cpu_usage"]
assert second["memory_stats"]["usage"] > 0 and second["pids_stats"]["current"] == 1
c.remove(force=True)

# events of the range so far.
actions = [(e["Type"], e["Action"]) for e in client.events(since=int(t0), until=int(time.time()) + 1, decode=True)]
for want in [("container", "create"), ("container", "start"), ("container", "die"), ("container", "destroy")]:
    assert want in actions, (want, actions)

# a bad request: Docker's APIError with its status and message.
try:
    api.create_container("busybox", "true", host_config=api.create_host_config(mem_limit=1024))
    raise SystemExit("no APIError")
except docker.errors.APIError as e:
    assert e.status_code == 400, e
    assert "Minimum memory limit allowed is 6MB" in str(e), e
try:
    client.containers.get("nosuch")
    raise SystemExit("no NotFound")
except docker.errors.NotFound:
    pass
print("sdk ok")
"#;

#[test]
fn the_python_sdk_streams_attach_logs_stats_and_events() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    // Debian's interpreter and SDK (python3-docker), whatever else is first in PATH.
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, &docker.host()])
        .output()
        .expect("python3 with python3-docker");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "sdk ok\n");
    assert_eq!(inst.ok(&["ps", "-aq"]), "");
    serve.stop();
}
