//! `docker cp` both ways and `docker export` through the Engine API, by the real docker CLI,
//! and `ebrun cp` / `ebrun export` on ebrun's own command line: files, directories (modes,
//! symlinks kept as links), a created container filled before its start, the whole
//! filesystem exported, and symlinks inside the container (`/tmp/evil -> /`,
//! `/tmp/host -> /etc`) that must never make ebrun read or write a host file, running or
//! stopped. No mount is left behind.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::serve_support::Serve;

/// The members of a tar stream (`tar -t`).
fn tar_list(tar: &[u8]) -> Vec<String> {
    tar_run(&["-t", "-f", "-"], tar)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The content of the one member of a tar stream (`tar -xO`).
fn tar_content(tar: &[u8]) -> String {
    tar_run(&["-x", "-O", "-f", "-"], tar)
}

fn tar_run(args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("tar")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let mut stdin = child.stdin.take().expect("tar's stdin");
    stdin.write_all(input).expect("feed tar");
    drop(stdin);
    let out = child.wait_with_output().expect("tar");
    assert!(out.status.success(), "tar {args:?}: {out:?}");
    stdout(&out)
}

/// No mount of the helper (nor anything under the instance) is visible on the host.
fn assert_no_mounts_left(inst: &Instance) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let root = inst.root().display().to_string();
    let left: Vec<&str> = info
        .lines()
        .filter(|l| l.contains("/archive-") || (l.contains(&root) && l.contains("overlay")))
        .collect();
    assert!(left.is_empty(), "mounts left behind: {left:#?}");
}

/// A name no host path has.
fn unique(tag: &str) -> String {
    format!("ebrun-cp-{tag}-{}", std::process::id())
}

#[test]
fn docker_cp_copies_files_and_directories_both_ways() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&["run", "-d", "--name", "cpfiles", "busybox", "sleep", "1000"]);

    // Host file into a directory of the container.
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("greeting.txt");
    std::fs::write(&file, "hello from the host\n").unwrap();
    docker.ok(&["cp", file.to_str().unwrap(), "cpfiles:/tmp/"]);
    assert_eq!(
        docker.ok(&["exec", "cpfiles", "cat", "/tmp/greeting.txt"]),
        "hello from the host\n"
    );
    // ... and under a new name.
    docker.ok(&["cp", file.to_str().unwrap(), "cpfiles:/tmp/renamed"]);
    assert_eq!(
        docker.ok(&["exec", "cpfiles", "cat", "/tmp/renamed"]),
        "hello from the host\n"
    );

    // A file out of the container as a tar on stdout.
    let out = docker.run(&["cp", "cpfiles:/etc/hostname", "-"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tar_list(&out.stdout), vec!["hostname"]);
    assert_eq!(
        tar_content(&out.stdout),
        docker.ok(&["exec", "cpfiles", "cat", "/etc/hostname"])
    );

    // A directory: recursion, modes, symlinks kept as links.
    docker.ok(&[
        "exec",
        "cpfiles",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo inside > /data/sub/f && chmod 750 /data/sub \
         && chmod 604 /data/sub/f && ln -s ../data/sub/f /data/rel && ln -s /etc/passwd /data/abs",
    ]);
    let dest = host.path().join("out");
    docker.ok(&["cp", "cpfiles:/data", dest.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(dest.join("sub/f")).unwrap(),
        "inside\n"
    );
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dest.join("sub")), 0o750);
    assert_eq!(mode(&dest.join("sub/f")), 0o604);
    assert_eq!(
        std::fs::read_link(dest.join("rel")).unwrap(),
        Path::new("../data/sub/f")
    );
    assert_eq!(
        std::fs::read_link(dest.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );

    // A directory of the host into the container.
    docker.ok(&["cp", dest.to_str().unwrap(), "cpfiles:/copied"]);
    assert_eq!(
        docker.ok(&["exec", "cpfiles", "cat", "/copied/sub/f"]),
        "inside\n"
    );
    assert_eq!(
        docker
            .ok(&["exec", "cpfiles", "readlink", "/copied/abs"])
            .trim(),
        "/etc/passwd"
    );

    // Docker's errors.
    let out = docker.run(&["cp", "cpfiles:/nope", "-"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Could not find the file /nope in container cpfiles"),
        "{out:?}"
    );
    let out = docker.run(&["cp", "nosuch:/etc/hostname", "-"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("No such container"), "{out:?}");

    docker.ok(&["rm", "-f", "cpfiles"]);
    assert_no_mounts_left(&inst);
}

#[test]
fn docker_cp_into_a_created_container_before_its_start() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&[
        "create",
        "--name",
        "cpcreated",
        "busybox",
        "cat",
        "/config",
        "/tmp/dir/inner",
    ]);
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("config");
    std::fs::write(&file, "configured before start\n").unwrap();
    docker.ok(&["cp", file.to_str().unwrap(), "cpcreated:/config"]);
    let dir = host.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inner"), "and a directory\n").unwrap();
    docker.ok(&["cp", dir.to_str().unwrap(), "cpcreated:/tmp/"]);
    // Readable before the start too.
    let out = docker.run(&["cp", "cpcreated:/config", "-"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tar_content(&out.stdout), "configured before start\n");
    assert_no_mounts_left(&inst);

    let out = docker.run(&["start", "-a", "cpcreated"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "configured before start\nand a directory\n");
    docker.ok(&["rm", "-f", "cpcreated"]);
    assert_no_mounts_left(&inst);
}

#[test]
fn docker_export_streams_the_whole_filesystem() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "cpexport",
        "busybox",
        "sh",
        "-c",
        "echo changed > /exported-change; sleep 1000",
    ]);
    // The container's change is in once its command has run.
    for _ in 0..50 {
        if docker
            .run(&["exec", "cpexport", "test", "-f", "/exported-change"])
            .status
            .success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = docker.run(&["export", "cpexport"]);
    assert!(out.status.success(), "{:?}", stderr(&out));
    let names = tar_list(&out.stdout);
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "exported-change"), "{names:?}");
    // The mounts of the running container are not in it.
    assert!(
        !names.iter().any(|n| n.starts_with("proc/") && n.len() > 5),
        "{names:?}"
    );
    docker.ok(&["rm", "-f", "cpexport"]);
    assert_no_mounts_left(&inst);
}

#[test]
fn symlinks_in_the_container_never_reach_the_host() {
    let inst = Instance::with_busybox();
    let _serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    docker.ok(&["run", "-d", "--name", "cpevil", "busybox", "sleep", "1000"]);
    docker.ok(&[
        "exec",
        "cpevil",
        "sh",
        "-c",
        "ln -s / /tmp/evil && ln -s /etc /tmp/host && ln -s ../../../../../.. /tmp/up",
    ]);
    let container_passwd = docker.ok(&["exec", "cpevil", "cat", "/etc/passwd"]);
    assert_ne!(
        container_passwd,
        std::fs::read_to_string("/etc/passwd").unwrap(),
        "the test needs the container's passwd to differ from the host's"
    );
    let host = tempfile::tempdir().unwrap();

    for round in ["running", "stopped"] {
        // Reads through the links give the container's files.
        for path in ["cpevil:/tmp/host/passwd", "cpevil:/tmp/up/etc/passwd"] {
            let out = docker.run(&["cp", path, "-"]);
            assert!(out.status.success(), "{round} {path}: {out:?}");
            assert_eq!(tar_content(&out.stdout), container_passwd, "{round} {path}");
        }

        // Writes through the links land in the container.
        let name = unique(round);
        let file = host.path().join(&name);
        std::fs::write(&file, round).unwrap();
        docker.ok(&["cp", file.to_str().unwrap(), "cpevil:/tmp/evil/"]);
        assert!(
            !Path::new("/").join(&name).exists(),
            "{round}: docker cp wrote to the host's /"
        );
        let up = format!("{name}-up");
        std::fs::write(host.path().join(&up), round).unwrap();
        docker.ok(&[
            "cp",
            host.path().join(&up).to_str().unwrap(),
            "cpevil:/tmp/up/",
        ]);
        assert!(!Path::new("/").join(&up).exists(), "{round}: wrote to /");

        // A tar whose entries go through the links: refused, nothing on the host.
        let tar_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", tar_dir.path().join("host")).unwrap();
        let tar = Command::new("tar")
            .args(["-c", "-f", "-", "-C"])
            .arg(tar_dir.path())
            .arg("host")
            .output()
            .unwrap();
        assert!(tar.status.success());
        let out = docker.with_input(&["cp", "-", "cpevil:/tmp"], &tar.stdout);
        let _ = out; // replacing the link with a link is allowed; nothing escapes:
        assert!(!Path::new(&format!("/etc/{name}")).exists());

        if round == "running" {
            let seen = docker.ok(&["exec", "cpevil", "cat", &format!("/{name}")]);
            assert_eq!(seen, round);
            docker.ok(&["stop", "-t", "0", "cpevil"]);
        } else {
            // The stopped container's writes show once it runs again.
            docker.ok(&["start", "cpevil"]);
            let seen = docker.ok(&["exec", "cpevil", "cat", &format!("/{name}")]);
            assert_eq!(seen, round);
            assert_eq!(
                docker.ok(&["exec", "cpevil", "cat", &format!("/{up}")]),
                round
            );
        }
    }
    docker.ok(&["rm", "-f", "cpevil"]);
    assert_no_mounts_left(&inst);
}

#[test]
fn ebrun_cp_and_export_on_the_command_line() {
    let inst = Instance::with_busybox();
    inst.ok(&["run", "-d", "--name", "clicp", "busybox", "sleep", "1000"]);
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("note");
    std::fs::write(&file, "from the cli\n").unwrap();
    inst.ok(&["cp", file.to_str().unwrap(), "clicp:/tmp/"]);
    assert_eq!(
        inst.ok(&["exec", "clicp", "cat", "/tmp/note"]),
        "from the cli\n"
    );
    let out = inst.run(&["cp", "clicp:/tmp/note", "-"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tar_content(&out.stdout), "from the cli\n");
    let back = host.path().join("back");
    inst.ok(&["cp", "clicp:/tmp/note", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the cli\n");

    let out = inst.run(&["cp", "clicp:/nope", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Could not find the file /nope in container clicp"),
        "{out:?}"
    );

    let archive = host.path().join("fs.tar");
    inst.ok(&["export", "-o", archive.to_str().unwrap(), "clicp"]);
    let names = tar_list(&std::fs::read(&archive).unwrap());
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "tmp/note"), "{names:?}");

    // Stopped: still readable and writable.
    inst.ok(&["stop", "-t", "0", "clicp"]);
    inst.ok(&["cp", file.to_str().unwrap(), "clicp:/tmp/again"]);
    let out = inst.run(&["cp", "clicp:/tmp/again", "-"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tar_content(&out.stdout), "from the cli\n");
    inst.ok(&["rm", "-f", "clicp"]);
    assert_no_mounts_left(&inst);
}
