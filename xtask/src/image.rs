//! `cargo xtask image`: the test and demo images, as real OCI image layouts (no registry),
//! under `/var/cache/ebrun/images/` (or `EBRUN_TEST_IMAGES`):
//!
//! - `busybox/`: two layers made here from Debian's busybox-static, exercising whiteouts, an
//!   opaque directory, users, a sticky /tmp and a non-executable script;
//! - `busybox-oci.tar` and `busybox-docker.tar`: the same image as an OCI archive and a
//!   `docker save` archive, written by skopeo (a third-party producer);
//! - `debian-tools/`: Debian bookworm (debootstrap minbase) with stress-ng, iperf3, curl,
//!   iproute2 and procps, in one layer;
//! - `debian-java/`: Debian bookworm (debootstrap minbase) with OpenJDK 17's headless JRE and
//!   python3, in one layer (about 300 MB: an image of its own, so that the tests importing
//!   debian-tools do not pay for it), for the tests of what a JVM sees in a container;
//! - `debian-gcc/`: Debian bookworm (debootstrap minbase) with gcc and the C library's
//!   headers, for the build tests' multi-stage build (a static program copied into scratch).
//!
//! Each is cached: built when absent or incomplete, or with `--force`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::oci::{self, LayoutWriter, PackOptions, DEFAULT_PATH_ENV};
use crate::util::{self, TempDir};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild the images even when they are present.
    #[arg(long)]
    pub force: bool,
    /// Which images to build (default: all).
    #[arg(value_enum)]
    pub images: Vec<Image>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Image {
    /// The busybox layout and its two archives.
    Busybox,
    /// The Debian image with tools.
    DebianTools,
    /// The Debian image with a JRE.
    DebianJava,
    /// The Debian image with gcc.
    DebianGcc,
}

/// The mtime of every entry of the busybox layers and the creation time in its config.
const BUSYBOX_EPOCH: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z

const DEBIAN_SUITE: &str = "bookworm";
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";
const DEBIAN_INCLUDE: &str = "stress-ng,iperf3,curl,ca-certificates,iproute2,procps";
const DEBIAN_JAVA_INCLUDE: &str = "openjdk-17-jre-headless,python3-minimal";
const DEBIAN_GCC_INCLUDE: &str = "gcc,libc6-dev";

/// The files `cargo xtask image` leaves in the images directory.
pub const BUSYBOX_LAYOUT: &str = "busybox";
pub const BUSYBOX_OCI_ARCHIVE: &str = "busybox-oci.tar";
pub const BUSYBOX_DOCKER_ARCHIVE: &str = "busybox-docker.tar";
pub const DEBIAN_TOOLS_LAYOUT: &str = "debian-tools";
pub const DEBIAN_JAVA_LAYOUT: &str = "debian-java";
pub const DEBIAN_GCC_LAYOUT: &str = "debian-gcc";

/// Builds the requested images; returns whether anything was built.
pub fn run(args: Args) -> Result<bool> {
    util::require_root("image")?;
    let dir = util::images_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    util::remove_stale_temp_dirs(&dir, ".tmp-");
    let all = args.images.is_empty();
    let mut built = false;
    if all || args.images.contains(&Image::Busybox) {
        built |= busybox(&dir, args.force)?;
    }
    if all || args.images.contains(&Image::DebianTools) {
        built |= debian_image(&dir, args.force, DEBIAN_TOOLS_LAYOUT, DEBIAN_INCLUDE)?;
    }
    if all || args.images.contains(&Image::DebianJava) {
        built |= debian_image(&dir, args.force, DEBIAN_JAVA_LAYOUT, DEBIAN_JAVA_INCLUDE)?;
    }
    if all || args.images.contains(&Image::DebianGcc) {
        built |= debian_image(&dir, args.force, DEBIAN_GCC_LAYOUT, DEBIAN_GCC_INCLUDE)?;
    }
    Ok(built)
}

/// The images the tests and the demo need, if any is missing or incomplete.
pub fn missing_images() -> Vec<PathBuf> {
    let dir = util::images_dir();
    let mut missing = Vec::new();
    for layout in [
        BUSYBOX_LAYOUT,
        DEBIAN_TOOLS_LAYOUT,
        DEBIAN_JAVA_LAYOUT,
        DEBIAN_GCC_LAYOUT,
    ] {
        if !oci::layout_complete(&dir.join(layout)) {
            missing.push(dir.join(layout));
        }
    }
    for archive in [BUSYBOX_OCI_ARCHIVE, BUSYBOX_DOCKER_ARCHIVE] {
        if !dir.join(archive).is_file() {
            missing.push(dir.join(archive));
        }
    }
    missing
}

/// Fails with a hint to run setup when an image is missing.
pub fn require_images() -> Result<()> {
    let missing = missing_images();
    if !missing.is_empty() {
        bail!(
            "test images missing: {}; run `cargo xtask setup` (or `cargo xtask image`)",
            missing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Moves a finished layout or archive from its temporary name to `dest`, replacing it.
fn install(tmp: &Path, dest: &Path) -> Result<()> {
    if dest.is_dir() {
        util::remove_dir_safely(dest)?;
    } else if dest.exists() {
        std::fs::remove_file(dest).with_context(|| format!("remove {}", dest.display()))?;
    }
    std::fs::rename(tmp, dest)
        .with_context(|| format!("rename {} to {}", tmp.display(), dest.display()))
}

fn busybox(dir: &Path, force: bool) -> Result<bool> {
    let layout = dir.join(BUSYBOX_LAYOUT);
    let archives = [
        (BUSYBOX_OCI_ARCHIVE, "oci-archive"),
        (BUSYBOX_DOCKER_ARCHIVE, "docker-archive"),
    ];
    let mut rebuild_archives = force;
    let mut built = false;
    if !force && oci::layout_complete(&layout) {
        println!("[ok] image busybox (cached at {})", layout.display());
    } else {
        let digest = build_busybox_layout(dir, &layout)?;
        println!(
            "[done] image busybox built at {} (manifest {digest})",
            layout.display()
        );
        rebuild_archives = true;
        built = true;
    }
    for (name, transport) in archives {
        let dest = dir.join(name);
        if !rebuild_archives && dest.is_file() {
            println!("[ok] image {name} (cached at {})", dest.display());
            continue;
        }
        let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let result = util::run(
            Command::new("skopeo")
                .args(["--insecure-policy", "copy", "--quiet"])
                .arg(format!("oci:{}:latest", layout.display()))
                .arg(format!("{transport}:{}:busybox:latest", tmp.display())),
        )
        .and_then(|()| install(&tmp, &dest));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        println!(
            "[done] image {name} written by skopeo at {}",
            dest.display()
        );
        built = true;
    }
    Ok(built)
}

/// Creates a directory with exactly `mode` (no umask) owned by `uid:gid`.
fn mkdir(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

/// Writes a root-owned file with exactly `mode`.
fn write_file(path: &Path, contents: impl AsRef<[u8]>, mode: u32) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))?;
    std::os::unix::fs::chown(path, Some(0), Some(0))
        .with_context(|| format!("chown {}", path.display()))
}

/// Builds the busybox layout into `dest`; returns the manifest's digest.
fn build_busybox_layout(dir: &Path, dest: &Path) -> Result<String> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() {
        bail!("/bin/busybox is missing: install busybox-static (`cargo xtask setup`)");
    }
    let applets = util::output(Command::new(busybox).arg("--list-full"))?;
    let work = TempDir::new_in(dir, ".tmp-")?;
    let created = util::rfc3339(BUSYBOX_EPOCH);

    // Layer 1: the base system.
    let l1 = work.path().join("layer1");
    mkdir(&l1, 0o755, 0, 0)?;
    for d in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "etc/opaque",
        "home",
        "proc",
        "sys",
        "dev",
        "var",
    ] {
        mkdir(&l1.join(d), 0o755, 0, 0)?;
    }
    mkdir(&l1.join("tmp"), 0o1777, 0, 0)?;
    mkdir(&l1.join("root"), 0o700, 0, 0)?;
    mkdir(&l1.join("home/app"), 0o755, 1000, 1000)?;
    write_file(&l1.join("bin/busybox"), std::fs::read(busybox)?, 0o755)?;
    let mut links = 0;
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let rel = Path::new(applet.trim_start_matches('/'));
        if rel == Path::new("bin/busybox") {
            continue;
        }
        let link = l1.join(rel);
        if let Some(parent) = link.parent() {
            if !parent.exists() {
                mkdir(parent, 0o755, 0, 0)?;
            }
        }
        if link.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink("/bin/busybox", &link)
            .with_context(|| format!("symlink {}", link.display()))?;
        links += 1;
    }
    write_file(
        &l1.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
         app:x:1000:1000:app:/home/app:/bin/sh\n",
        0o644,
    )?;
    write_file(
        &l1.join("etc/group"),
        "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n",
        0o644,
    )?;
    write_file(
        &l1.join("etc/deleteme"),
        "this file is deleted by layer 2\n",
        0o644,
    )?;
    write_file(&l1.join("etc/opaque/a"), "a\n", 0o644)?;
    write_file(&l1.join("etc/opaque/b"), "b\n", 0o644)?;
    write_file(&l1.join("notexec.sh"), "#!/bin/sh\necho hi\n", 0o644)?;

    // Layer 2: a whiteout, an opaque directory and a new file.
    let l2 = work.path().join("layer2");
    mkdir(&l2, 0o755, 0, 0)?;
    mkdir(&l2.join("etc"), 0o755, 0, 0)?;
    mkdir(&l2.join("etc/opaque"), 0o755, 0, 0)?;
    write_file(&l2.join("etc/.wh.deleteme"), "", 0o644)?;
    write_file(&l2.join("etc/opaque/.wh..wh..opq"), "", 0o644)?;
    write_file(&l2.join("etc/opaque/c"), "c\n", 0o644)?;
    write_file(&l2.join("hello.txt"), "hello from layer 2\n", 0o644)?;

    let tmp_layout = work.path().join("layout");
    let mut writer = LayoutWriter::new(&tmp_layout)?;
    let opts = PackOptions {
        mtime: Some(BUSYBOX_EPOCH),
        empty_dirs: Vec::new(),
    };
    let layer1 = writer.add_dir_layer(
        &l1,
        &opts,
        &created,
        &format!("cargo xtask image: busybox-static with {links} applet links, users and groups"),
    )?;
    println!(
        "  layer 1: {} entries, {} -> {}",
        layer1.entries, layer1.tar_size, layer1.digest
    );
    let layer2 = writer.add_dir_layer(
        &l2,
        &opts,
        &created,
        "cargo xtask image: whiteout /etc/deleteme, opaque /etc/opaque, add /hello.txt",
    )?;
    println!(
        "  layer 2: {} entries, {} -> {}",
        layer2.entries, layer2.tar_size, layer2.digest
    );
    let digest = writer.finish(
        json!({ "Env": [DEFAULT_PATH_ENV], "Cmd": ["sh"] }),
        &created,
        "latest",
    )?;
    install(&tmp_layout, dest)?;
    Ok(digest)
}

/// A Debian image `name` made by debootstrap (minbase) with the packages `include`.
fn debian_image(dir: &Path, force: bool, name: &str, include: &str) -> Result<bool> {
    let layout = dir.join(name);
    if !force && oci::layout_complete(&layout) {
        println!("[ok] image {name} (cached at {})", layout.display());
        return Ok(false);
    }
    println!("building image {name}: debootstrap {DEBIAN_SUITE} (a minute or two)");
    // Dropped (unmounting what debootstrap left mounted, then removing) also on failure.
    let work = TempDir::new_in(dir, ".tmp-")?;
    let rootfs = work.path().join("rootfs");
    util::run(
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={include}"))
            .arg(DEBIAN_SUITE)
            .arg(&rootfs)
            .arg(DEBIAN_MIRROR),
    )?;
    let leftover = util::mounts_under(&rootfs)?;
    if !leftover.is_empty() {
        bail!("debootstrap left mounts behind: {leftover:?}");
    }
    clean_rootfs(&rootfs)?;

    println!("packing the root filesystem into a layer");
    let created = util::rfc3339(util::now_secs());
    let tmp_layout = work.path().join("layout");
    let mut writer = LayoutWriter::new(&tmp_layout)?;
    let opts = PackOptions {
        mtime: None,
        empty_dirs: ["dev", "proc", "sys"].iter().map(PathBuf::from).collect(),
    };
    let layer = writer.add_dir_layer(
        &rootfs,
        &opts,
        &created,
        &format!(
            "debootstrap --variant=minbase --include={include} {DEBIAN_SUITE} {DEBIAN_MIRROR}"
        ),
    )?;
    println!(
        "  layer: {} entries, {} MB uncompressed, {} MB compressed, {}",
        layer.entries,
        layer.tar_size / 1_000_000,
        layer.size / 1_000_000,
        layer.digest
    );
    let digest = writer.finish(
        json!({ "Env": [DEFAULT_PATH_ENV], "Cmd": ["bash"] }),
        &created,
        "latest",
    )?;
    install(&tmp_layout, &layout)?;
    println!(
        "[done] image {name} built at {} (manifest {digest})",
        layout.display()
    );
    Ok(true)
}

/// Removes what debootstrap leaves that has no place in an image: downloaded packages, apt
/// lists, and the build host's resolv.conf and hostname (a runtime provides its own).
fn clean_rootfs(rootfs: &Path) -> Result<()> {
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = rootfs.join(dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_file() && entry.file_name() != "lock" {
                std::fs::remove_file(&path)
                    .with_context(|| format!("remove {}", path.display()))?;
            }
        }
    }
    for file in ["etc/resolv.conf", "etc/hostname"] {
        let path = rootfs.join(file);
        if path.symlink_metadata().is_ok() {
            std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        }
    }
    Ok(())
}
