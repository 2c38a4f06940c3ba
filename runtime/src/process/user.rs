//! `-u USER[:GROUP]`: names and numbers resolved against the container's own /etc/passwd and
//! /etc/group, as Docker does.

use std::path::Path;

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group, then /etc/group memberships.
    pub groups: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(root: &Path) -> Vec<PasswdEntry> {
    parse_passwd(&std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// (name, gid, members)
fn parse_groups(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4).then(|| {
                let members = f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect();
                Some((f[0].to_string(), f[2].parse().ok()?, members))
            })?
        })
        .collect()
}

/// The home directory of `uid` in the root at `root` (`/` when it has no passwd entry).
pub fn home_of(uid: u32, root: &Path) -> String {
    passwd(root)
        .into_iter()
        .find(|e| e.uid == uid)
        .map(|e| e.home)
        .unwrap_or_else(|| "/".to_string())
}

/// Resolves `spec` ("", "name", "uid", "name:group", "uid:gid") inside the root at `root`.
pub fn resolve(spec: &str, root: &Path) -> Result<UserSpec, String> {
    let read = |name: &str| std::fs::read_to_string(root.join("etc").join(name)).ok();
    resolve_with(spec, read("passwd").as_deref(), read("group").as_deref())
}

/// Resolves `spec` against the text of a passwd and a group file (`None`: absent).
pub fn resolve_with(
    spec: &str,
    passwd_text: Option<&str>,
    group_text: Option<&str>,
) -> Result<UserSpec, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = parse_passwd(passwd_text.unwrap_or(""));
    let user = if user.is_empty() { "0" } else { user };
    let entry = users.iter().find(|e| e.name == user);
    let (uid, mut gid, home, name) = match (entry, user.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.clone(), Some(e.name.clone())),
        (None, Ok(uid)) => match users.iter().find(|e| e.uid == uid) {
            Some(e) => (uid, e.gid, e.home.clone(), Some(e.name.clone())),
            None => (uid, 0, "/".to_string(), None),
        },
        (None, Err(_)) => {
            return Err(format!(
                "unable to find user {user}: no matching entries in passwd file"
            ))
        }
    };
    let all_groups = parse_groups(group_text.unwrap_or(""));
    if let Some(group) = group {
        gid = match all_groups.iter().find(|(n, _, _)| n == group) {
            Some((_, g, _)) => *g,
            None => group.parse().map_err(|_| {
                format!("unable to find group {group}: no matching entries in group file")
            })?,
        };
    }
    // As runc: the primary group first, then the user's memberships in /etc/group.
    let mut supplementary = vec![gid];
    if let (Some(name), None) = (&name, group) {
        for (_, g, members) in &all_groups {
            if members.contains(name) && !supplementary.contains(g) {
                supplementary.push(*g);
            }
        }
    }
    Ok(UserSpec {
        uid,
        gid,
        groups: supplementary,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\naudio:x:29:app\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn resolves_names_numbers_and_groups() {
        let r = root();
        assert_eq!(resolve("", r.path()).unwrap().uid, 0);
        let app = resolve("app", r.path()).unwrap();
        assert_eq!(
            (app.uid, app.gid, app.groups.clone()),
            (1000, 1000, vec![1000, 29])
        );
        assert_eq!(app.home, "/home/app");
        assert_eq!(resolve("1000:29", r.path()).unwrap().gid, 29);
        assert_eq!(resolve("app:audio", r.path()).unwrap().gid, 29);
        let unknown_uid = resolve("4242", r.path()).unwrap();
        assert_eq!((unknown_uid.uid, unknown_uid.gid), (4242, 0));
        assert!(resolve("nobody", r.path())
            .unwrap_err()
            .contains("no matching entries in passwd file"));
        assert!(resolve("app:nogroup", r.path()).is_err());
    }
}
