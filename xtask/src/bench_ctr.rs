//! `ctr run --rm` of the busybox image through a containerd of the bench's own and its runc
//! shim, with ebrun-oci as the runtime binary against runc (what a Kubernetes node would see
//! per container), measured in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use ebrun_tests::containerd::{Containerd, RUNC};

use super::{ms, stats};

/// Measures both runtimes; the verdict: ebrun at most as slow as runc.
pub fn run(ebrun: &Path, ebrun_root: &Path, runs: usize, warmup: usize) -> Result<()> {
    let work = crate::util::TempDir::new_in(Path::new("/var/tmp"), "ebrun-bench-ctr-")?;
    // The shim runs the binary it is given: ebrun's meters go into the bench's own root.
    let wrapper = work.path().join("ebrun-oci");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nEBRUN_ROOT='{}' exec '{}' oci \"$@\"\n",
            ebrun_root.display(),
            ebrun.display()
        ),
    )?;
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let mut medians = Vec::new();
    println!();
    println!(
        "{:<28} {:>6} {:>11} {:>11}",
        "ctr run --rm busybox true", "runs", "median", "p90"
    );
    for (name, runtime) in [("ebrun-oci", wrapper.as_path()), ("runc", Path::new(RUNC))] {
        let mut samples: Vec<Duration> = Vec::new();
        for i in 0..warmup + runs {
            let id = format!("bench-{name}-{i}");
            let started = Instant::now();
            let out = ctrd.run_with(runtime, &["--rm", image, &id, "true"]);
            let took = started.elapsed();
            if !out.status.success() {
                bail!(
                    "ctr run with {name} failed: {}{}",
                    String::from_utf8_lossy(&out.stderr),
                    ctrd.log()
                );
            }
            if i >= warmup {
                samples.push(took);
            }
        }
        let s = stats(&samples);
        println!(
            "{:<28} {:>6} {:>11} {:>11}",
            name,
            runs,
            ms(s.median),
            ms(s.p90)
        );
        medians.push(s.median.as_secs_f64());
    }
    let ratio = medians[0] / medians[1];
    println!(
        "ctr run --rm: ebrun-oci / runc = {ratio:.2}x  target <= 1x  {}",
        if ratio <= 1.0 { "PASS" } else { "FAIL" }
    );
    Ok(())
}
