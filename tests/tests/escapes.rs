//! The container escapes runc and Docker shipped, each as a hostile container or image run
//! against ebrun, asserting immunity from outside: a host file untouched, the host binary
//! unchanged, no host directory reachable. Each test names its advisory.

use std::path::{Path, PathBuf};
use std::process::Command;

use ebrun_tests::common;
use ebrun_tests::common::{stderr, stdout};

use common::Instance;

/// An instance with the Debian tools image (perl, util-linux) as `dt`.
fn with_debian() -> Instance {
    let inst = Instance::new();
    inst.ok(&[
        "image",
        "import",
        common::image_layout("debian-tools").to_str().unwrap(),
        "dt",
    ]);
    inst
}

/// A host directory (0755 under /var/tmp) holding a secret file only the host can see.
struct HostSecret {
    dir: tempfile::TempDir,
    secret: String,
}

impl HostSecret {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("ebrun-escape-")
            .tempdir_in("/var/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = format!("host-secret-{}", std::process::id());
        std::fs::write(dir.path().join("secret"), &secret).unwrap();
        HostSecret { dir, secret }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("secret")
    }
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// CVE-2016-9962: a process joining the container for `exec` was visible in the container's
/// PID namespace while still holding the host's root, cwd and open files. A container with
/// CAP_SYS_PTRACE polls /proc/<next pid>/root for the host's secret while the host runs
/// exec after exec; it must never read it.
#[test]
fn cve_2016_9962_exec_is_never_reachable_through_proc() {
    let inst = with_debian();
    let host = HostSecret::new();
    let attacker = format!(
        r#"$s = "{}"; open(O, ">", "/tmp/found"); select O; $| = 1;
        while (1) {{
          open(L, "<", "/proc/sys/kernel/ns_last_pid"); $p = <L>; close L; chomp $p;
          for $q ($p - 2 .. $p + 3) {{
            next if $q == $$ || $q < 2;
            if (open(F, "<", "/proc/$q/root$s")) {{ $x = <F>; print O "ESCAPED root $x\n"; exit 0 }}
            if (opendir(D, "/proc/$q/cwd")) {{ @e = readdir D; do {{ print O "ESCAPED cwd @e\n"; exit 0 }} if grep {{ $_ eq "escapes" || $_ eq "target" }} @e; closedir D }}
          }}
        }}"#,
        host.file().display()
    );
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "--net",
        "none",
        "--cap-add",
        "SYS_PTRACE",
        "dt",
        "perl",
        "-e",
        &attacker,
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..150 {
        // From a directory of the host (the exec's cwd before it enters the container).
        let out = inst
            .command(&["exec", "victim", "true"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let found = inst.ok(&["exec", "victim", "cat", "/tmp/found"]);
    assert_eq!(found, "", "the container reached the host through an exec");
    inst.ok(&["rm", "-f", "victim"]);
}

/// CVE-2019-5736: the container makes an exec run `/proc/self/exe` (directly, or as a
/// script's interpreter), which is the host's ebrun binary, grabs it through /proc/PID/exe
/// and rewrites it once no ebrun runs it any more. The host binary must stay as it was: ebrun
/// runs from a read-only view of itself that cannot be opened for writing
/// (`EBRUN_TEST_UNSEALED=1` turns that off in a debug build: this test then fails).
#[test]
fn cve_2019_5736_the_host_binary_cannot_be_overwritten_from_a_container() {
    let inst = with_debian();
    let host = HostSecret::new();
    // A binary no monitor runs: `exec` is the only ebrun process running it (an upgrade).
    let copy = host.path().join("ebrun-new");
    std::fs::copy(common::ebrun_bin(), &copy).unwrap();
    std::fs::File::open(&copy).unwrap().sync_all().unwrap();
    let before = sha256(&copy);
    let attacker = r#"open(O, ">", "/tmp/found"); select O; $| = 1; my %fh;
        while (1) {
          opendir D, "/proc";
          for $p (grep { /^\d+$/ } readdir D) {
            next if $p == $$ || $fh{$p};
            if (open(my $f, "<", "/proc/$p/exe")) { my @s = stat($f); $fh{$p} = $f if $s[7] > 4000000 }
          }
          closedir D;
          for $f (values %fh) {
            my $n = fileno($f);
            if (open(my $w, "+<", "/proc/self/fd/$n")) { print $w "PWNED"; close $w; print O "ESCAPED\n"; exit 0 }
          }
          select(undef, undef, undef, 0.0005);
        }"#;
    inst.ok(&[
        "run", "-d", "--name", "victim", "--net", "none", "dt", "perl", "-e", attacker,
    ]);
    inst.ok(&[
        "exec",
        "victim",
        "sh",
        "-c",
        "printf '#!/proc/self/exe\\n' > /evil && chmod +x /evil",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let run_copy = |args: &[&str]| {
        let mut cmd = Command::new(&copy);
        cmd.arg("--root").arg(inst.root()).args(args);
        // Held open a while: ebrun run as the container's process reads it (`load`).
        cmd.stdin(std::process::Stdio::piped());
        // ENOEXEC: the container has already rewritten the binary's header.
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("the host's ebrun binary was rewritten: {e}"));
        std::thread::sleep(std::time::Duration::from_millis(400));
        drop(child.stdin.take());
        child.wait().unwrap();
    };
    for _ in 0..3 {
        run_copy(&["exec", "-i", "victim", "/proc/self/exe", "load"]);
        run_copy(&["exec", "-i", "victim", "/evil", "load"]);
    }
    // Nothing runs the copy now: the attacker has had its chance to write.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let found = inst.ok(&["exec", "victim", "cat", "/tmp/found"]);
    inst.ok(&["rm", "-f", "victim"]);
    assert_eq!(
        sha256(&copy),
        before,
        "the host's ebrun binary was rewritten"
    );
    assert_eq!(
        found, "",
        "the container opened the host's binary for writing"
    );
}

/// CVE-2024-21626: a host directory left open in the runtime and reached as the working
/// directory `/proc/self/fd/N`. Neither run nor exec may start a process whose cwd is outside
/// the container's root, and no descriptor of the host reaches the container.
#[test]
fn cve_2024_21626_no_host_descriptor_reaches_the_container() {
    let inst = Instance::with_busybox();
    // Walking up from the cwd must end at the container's own root.
    let probe = "cd ../../../../../../../../../../.. && stat -c %d:%i . / | uniq | wc -l; \
                 ls /proc/$$/fd | tr '\\n' ' '";
    for n in 3..=12 {
        let wd = format!("/proc/self/fd/{n}");
        let out = inst.run(&[
            "run", "--rm", "--net", "none", "-w", &wd, "busybox", "sh", "-c", probe,
        ]);
        if out.status.success() {
            let text = stdout(&out);
            assert!(
                text.starts_with("1\n"),
                "run -w {wd}: cwd outside the root: {text}"
            );
        }
    }
    inst.ok(&[
        "run", "-d", "--name", "cc", "--net", "none", "busybox", "sleep", "60",
    ]);
    for n in 3..=12 {
        let wd = format!("/proc/self/fd/{n}");
        let out = inst.run(&["exec", "-w", &wd, "cc", "sh", "-c", probe]);
        if out.status.success() {
            let text = stdout(&out);
            assert!(
                text.starts_with("1\n"),
                "exec -w {wd}: cwd outside the root: {text}"
            );
        }
    }
    // The container's processes hold only their standard streams.
    let fds = |args: &[&str]| {
        let out = inst.ok(args);
        out.split_whitespace().map(String::from).collect::<Vec<_>>()
    };
    // (`; true`: the shell forks ls rather than becoming it.)
    let list = "ls /proc/$$/fd; true";
    assert_eq!(
        fds(&["run", "--rm", "--net", "none", "busybox", "sh", "-c", list]),
        ["0", "1", "2"]
    );
    assert_eq!(fds(&["exec", "cc", "sh", "-c", list]), ["0", "1", "2"]);
    assert_eq!(fds(&["exec", "cc", "ls", "/proc/1/fd"]), ["0", "1", "2"]);
    inst.ok(&["rm", "-f", "cc"]);
}

/// CVE-2022-29162: processes started with non-empty inheritable capabilities. Every
/// container process, root or not, run or exec, with added capabilities or not, has none.
#[test]
fn cve_2022_29162_no_inheritable_capabilities() {
    let inst = Instance::with_busybox();
    let probe = "grep -E '^Cap(Inh|Amb):' /proc/self/status";
    let none = "CapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n";
    for extra in [
        &[][..],
        &["--cap-add", "ALL"][..],
        &["--user", "1000:1000"][..],
        &["--privileged"][..],
    ] {
        let mut args = vec!["run", "--rm", "--net", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", probe]);
        assert_eq!(inst.ok(&args), none, "run {extra:?}");
    }
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "cc",
        "--net",
        "none",
        "--cap-add",
        "ALL",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(inst.ok(&["exec", "cc", "sh", "-c", probe]), none);
    assert_eq!(
        inst.ok(&["exec", "-u", "1000", "cc", "sh", "-c", probe]),
        none
    );
    inst.ok(&["rm", "-f", "cc"]);
}

/// An image made from busybox's files plus `extra` entries (symlinks and files placed in a
/// staging directory by the closure), imported as `name`.
fn hostile_image(inst: &Instance, name: &str, extra: impl FnOnce(&Path)) {
    let work = tempfile::tempdir_in(inst.root()).unwrap();
    let tarball = work.path().join("rootfs.tar");
    inst.ok(&[
        "run",
        "--name",
        "base-export",
        "--net",
        "none",
        "busybox",
        "true",
    ]);
    inst.ok(&["export", "-o", tarball.to_str().unwrap(), "base-export"]);
    inst.ok(&["rm", "base-export"]);
    let stage = work.path().join("stage");
    std::fs::create_dir(&stage).unwrap();
    extra(&stage);
    let names: Vec<String> = std::fs::read_dir(&stage)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // The busybox rootfs has the same top-level names (proc, dev): delete them first.
    let out = Command::new("tar")
        .arg("--delete")
        .arg("-f")
        .arg(&tarball)
        .args(&names)
        .output()
        .unwrap();
    let _ = out; // names absent from the archive are fine
    let out = Command::new("tar")
        .arg("-C")
        .arg(&stage)
        .arg("-rf")
        .arg(&tarball)
        .args(&names)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    inst.ok(&["import", tarball.to_str().unwrap(), name]);
}

/// CVE-2019-19921, CVE-2023-27561 (a volume's mount point is a symlink out of the root or
/// into /proc): the image's symlinks are followed inside the container's root. A bind lands
/// where the container sees the link point, and never on a host path.
#[test]
fn cve_2019_19921_volume_targets_are_resolved_inside_the_root() {
    let inst = Instance::with_busybox();
    let host = HostSecret::new();
    let target = host.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let abs = target.to_str().unwrap().to_string();
    hostile_image(&inst, "evil", |stage| {
        std::os::unix::fs::symlink(&abs, stage.join("abs")).unwrap();
        std::os::unix::fs::symlink(format!("../../../../../../..{abs}"), stage.join("rel"))
            .unwrap();
        std::os::unix::fs::symlink("/proc/sys/kernel", stage.join("sys")).unwrap();
    });
    let src = host.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for link in ["/abs", "/rel"] {
        let vol = format!("{}:{link}", src.display());
        let out = inst.run(&[
            "run",
            "--rm",
            "--net",
            "none",
            "-v",
            &vol,
            "evil",
            "sh",
            "-c",
            "echo written > $0/f && cat $0/f",
            link,
        ]);
        if out.status.success() {
            assert_eq!(stdout(&out), "written\n");
            assert_eq!(
                std::fs::read_to_string(src.join("f")).unwrap(),
                "written\n",
                "{link}: the bind is not where the container's link points"
            );
            std::fs::remove_file(src.join("f")).unwrap();
        }
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            0,
            "{link}: a host directory was written"
        );
    }
    // Into /proc: refused, or the container's own /proc/sys/kernel stays read-only.
    let vol = format!("{}:/sys/x", src.display());
    let out = inst.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "-v",
        &vol,
        "evil",
        "sh",
        "-c",
        "echo '|/bin/false' > /proc/sys/kernel/core_pattern && echo WROTE",
    ]);
    assert!(!stdout(&out).contains("WROTE"), "{}", stdout(&out));
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        "|/bin/false\n"
    );
}

/// CVE-2019-16884, CVE-2023-28642: an image whose /proc (or /dev) is a symlink, so that the
/// runtime's procfs, masks and read-only paths would land elsewhere. The container's /proc
/// stays masked and read-only where it is looked at.
#[test]
fn cve_2023_28642_a_proc_symlink_in_the_image_does_not_unmask_proc() {
    let inst = Instance::with_busybox();
    let host = HostSecret::new();
    let abs = host.path().to_str().unwrap().to_string();
    hostile_image(&inst, "evil", |stage| {
        std::os::unix::fs::symlink(format!("{abs}/p"), stage.join("proc")).unwrap();
        std::fs::create_dir(stage.join("elsewhere")).unwrap();
    });
    let probe = "head -c 100 /proc/timer_list | wc -c; \
                 echo h > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ; \
                 echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo SYSCTL; true";
    let out = inst.run(&["run", "--rm", "--net", "none", "evil", "sh", "-c", probe]);
    if out.status.success() {
        assert_eq!(stdout(&out), "0\n", "{}", stderr(&out));
    }
    assert!(!host.path().join("p").exists(), "the host was written");
}

/// Docker's archive traversal (CVE-2014-6407, CVE-2014-6408 and later): a layer or `load`
/// tar whose entries (`../`, absolute names, through a symlink or a hard link) point outside
/// the root. Nothing may land on the host, whatever the command's verdict.
#[test]
fn cve_2014_6407_hostile_tars_stay_inside_the_root() {
    let inst = Instance::new();
    let host = HostSecret::new();
    let target = host.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let abs = target.to_str().unwrap().to_string();
    let work = tempfile::tempdir_in(inst.root()).unwrap();

    let entry = |b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, link: &str| {
        let mut h = tar::Header::new_old();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_mtime(1);
        let data = b"pwned\n";
        h.set_size(if kind == tar::EntryType::Regular {
            data.len() as u64
        } else {
            0
        });
        // Raw names: tar::Builder refuses `..`, an attacker's tool does not.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if !link.is_empty() {
            let l = &mut h.as_old_mut().linkname;
            l[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(
            &h,
            &data[..if kind == tar::EntryType::Regular {
                6
            } else {
                0
            }],
        )
        .unwrap();
    };
    let hostile_layer = |variant: u8| -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        match variant {
            0 => entry(
                &mut b,
                &format!("../../../../../../../..{abs}/dotdot"),
                tar::EntryType::Regular,
                "",
            ),
            1 => entry(
                &mut b,
                &format!("{abs}/absolute"),
                tar::EntryType::Regular,
                "",
            ),
            2 => {
                entry(&mut b, "link", tar::EntryType::Symlink, &abs);
                entry(&mut b, "link/through-symlink", tar::EntryType::Regular, "");
            }
            3 => {
                entry(
                    &mut b,
                    "up",
                    tar::EntryType::Symlink,
                    "../../../../../../../..",
                );
                entry(
                    &mut b,
                    &format!("up{abs}/through-relative"),
                    tar::EntryType::Regular,
                    "",
                );
            }
            4 => {
                entry(
                    &mut b,
                    "secret-link",
                    tar::EntryType::Link,
                    host.file().to_str().unwrap(),
                );
            }
            _ => {
                entry(&mut b, "d", tar::EntryType::Symlink, &abs);
                entry(&mut b, "d", tar::EntryType::Directory, "");
                entry(&mut b, "d/over-dir", tar::EntryType::Regular, "");
            }
        }
        b.into_inner().unwrap()
    };
    for variant in 0..6u8 {
        // As a root filesystem import.
        let layer = work.path().join(format!("layer{variant}.tar"));
        std::fs::write(&layer, hostile_layer(variant)).unwrap();
        let name = format!("evil{variant}");
        let _ = inst.run(&["import", layer.to_str().unwrap(), &name]);
        // As a layer of a `docker save` archive given to `load`.
        let archive = docker_archive(&hostile_layer(variant));
        let path = work.path().join(format!("load{variant}.tar"));
        std::fs::write(&path, archive).unwrap();
        let _ = inst.run(&["load", "-i", path.to_str().unwrap()]);
        // A hard link to a host file must not become the host file.
        if variant == 4 {
            let out = inst.run(&["run", "--rm", "--net", "none", &name, "true"]);
            let _ = out;
        }
        let left: Vec<_> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "variant {variant} wrote {left:?} on the host"
        );
        assert_eq!(std::fs::read_to_string(host.file()).unwrap(), host.secret);
        assert_eq!(
            std::fs::metadata(host.file())
                .map(|m| std::os::unix::fs::MetadataExt::nlink(&m))
                .unwrap(),
            1,
            "variant {variant} linked the host file into the store"
        );
    }
}

/// A `docker save` archive of one image whose only layer is `layer`.
fn docker_archive(layer: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let layer_id = hex::encode(sha2::Sha256::digest(layer));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_id}")]},
    })
    .to_string();
    let config_id = hex::encode(sha2::Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": format!("{config_id}.json"),
        "RepoTags": ["evil-load:latest"],
        "Layers": [format!("{layer_id}/layer.tar")],
    }])
    .to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    add(&format!("{config_id}.json"), config.as_bytes());
    add(&format!("{layer_id}/layer.tar"), layer);
    add("manifest.json", manifest.as_bytes());
    b.into_inner().unwrap()
}

/// CVE-2018-15664: `cp` racing a container that swaps a directory for a symlink to `/`.
/// Whatever the race's outcome, the copy reads and writes inside the container only.
#[test]
fn cve_2018_15664_cp_racing_a_symlink_swap_stays_in_the_container() {
    let inst = with_debian();
    let host = HostSecret::new();
    let abs = host.path().to_str().unwrap().to_string();
    // /w/dir flips between a real directory (with a decoy) and a symlink to the host path.
    let swapper = format!(
        "mkdir -p /w/real {abs} && echo decoy > /w/real/secret && ln -s {abs} /w/link && \
         while :; do mv -T /w/real /w/dir; mv -T /w/dir /w/real; \
         mv -T /w/link /w/dir; mv -T /w/dir /w/link; done"
    );
    inst.ok(&[
        "run", "-d", "--name", "racer", "--net", "none", "dt", "sh", "-c", &swapper,
    ]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out_dir = tempfile::tempdir_in(inst.root()).unwrap();
    let upload = out_dir.path().join("upload");
    std::fs::write(&upload, "from-cp\n").unwrap();
    for i in 0..40 {
        let dest = out_dir.path().join(format!("got{i}"));
        let _ = inst.run(&["cp", "racer:/w/dir/secret", dest.to_str().unwrap()]);
        if let Ok(text) = std::fs::read_to_string(&dest) {
            assert_ne!(text, host.secret, "cp read the host's file");
        }
        let _ = inst.run(&["cp", upload.to_str().unwrap(), "racer:/w/dir/upload"]);
    }
    inst.ok(&["rm", "-f", "racer"]);
    assert!(!host.path().join("upload").exists(), "cp wrote on the host");
    assert_eq!(std::fs::read_to_string(host.file()).unwrap(), host.secret);
}

/// CVE-2019-14271: `docker cp`'s helper loaded the container's libnss into a host process.
/// ebrun's copy helper must open no shared library once it is inside the container.
#[test]
fn cve_2019_14271_cp_loads_no_library_of_the_container() {
    let inst = with_debian();
    inst.ok(&[
        "run", "-d", "--name", "cc", "--net", "none", "dt", "sleep", "60",
    ]);
    // An nsswitch.conf naming a module of the container's: loading it would run its code.
    inst.ok(&[
        "exec",
        "cc",
        "sh",
        "-c",
        "printf 'passwd: evil\\ngroup: evil\\nhosts: evil\\n' > /etc/nsswitch.conf && \
         cp /bin/true /lib/x86_64-linux-gnu/libnss_evil.so.2 && \
         mkdir -p /data && echo x > /data/f && chown 1234:4321 /data/f",
    ]);
    let work = tempfile::tempdir_in(inst.root()).unwrap();
    let trace = work.path().join("trace");
    let dest = work.path().join("out");
    let out = Command::new("strace")
        .arg("-f")
        .arg("-e")
        .arg("trace=openat,open")
        .arg("-o")
        .arg(&trace)
        .arg(common::ebrun_bin())
        .arg("--root")
        .arg(inst.root())
        .args(["cp", "-a", "cc:/data", dest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let src = work.path().join("in");
    std::fs::write(&src, "y").unwrap();
    let out = Command::new("strace")
        .arg("-f")
        .arg("-e")
        .arg("trace=openat,open")
        .arg("-o")
        .arg(work.path().join("trace2"))
        .arg(common::ebrun_bin())
        .arg("--root")
        .arg(inst.root())
        .args(["cp", "-a", src.to_str().unwrap(), "cc:/data/in"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    inst.ok(&["rm", "-f", "cc"]);
    for file in [trace, work.path().join("trace2")] {
        let text = std::fs::read_to_string(&file).unwrap();
        let nss: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("libnss") || l.contains("nsswitch"))
            .collect();
        assert!(
            nss.is_empty(),
            "cp read the container's name services: {nss:?}"
        );
    }
}

/// CVE-2021-21284, CVE-2021-41091: state directories an unprivileged host user could walk
/// into (a container's root with a setuid binary, a volume's data). ebrun's root is 0700 or
/// 0701 whoever created it, and nothing under it is reachable to another user.
#[test]
fn cve_2021_41091_state_is_unreachable_to_unprivileged_host_users() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::Builder::new()
        .prefix("ebrun-perms-")
        .tempdir_in("/var/tmp")
        .unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _lock = common::host_lock(false);
    let root = parent.path().join("root");
    let ebrun = |args: &[&str]| {
        let out = Command::new(common::ebrun_bin())
            .arg("--root")
            .arg(&root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    ebrun(&[
        "image",
        "import",
        common::image_layout("busybox").to_str().unwrap(),
        "busybox",
    ]);
    let id = ebrun(&[
        "run", "-d", "--net", "none", "-v", "vol:/data", "busybox", "sh", "-c",
        "cp /bin/busybox /data/suid && chmod 4755 /data/suid /bin/busybox && echo s > /data/x && sleep 60",
    ]);
    let id = id.trim().to_string();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
    let probe = format!(
        "cd {r} 2>/dev/null && ls >/dev/null 2>&1 && echo LISTED; \
         for p in containers containers/{id} containers/{id}/merged/bin/busybox \
                  volumes volumes/vol/_data/x volumes/vol/_data/suid; do \
           test -e {r}/$p && echo REACHED $p; done; \
         find {r} -perm -4000 2>/dev/null | sed 's/^/SETUID /'; \
         ls /run/{prefix} >/dev/null 2>&1 && echo RUNLISTED; true",
        r = root.display(),
        prefix = ebrun(&["system", "prefix"]).trim()
    );
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "sh",
            "-c",
            &probe,
        ])
        .output()
        .unwrap();
    ebrun(&["rm", "-f", &id]);
    let _ = Command::new(common::ebrun_bin())
        .arg("--root")
        .arg(&root)
        .args(["system", "teardown"])
        .output();
    assert!(mode == 0o700 || mode == 0o701, "root is {mode:o}");
    assert_eq!(stdout(&out), "", "an unprivileged user reached the state");
}
