//! `userns-remap`: which user's subordinate ranges map a container's ids.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::UsernsError;
use crate::Paths;

/// The user dockerd (and ebrun) makes for `"userns-remap": "default"`.
pub const DOCKREMAP: &str = "dockremap";

/// Size of the range given to `dockremap` (as dockerd: 65536 ids).
const DEFAULT_RANGE: u32 = 65536;

/// One subordinate range: host ids `start..start+size` are container ids `0..size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub start: u32,
    pub size: u32,
}

/// A container's uid and gid ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remap {
    pub uid: IdRange,
    pub gid: IdRange,
}

impl Remap {
    /// Host uid:gid of the container's root.
    pub fn root(&self) -> (u32, u32) {
        (self.uid.start, self.gid.start)
    }
}

/// The daemon.json value: `"default"`, `"USER"` or `"USER:GROUP"` (names or numbers).
pub fn parse_setting(value: &str) -> Result<(String, String), UsernsError> {
    let bad = |reason: &str| UsernsError::Setting {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (user, group) = match value.split_once(':') {
        Some((u, g)) => (u, g),
        None => (value, value),
    };
    if user.is_empty() || group.is_empty() {
        return Err(bad("expected \"default\", USER or USER:GROUP"));
    }
    if value == "default" {
        return Ok((DOCKREMAP.to_string(), DOCKREMAP.to_string()));
    }
    Ok((user.to_string(), group.to_string()))
}

/// The first range of `name` (or of the id `number`, as written in the file) in a
/// subordinate id file's text (`name:start:count` lines).
pub fn subordinate_range(text: &str, name: &str, number: Option<u32>) -> Option<IdRange> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, size) = (f.next()?, f.next()?, f.next()?);
        let matches = who == name || number.is_some_and(|n| who == n.to_string());
        matches
            .then(|| {
                Some(IdRange {
                    start: start.parse().ok()?,
                    size: size.parse().ok()?,
                })
            })
            .flatten()
            .filter(|r| r.size > 0)
    })
}

/// The id of `name` in an /etc/passwd or /etc/group text (or `name` itself, if a number).
fn id_of(text: &str, name: &str) -> Option<u32> {
    name.parse().ok().or_else(|| {
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[0] == name)
                .then(|| f[2].parse().ok())
                .flatten()
        })
    })
}

/// The name of id `id` in an /etc/passwd or /etc/group text.
fn name_of(text: &str, id: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
    })
}

fn read(etc: &Path, file: &str) -> String {
    std::fs::read_to_string(etc.join(file)).unwrap_or_default()
}

/// A free range of `DEFAULT_RANGE` ids after every range in `text`, from 100000.
fn free_start(text: &str) -> u32 {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(f.get(1)?.parse::<u32>().ok()? + f.get(2)?.parse::<u32>().ok()?)
        })
        .fold(100_000, u32::max)
}

/// Makes `dockremap` (a system user and group) and gives it a range in subuid/subgid, as
/// dockerd does for `"default"`. Appends to the files in `etc`; what exists is kept.
fn ensure_dockremap(etc: &Path) -> Result<(), UsernsError> {
    let io = |op, path: PathBuf| move |source| UsernsError::Io { op, path, source };
    if id_of(&read(etc, "passwd"), DOCKREMAP).is_none() {
        let status = std::process::Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .args(["--root", "/"])
            .arg(DOCKREMAP)
            .status()
            .map_err(io("run useradd", etc.join("passwd")))?;
        if !status.success() {
            return Err(UsernsError::Setting {
                value: "default".into(),
                reason: format!("useradd {DOCKREMAP} failed ({status})"),
            });
        }
    }
    for file in ["subuid", "subgid"] {
        let path = etc.join(file);
        let text = read(etc, file);
        if subordinate_range(&text, DOCKREMAP, None).is_none() {
            let line = format!("{DOCKREMAP}:{}:{DEFAULT_RANGE}\n", free_start(&text));
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io("open", path.clone()))?;
            std::io::Write::write_all(&mut f, line.as_bytes()).map_err(io("write", path))?;
        }
    }
    Ok(())
}

/// The ranges of `user:group` from the files in `etc`.
pub fn ranges_in(etc: &Path, value: &str) -> Result<Remap, UsernsError> {
    let (user, group) = parse_setting(value)?;
    let bad = |reason: String| UsernsError::Setting {
        value: value.to_string(),
        reason,
    };
    let passwd = read(etc, "passwd");
    let groups = read(etc, "group");
    let uid = id_of(&passwd, &user).ok_or_else(|| bad(format!("no user {user} on this host")))?;
    let gid =
        id_of(&groups, &group).ok_or_else(|| bad(format!("no group {group} on this host")))?;
    // The files may name the user by name or by number.
    let user_name = name_of(&passwd, uid).unwrap_or(user.clone());
    let group_name = name_of(&groups, gid).unwrap_or(group.clone());
    let uid_range =
        subordinate_range(&read(etc, "subuid"), &user_name, Some(uid)).ok_or_else(|| {
            bad(format!(
                "no subordinate uids for {user_name} in /etc/subuid"
            ))
        })?;
    let gid_range =
        subordinate_range(&read(etc, "subgid"), &group_name, Some(gid)).ok_or_else(|| {
            bad(format!(
                "no subordinate gids for {group_name} in /etc/subgid"
            ))
        })?;
    Ok(Remap {
        uid: uid_range,
        gid: gid_range,
    })
}

/// This instance's `userns-remap` (daemon.json), `None` when not set.
pub fn load(paths: &Paths) -> Result<Option<Remap>, UsernsError> {
    let Some(path) = crate::network::daemon_config::config_path(paths) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let Some(value) = doc.get("userns-remap") else {
        return Ok(None);
    };
    let value = value.as_str().ok_or_else(|| UsernsError::Setting {
        value: value.to_string(),
        reason: format!("{}: expected a string", path.display()),
    })?;
    if value.is_empty() {
        return Ok(None);
    }
    let etc = Path::new("/etc");
    if value == "default" {
        ensure_dockremap(etc)?;
    }
    ranges_in(etc, value).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("group"),
            "root:x:0:\napp:x:1000:\nstaff:x:50:\n",
        )
        .unwrap();
        std::fs::write(d.path().join("subuid"), "app:100000:65536\n").unwrap();
        std::fs::write(
            d.path().join("subgid"),
            "1000:300000:65536\nstaff:400000:1000\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn ranges_by_name_or_number() {
        let e = etc();
        let r = ranges_in(e.path(), "app").unwrap();
        assert_eq!(
            (r.uid.start, r.gid.start, r.gid.size),
            (100000, 300000, 65536)
        );
        let r = ranges_in(e.path(), "1000:staff").unwrap();
        assert_eq!(
            (r.uid.start, r.gid.start, r.gid.size),
            (100000, 400000, 1000)
        );
        let err = ranges_in(e.path(), "root").unwrap_err().to_string();
        assert!(err.contains("no subordinate uids for root"), "{err}");
        assert!(ranges_in(e.path(), "nobody")
            .unwrap_err()
            .to_string()
            .contains("no user nobody"));
        assert!(parse_setting(":x").is_err());
        assert_eq!(parse_setting("default").unwrap().0, DOCKREMAP);
    }

    #[test]
    fn a_free_range_follows_the_others() {
        assert_eq!(free_start(""), 100000);
        assert_eq!(free_start("a:100000:65536\nb:300000:10\n"), 300010);
    }
}
