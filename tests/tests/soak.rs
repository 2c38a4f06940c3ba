//! Soak: many `run --rm` cycles with networking, published ports and volumes; the host must
//! be exactly as before. The normal test run does a short soak (EBRUN_SOAK_CYCLES, default
//! 20); `cargo xtask soak` does 1000 and reports the cycle rate.

use ebrun_tests::common;

use std::time::Instant;

use common::snapshot::HostSnapshot;
use common::Instance;

#[test]
fn run_rm_cycles_leave_the_host_exactly_as_before() {
    let cycles: usize = std::env::var("EBRUN_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let before_instance = HostSnapshot::take();
    let inst = Instance::exclusive();
    inst.ok(&[
        "image",
        "import",
        common::image_layout("busybox").to_str().unwrap(),
        "busybox:latest",
    ]);
    inst.ok(&["volume", "create", "soakvol"]);
    // The instance's lifetime objects come up with the first container.
    inst.ok(&["run", "--rm", "-p", "127.0.0.1::80", "busybox", "true"]);
    let before = HostSnapshot::take();
    let started = Instant::now();
    for i in 0..cycles {
        let script = format!("echo {i} > /data/n; echo {i} > /anon/n; cat /data/n");
        let out = inst.ok(&[
            "run",
            "--rm",
            "-p",
            "127.0.0.1::8080",
            "-p",
            "127.0.0.1::9090/udp",
            "-v",
            "soakvol:/data",
            "-v",
            "/anon",
            "busybox",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(out.trim(), i.to_string());
    }
    let elapsed = started.elapsed();
    eprintln!(
        "soak: {cycles} cycles in {:.1} s = {:.1} cycles/s",
        elapsed.as_secs_f64(),
        cycles as f64 / elapsed.as_secs_f64()
    );
    let diff = HostSnapshot::settled_diff(&before, 10);
    assert!(
        diff.is_empty(),
        "after {cycles} cycles the host changed:\n{}",
        diff.join("\n")
    );
    assert_eq!(inst.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(
        inst.ok(&["volume", "ls", "-q"]).trim(),
        "soakvol",
        "anonymous volumes left"
    );
    inst.ok(&["volume", "rm", "soakvol"]);
    drop(inst);
    // Teardown takes the instance's own objects too: back to the host before it.
    let diff = HostSnapshot::settled_diff(&before_instance, 10);
    let leftovers: Vec<&String> = diff.iter().filter(|l| l.contains("ebrun")).collect();
    assert!(leftovers.is_empty(), "teardown left:\n{leftovers:?}");
}
