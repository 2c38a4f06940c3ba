//! `ebrun oci` under a real containerd: Debian's containerd 1.6 and its io.containerd.runc.v2
//! shim exec the runtime binary given to `ctr run --runc-binary`. The harness is proved with
//! the real runc first, so a failure with ebrun is ebrun's.

mod common;
mod oci_support;

use std::path::Path;

use oci_support::{Containerd, RUNC};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn containerd_harness_runs_busybox_with_runc() {
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let out = ctrd.run_with(
        Path::new(RUNC),
        &["--rm", image, "id1", "/bin/sh", "-c", "echo hi; exit 3"],
    );
    assert_eq!(text(&out.stdout), "hi\n", "stderr: {}", text(&out.stderr));
    // ctr run exits with the container's exit code.
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    // --rm removed the task and the container.
    assert_eq!(ctrd.ok(&["containers", "ls", "-q"]), "");

    let footprint = ctrd.footprint();
    drop(ctrd);
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[test]
fn containerd_harness_cleans_up_a_paused_container_and_its_exec() {
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let out = ctrd.run_with(Path::new(RUNC), &["-d", image, "bg", "sleep", "600"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    // An exec left running, and the whole container frozen: Drop must still kill it all.
    let mut exec = ctrd
        .command(&["task", "exec", "--exec-id", "x1"])
        .arg("--fifo-dir")
        .arg(ctrd.fifo_dir())
        .args(["bg", "sleep", "600"])
        // It loses containerd at the drop and says so: not worth printing.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ctr task exec");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ctrd.ok(&["task", "ps", "bg"]).lines().count() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "exec x1 never showed up"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ctrd.ok(&["task", "pause", "bg"]);
    assert!(ctrd.ok(&["task", "ls"]).contains("PAUSED"));
    assert!(ctrd.runtime_root().join("bg/state.json").is_file());

    let footprint = ctrd.footprint();
    let before = footprint.leftovers();
    for what in ["process", "cgroup: ", "dir: "] {
        assert!(
            before.iter().any(|l| l.starts_with(what)),
            "no {what} in {before:#?}"
        );
    }
    drop(ctrd);
    // ctr itself was ours too: it ends once its task is gone.
    let _ = exec.kill();
    let _ = exec.wait();
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}
