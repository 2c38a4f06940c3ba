//! Registry credentials, stored as Docker stores them: `auths.<registry>.auth` =
//! base64(`user:password`) in `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`), written atomically with mode 0600. Other keys of the file are
//! kept as they are.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::client::Credentials;
use super::PullError;
use crate::image::reference::DEFAULT_DOMAIN;

/// The key Docker uses for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The config.json holding credentials.
pub fn config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker/config.json")
}

/// The registry a `login` names: `https://host:port/...` -> `host:port`; Docker Hub's
/// aliases (and none) -> `docker.io`.
pub fn registry_domain(server: Option<&str>) -> String {
    let s = server.filter(|s| !s.is_empty()).unwrap_or(DEFAULT_DOMAIN);
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_DOMAIN.to_string(),
        h => h.to_string(),
    }
}

/// `docker login`'s check of `creds` against the registry `server` names (plain HTTP for the
/// host's insecure registries); returns the registry's domain. Nothing is stored: `ebrun
/// login` stores the credentials afterwards, the Engine API's client keeps its own.
pub fn check_login(
    paths: &crate::Paths,
    server: Option<&str>,
    creds: &Credentials,
) -> Result<String, PullError> {
    let domain = registry_domain(server);
    let insecure =
        super::insecure::is_insecure(&domain, &super::insecure::insecure_registries(paths)?);
    super::client::Registry::new(&domain, "", insecure, Some(creds.clone())).check_login()?;
    Ok(domain)
}

/// The `auths` key of a registry (Docker Hub has its historical URL).
pub fn server_key(domain: &str) -> String {
    match domain {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.into(),
        d => d.to_string(),
    }
}

fn read() -> Result<Map<String, Value>, PullError> {
    let path = config_path();
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(PullError::Config(format!(
                "{}: not a JSON object; fix or remove it",
                path.display()
            ))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(PullError::Io {
            op: "read",
            path,
            source: e,
        }),
    }
}

fn write(doc: &Map<String, Value>) -> Result<PathBuf, PullError> {
    let path = config_path();
    let dir = path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    let io = |op: &'static str, p: &std::path::Path| {
        let p = p.to_path_buf();
        move |source| PullError::Io {
            op,
            path: p,
            source,
        }
    };
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    let text = serde_json::to_string_pretty(doc).expect("serialize config.json");
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    Ok(path)
}

/// The stored credentials for `domain`, if any.
pub fn lookup(domain: &str) -> Result<Option<Credentials>, PullError> {
    let doc = read()?;
    let key = server_key(domain);
    let entry = doc
        .get("auths")
        .and_then(|a| a.get(&key).or_else(|| a.get(format!("https://{key}"))));
    let Some(auth) = entry.and_then(|e| e.get("auth")).and_then(Value::as_str) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            PullError::Config(format!(
                "{}: invalid auth for {key}",
                config_path().display()
            ))
        })?;
    let (username, password) = decoded.split_once(':').ok_or_else(|| {
        PullError::Config(format!(
            "{}: invalid auth for {key}",
            config_path().display()
        ))
    })?;
    Ok(Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    }))
}

/// Stores credentials for `domain`; returns the file written.
pub fn store(domain: &str, c: &Credentials) -> Result<PathBuf, PullError> {
    let mut doc = read()?;
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let raw = format!("{}:{}", c.username, c.password);
    auths.as_object_mut().expect("object").insert(
        server_key(domain),
        serde_json::json!({ "auth": base64::engine::general_purpose::STANDARD.encode(raw) }),
    );
    write(&doc)
}

/// Removes the credentials for `domain`; returns whether there were any.
pub fn erase(domain: &str) -> Result<bool, PullError> {
    let mut doc = read()?;
    let key = server_key(domain);
    let removed = doc
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .is_some_and(|a| a.remove(&key).is_some());
    if removed {
        write(&doc)?;
    }
    Ok(removed)
}
