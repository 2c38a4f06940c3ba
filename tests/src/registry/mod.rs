//! A real registry on loopback for a test: Debian's `docker-registry` with its own config
//! and storage in a temporary directory, loaded with the test images by `skopeo`, killed by
//! pid on drop. Plain HTTP: instances list it as insecure in their daemon.json.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::stderr;

/// A docker-registry process of the test's own.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Registry {
    /// Starts a registry; with `user`, it requires htpasswd basic auth.
    pub fn start(user: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("ebrun-registry-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some((u, p)) = user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .expect("htpasswd (apache2-utils)");
            assert!(out.status.success());
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let registry = Registry { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Blob downloads the registry answered so far.
    pub fn blob_gets(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("response completed")
                    && l.contains("GET")
                    && l.contains("/blobs/sha256:")
            })
            .count()
    }

    /// Pushes a test image's OCI layout as `repo:latest`.
    pub fn push(&self, image: &str, repo: &str, creds: Option<&str>) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "-q", "--dest-tls-verify=false"]);
        if let Some(c) = creds {
            cmd.args(["--dest-creds", c]);
        }
        let out = cmd
            .arg(format!(
                "oci:{}:latest",
                common::image_layout(image).display()
            ))
            .arg(format!("docker://{}/{repo}:latest", self.host()))
            .output()
            .expect("skopeo");
        assert!(out.status.success(), "skopeo copy: {}", stderr(&out));
    }

    /// The file holding a blob in the registry's storage.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
