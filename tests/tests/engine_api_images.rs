//! Images through the Engine API, with the real `docker` CLI as a Docker user types it:
//! `images` with filters, `image inspect`, `history`, `tag`, `rmi` (refused for an image a
//! container uses, forced), `image prune` (`-a`), `save` into one instance and `load` into
//! another (the image runs there), `push` to a loopback registry with htpasswd auth and
//! `pull` in another instance, and `login`; and what dockerd answers that the CLI hides
//! (JSON shapes per API version, names with slashes and colons, errors). `ebrun images`
//! must agree with what the API shows: one store.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use sha2::Digest as _;

use ebrun_tests::common::{stderr, stdout, Instance};
use ebrun_tests::docker_cli::DockerCli;
use ebrun_tests::registry::Registry;
use ebrun_tests::serve_support::Serve;

/// `curl` on the instance's API socket: (status, body).
fn curl(docker: &DockerCli, method: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg("--unix-socket")
        .arg(docker.socket())
        .arg(format!("http://localhost{path}"))
        .output()
        .expect("curl");
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The busybox image's layers under a config of its own (other labels, another creation
/// time: another image id), as a `docker save` archive naming it `tag`.
fn derived_image(
    inst: &Instance,
    dir: &Path,
    tag: &str,
    labels: &[(&str, &str)],
    created: &str,
) -> PathBuf {
    let src = dir.join(format!("src-{}.tar", tag.replace([':', '/'], "_")));
    inst.ok(&["save", "-o", src.to_str().unwrap(), "busybox"]);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&src).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.insert(path, bytes);
        }
    }
    let manifest = json_of(std::str::from_utf8(&files["manifest.json"]).unwrap());
    let item = &manifest[0];
    let mut config =
        json_of(std::str::from_utf8(&files[item["Config"].as_str().unwrap()]).unwrap());
    config["created"] = json!(created);
    if !config["config"].is_object() {
        config["config"] = json!({});
    }
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    config["config"]["Labels"] = json!(labels);
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_path = format!(
        "blobs/sha256/{}",
        hex::encode(sha2::Sha256::digest(&config_bytes))
    );
    let layers: Vec<String> = item["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let new_manifest = json!([{"Config": config_path, "RepoTags": [tag], "Layers": layers}]);

    let out = dir.join(format!("{}.tar", tag.replace([':', '/'], "_")));
    let mut builder = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut h, name, bytes).unwrap();
    };
    add("manifest.json", &serde_json::to_vec(&new_manifest).unwrap());
    add(&config_path, &config_bytes);
    for layer in &layers {
        add(layer, &files[layer]);
    }
    builder.into_inner().unwrap();
    out
}

/// Lines of output, for set-like checks.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// The short id (12 hex digits) of `name` as `ebrun` sees it.
fn short_id(inst: &Instance, name: &str) -> String {
    let id = inst.ok(&["image", "inspect", "-f", "{{.Id}}", name]);
    id.trim().trim_start_matches("sha256:")[..12].to_string()
}

#[test]
fn docker_images_inspect_history_tag_and_filters() {
    let inst = Instance::with_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let busybox = short_id(&inst, "busybox");

    let table = docker.ok(&["images"]);
    assert!(table.starts_with("REPOSITORY"), "{table}");
    assert!(table.contains(&busybox), "{table}");
    assert_eq!(
        docker.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]),
        format!("busybox:latest {busybox}\n")
    );

    // An image with labels, newer than busybox, loaded through the API.
    let labeled = derived_image(
        &inst,
        tmp.path(),
        "labeled:1",
        &[("team", "ebrun"), ("tier", "web")],
        "2025-06-01T00:00:00Z",
    );
    let out = docker.ok(&["load", "-i", labeled.to_str().unwrap()]);
    assert!(out.contains("Loaded image: labeled:1"), "{out}");
    let labeled_id = short_id(&inst, "labeled:1");
    assert_ne!(labeled_id, busybox);

    let filtered = |filters: &[&str]| {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        docker.ok(&args)
    };
    assert_eq!(filtered(&["label=team=ebrun"]), "labeled:1\n");
    assert_eq!(filtered(&["label=team", "label=tier=web"]), "labeled:1\n");
    assert_eq!(filtered(&["label=team=other"]), "");
    assert_eq!(filtered(&["reference=label*"]), "labeled:1\n");
    assert_eq!(filtered(&["since=busybox"]), "labeled:1\n");
    assert_eq!(filtered(&["before=labeled:1"]), "busybox:latest\n");
    assert_eq!(
        docker.ok(&["images", "busybox", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    let out = docker.run(&["images", "--filter", "bogus=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid filter 'bogus'"),
        "{}",
        stderr(&out)
    );

    // Inspect: Docker's document, by name, short id and full id.
    let out = docker.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Os}}/{{.Architecture}} {{index .Config.Labels \"team\"}} {{.RootFS.Type}} {{len .RootFS.Layers}} {{.RepoTags}}",
        "labeled:1",
    ]);
    assert!(out.starts_with("linux/"), "{out}");
    assert!(out.ends_with(" ebrun layers 2 [labeled:1]\n"), "{out}");
    let full = docker.ok(&["image", "inspect", "-f", "{{.Id}}", &labeled_id]);
    assert!(
        full.trim().starts_with(&format!("sha256:{labeled_id}")),
        "{full}"
    );
    assert_eq!(
        docker.ok(&["image", "inspect", "-f", "{{.Id}}", full.trim()]),
        full
    );
    let out = docker.run(&["image", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such image: nope:latest"),
        "{}",
        stderr(&out)
    );

    // History: the newest step carries the image id, older ones are <missing>.
    let history = docker.ok(&["history", "busybox"]);
    let rows = lines(&history);
    assert!(rows[0].starts_with("IMAGE"), "{history}");
    assert!(rows[0].contains("CREATED BY"), "{history}");
    assert!(rows[1].starts_with(&busybox), "{history}");
    assert!(
        rows[2..].iter().all(|r| r.starts_with("<missing>")),
        "{history}"
    );
    let sizes = docker.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Size}}",
        "busybox",
    ]);
    assert!(sizes.starts_with(&format!("sha256:{busybox}")), "{sizes}");
    assert!(sizes.contains("MB"), "{sizes}");
    let out = docker.run(&["history", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("No such image"), "{}", stderr(&out));

    // Tag: the new name is in both views; a tag can move to another image.
    docker.ok(&["tag", "busybox", "127.0.0.1:5000/team/bb:v1"]);
    assert_eq!(
        docker.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}}",
            "127.0.0.1:5000/team/bb:v1"
        ]),
        inst.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
    );
    assert!(inst.ok(&["images"]).contains("127.0.0.1:5000/team/bb"));
    let out = docker.run(&["tag", "nope", "x:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such image: nope:latest"),
        "{}",
        stderr(&out)
    );

    // Moving labeled:1 onto busybox leaves the labeled image dangling.
    docker.ok(&["tag", "busybox", "labeled:1"]);
    assert_eq!(
        docker.ok(&[
            "images",
            "--filter",
            "dangling=true",
            "--format",
            "{{.ID}} {{.Repository}}"
        ]),
        format!("{labeled_id} <none>\n")
    );
    let tagged = docker.ok(&[
        "images",
        "--filter",
        "dangling=false",
        "--format",
        "{{.ID}}",
    ]);
    assert!(!tagged.contains(&labeled_id), "{tagged}");

    // Prune: only the dangling image goes (its layers are busybox's: nothing reclaimed).
    let out = docker.ok(&["image", "prune", "-f"]);
    assert!(out.contains("Deleted Images:"), "{out}");
    assert!(
        out.contains(&format!("deleted: sha256:{labeled_id}")),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: 0B"), "{out}");
    assert!(!inst.ok(&["images", "-a", "-q"]).contains(&labeled_id));
    // busybox under its three tags.
    assert_eq!(inst.ok(&["images", "-q"]), format!("{busybox}\n").repeat(3));
    serve.stop();
}

#[test]
fn docker_rmi_and_prune_spare_images_containers_use() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let id = short_id(&inst, "busybox");
    docker.ok(&["run", "-d", "--name", "user", "busybox", "sleep", "300"]);

    let out = docker.run(&["rmi", "busybox"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains(
            "conflict: unable to remove repository reference \"busybox\" (must force) - container"
        ) && stderr(&out).contains(&format!("is using its referenced image {id}")),
        "{}",
        stderr(&out)
    );
    let out = docker.run(&["rmi", &id]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains(&format!(
            "conflict: unable to delete {id} (cannot be forced) - image is being used by running container"
        )),
        "{}",
        stderr(&out)
    );
    // Prune leaves it: a container uses it.
    let out = docker.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    assert_eq!(inst.ok(&["images", "-q"]), format!("{id}\n"));

    // Forced: untagged, and kept (dangling) for its container.
    let out = docker.ok(&["rmi", "-f", "busybox"]);
    assert!(out.starts_with("Untagged: busybox:latest\n"), "{out}");
    assert!(!out.contains("Deleted:"), "{out}");
    assert_eq!(inst.ok(&["images", "-a", "-q"]), format!("{id}\n"));
    assert_eq!(
        docker.ok(&["images", "--filter", "dangling=true", "-q"]),
        format!("{id}\n")
    );

    // Container gone: a tagged unused image survives a plain prune, not `prune -a`.
    docker.ok(&["rm", "-f", "user"]);
    docker.ok(&["tag", &id, "keep:1"]);
    assert_eq!(
        docker.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let out = docker.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: keep:1"), "{out}");
    assert!(out.contains(&format!("deleted: sha256:{id}")), "{out}");
    assert!(!out.contains("Total reclaimed space: 0B"), "{out}");
    assert_eq!(inst.ok(&["images", "-a", "-q"]), "");

    let out = docker.run(&["rmi", "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such image: busybox:latest"),
        "{}",
        stderr(&out)
    );
    serve.stop();
}

#[test]
fn docker_save_then_load_into_another_instance_runs_there() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("images.tar");
    let from = Instance::with_busybox();
    let serve_from = Serve::start(&from, &[]);
    let docker_from = DockerCli::new(&from);
    docker_from.ok(&["tag", "busybox", "team/bb:v1"]);
    docker_from.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "team/bb:v1",
    ]);
    let out = docker_from.run(&[
        "save",
        "-o",
        tmp.path().join("x.tar").to_str().unwrap(),
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No such image: nope"),
        "{}",
        stderr(&out)
    );
    // The archive is Docker's: both names in manifest.json.
    let listing = Command::new("tar")
        .args(["-xOf", archive.to_str().unwrap(), "manifest.json"])
        .output()
        .unwrap();
    let manifest = json_of(&stdout(&listing));
    assert_eq!(
        manifest[0]["RepoTags"],
        json!(["busybox:latest", "team/bb:v1"])
    );
    serve_from.stop();

    let to = Instance::new();
    let serve_to = Serve::start(&to, &[]);
    let docker_to = DockerCli::new(&to);
    let out = docker_to.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        out,
        "Loaded image: busybox:latest\nLoaded image: team/bb:v1\n"
    );
    assert_eq!(
        docker_to.ok(&["run", "--rm", "team/bb:v1", "echo", "loaded"]),
        "loaded\n"
    );
    assert_eq!(
        to.ok(&["image", "inspect", "-f", "{{.Id}}", "team/bb:v1"]),
        from.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
    );
    // Not an archive: Docker's error, nothing loaded.
    let out = docker_to.with_input(&["load"], b"this is not a tar archive\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("not an image"), "{}", stderr(&out));
    let left = lines(&to.ok(&["images", "-q"]));
    assert_eq!(left.len(), 2, "busybox and team/bb: {left:?}");
    assert_eq!(left[0], left[1]);
    // Saved to stdout through the API, loaded back from stdin.
    let piped = docker_to.command(&["save", "team/bb:v1"]).output().unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    docker_to.ok(&["rmi", "busybox", "team/bb:v1"]);
    let out = docker_to.with_input(&["load"], &piped.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "Loaded image: team/bb:v1\n");
    serve_to.stop();
}

/// The docker CLI's base64 (standard alphabet, padded) for its config.json `auth`.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An instance that reaches `registry` over plain HTTP.
fn instance_for(registry: &Registry, busybox: bool) -> Instance {
    let inst = if busybox {
        Instance::with_busybox()
    } else {
        Instance::new()
    };
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"insecure-registries":["{}"]}}"#, registry.host()),
    )
    .unwrap();
    inst
}

/// Gives the client `user:password` for `registry`, as `docker login` would store them.
fn client_credentials(docker: &DockerCli, registry: &Registry, user: &str, password: &str) {
    std::fs::write(
        docker.config_dir().join("config.json"),
        json!({"auths": {registry.host(): {"auth": base64(format!("{user}:{password}").as_bytes())}}})
            .to_string(),
    )
    .unwrap();
}

#[test]
fn docker_push_to_a_registry_then_pull_in_another_instance() {
    let registry = Registry::start(Some(("ebrun", "s3cret")));
    let from = instance_for(&registry, true);
    let serve_from = Serve::start(&from, &[]);
    let docker = DockerCli::new(&from);
    let image = format!("{}/team/pushed", registry.host());
    docker.ok(&["tag", "busybox", &format!("{image}:v1")]);

    // Without credentials the registry refuses.
    let out = docker.run(&["push", &format!("{image}:v1")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("The push refers to repository [{image}]")),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));

    client_credentials(&docker, &registry, "ebrun", "s3cret");
    let out = docker.ok(&["push", &format!("{image}:v1")]);
    assert!(out.contains("Pushed"), "{out}");
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest line: {out}"))
        .to_string();
    assert!(digest.starts_with("sha256:"), "{out}");
    // Pushed again: the registry has every layer.
    let out = docker.ok(&["push", &format!("{image}:v1")]);
    assert!(out.contains("Layer already exists"), "{out}");
    assert!(!out.contains("Pushed"), "{out}");
    // The pushed digest is recorded, as `docker images --digests` shows it.
    assert!(docker
        .ok(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Digest}}"
        ])
        .contains(&format!("{image} {digest}")),);
    let out = docker.run(&["push", &format!("{image}:nope")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("tag does not exist: {image}:nope")),
        "{}",
        stderr(&out)
    );
    serve_from.stop();

    // Another instance pulls what was pushed, and runs it.
    let to = instance_for(&registry, false);
    let serve_to = Serve::start(&to, &[]);
    let docker_to = DockerCli::new(&to);
    client_credentials(&docker_to, &registry, "ebrun", "s3cret");
    let out = docker_to.ok(&["pull", &format!("{image}:v1")]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        docker_to.ok(&["run", "--rm", &format!("{image}:v1"), "echo", "pushed"]),
        "pushed\n"
    );
    assert_eq!(
        to.ok(&["image", "inspect", "-f", "{{.Id}}", &format!("{image}:v1")]),
        from.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
    );
    serve_to.stop();
}

#[test]
fn docker_login_checks_credentials_with_the_registry() {
    let registry = Registry::start(Some(("ebrun", "s3cret")));
    let inst = instance_for(&registry, true);
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);

    let out = docker.with_input(
        &["login", "-u", "ebrun", "--password-stdin", &registry.host()],
        b"wrong\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("401 Unauthorized"),
        "{}",
        stderr(&out)
    );
    let out = docker.with_input(
        &["login", "-u", "ebrun", "--password-stdin", &registry.host()],
        b"s3cret\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("Login Succeeded"), "{}", stdout(&out));
    // The client keeps the credentials and pushes with them.
    let image = format!("{}/team/login:v1", registry.host());
    docker.ok(&["tag", "busybox", &image]);
    assert!(docker.ok(&["push", &image]).contains("v1: digest: sha256:"));
    serve.stop();
}

#[test]
fn image_endpoints_answer_in_dockerds_shapes() {
    let inst = Instance::with_busybox();
    let serve = Serve::start(&inst, &[]);
    let docker = DockerCli::new(&inst);
    let id = inst
        .ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .trim()
        .to_string();

    // Names with a registry, a port and slashes, escaped or not.
    let (code, body) = curl(
        &docker,
        "POST",
        "/v1.50/images/busybox/tag?repo=127.0.0.1:5000/team/bb&tag=v2",
    );
    assert_eq!((code, body.as_str()), (201, ""));
    let (code, body) = curl(
        &docker,
        "GET",
        "/v1.50/images/127.0.0.1:5000/team/bb:v2/json",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json_of(&body)["Id"], json!(id));
    let (code, body) = curl(
        &docker,
        "GET",
        "/v1.50/images/127.0.0.1%3A5000%2Fteam%2Fbb:v2/json",
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl(
        &docker,
        "GET",
        "/v1.50/images/127.0.0.1:5000/team/bb:v2/history",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json_of(&body)[0]["Id"], json!(id));

    // Per version: VirtualSize before 1.44, ContainerConfig before 1.45, <none> before 1.43.
    let (_, body) = curl(&docker, "GET", "/v1.50/images/busybox/json");
    let v = json_of(&body);
    assert!(
        v.get("VirtualSize").is_none() && v.get("ContainerConfig").is_none(),
        "{v}"
    );
    assert_eq!(v["RootFS"]["Type"], json!("layers"));
    let (_, body) = curl(&docker, "GET", "/v1.41/images/busybox/json");
    let v = json_of(&body);
    assert_eq!(v["VirtualSize"], v["Size"]);
    assert!(v.get("ContainerConfig").is_some(), "{v}");
    let (code, body) = curl(&docker, "GET", "/v1.50/images/nope/json");
    assert_eq!(code, 404);
    assert_eq!(
        json_of(&body)["message"],
        json!("No such image: nope:latest")
    );

    // Delete: Docker's items; a dangling image shows as <none> to old clients only.
    let (code, body) = curl(&docker, "DELETE", "/v1.50/images/127.0.0.1:5000/team/bb:v2");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        json_of(&body),
        json!([{"Untagged": "127.0.0.1:5000/team/bb:v2"}])
    );
    let (code, body) = curl(&docker, "DELETE", "/v1.50/images/busybox?force=1");
    assert_eq!(code, 200, "{body}");
    let items = json_of(&body);
    assert_eq!(items[0], json!({"Untagged": "busybox:latest"}));
    assert!(
        items.as_array().unwrap().contains(&json!({"Deleted": id})),
        "{items}"
    );
    inst.ok(&[
        "image",
        "import",
        ebrun_tests::common::image_layout("busybox")
            .to_str()
            .unwrap(),
    ]);
    let (_, body) = curl(&docker, "GET", "/v1.50/images/json");
    let list = json_of(&body);
    assert_eq!(list[0]["RepoTags"], json!([]), "{list}");
    assert!(list[0].get("VirtualSize").is_none(), "{list}");
    let (_, body) = curl(&docker, "GET", "/v1.41/images/json");
    let list = json_of(&body);
    assert_eq!(list[0]["RepoTags"], json!(["<none>:<none>"]), "{list}");
    assert_eq!(list[0]["VirtualSize"], list[0]["Size"]);

    // Prune: Docker's report; a bad filter is a 400.
    let (code, body) = curl(&docker, "POST", "/v1.50/images/prune");
    assert_eq!(code, 200, "{body}");
    let report = json_of(&body);
    assert!(
        report["SpaceReclaimed"].as_u64().unwrap() > 1_000_000,
        "{report}"
    );
    assert!(
        report["ImagesDeleted"]
            .as_array()
            .unwrap()
            .contains(&json!({"Deleted": id})),
        "{report}"
    );
    let (code, body) = curl(&docker, "POST", "/v1.50/images/prune");
    assert_eq!(
        (code, json_of(&body)),
        (200, json!({"ImagesDeleted": null, "SpaceReclaimed": 0}))
    );
    let (code, body) = curl(
        &docker,
        "POST",
        "/v1.50/images/prune?filters=%7B%22reference%22%3A%5B%22x%22%5D%7D",
    );
    assert_eq!(
        (code, json_of(&body)["message"].clone()),
        (400, json!("invalid filter 'reference'"))
    );
    let (code, _) = curl(&docker, "GET", "/v1.50/images/get?names=nope");
    assert_eq!(code, 404);
    assert_eq!(inst.ok(&["images", "-a", "-q"]), "");
    serve.stop();
}
