//! The docker CLI's formatter contexts (`cli/command/formatter`, `cli/command/network`,
//! ...) as [`Row`]s: the same field names, the same values computed from the same Engine
//! API objects, the same column titles. `ebrun X --format T` runs `T` on these rows, as
//! `docker X --format T` runs it on the CLI's contexts built from ebrun's API.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::display::{go_time, human_duration, human_size_precision};
use super::template::Row;

/// `stringid.TruncateID`: the part after a `sha256:`, at most 12 characters.
pub fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, r)| r).unwrap_or(id);
    id.chars().take(12).collect()
}

/// The docker CLI's `formatter.Ellipsis`: at most `max` characters, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    crate::container::ellipsis(s, max)
}

/// go-units `HumanSize` (precision 4), what some of the CLI's columns use.
pub fn human_size4(bytes: f64) -> String {
    human_size_precision(bytes, 4)
}

fn created(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single())
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), s(v))).collect())
        .unwrap_or_default()
}

/// `k=v,k2=v2`, sorted (the CLI's Labels column).
fn joined_labels(labels: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    parts.join(",")
}

/// `reference.FamiliarString` of a normalized name: `docker.io/library/` dropped; with
/// `keep_tag`, a tag kept and a digest dropped.
fn familiar(image: &str) -> Option<String> {
    if image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (name, _digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repo, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    };
    let repo = repo
        .strip_prefix("docker.io/library/")
        .or_else(|| repo.strip_prefix("docker.io/"))
        .unwrap_or(repo);
    Some(match tag {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    })
}

/// Column titles of `docker ps`.
pub const CONTAINER_TITLES: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
];

pub const CONTAINER_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `formatter.ContainerContext` over one `/containers/json` summary.
pub fn container(c: &Value, trunc: bool, now: DateTime<Utc>) -> Row {
    let mut f = Map::new();
    let id = s(&c["Id"]);
    f.insert(
        "ID".into(),
        Value::String(if trunc { truncate_id(&id) } else { id }),
    );
    let mut names: Vec<String> = c["Names"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| s(n).trim_start_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            names = vec![n.clone()];
        }
    }
    f.insert("Names".into(), Value::String(names.join(",")));
    let image = s(&c["Image"]);
    let image = if image.is_empty() {
        "<no image>".to_string()
    } else if trunc {
        let image_id = s(&c["ImageID"]);
        if truncate_id(&image_id) == truncate_id(&image) {
            truncate_id(&image)
        } else {
            familiar(&image).unwrap_or(image)
        }
    } else {
        image
    };
    f.insert("Image".into(), Value::String(image));
    let command = s(&c["Command"]);
    let command = if trunc {
        ellipsis(&command, 20)
    } else {
        command
    };
    f.insert(
        "Command".into(),
        Value::String(super::template::go_quote(&command)),
    );
    let when = created(&c["Created"]).unwrap_or_default();
    f.insert("CreatedAt".into(), Value::String(go_time(when)));
    f.insert(
        "RunningFor".into(),
        Value::String(format!("{} ago", human_duration(now - when))),
    );
    f.insert("Platform".into(), Value::Null);
    f.insert(
        "Ports".into(),
        Value::String(displayable_ports(
            c["Ports"].as_array().map(Vec::as_slice).unwrap_or(&[]),
        )),
    );
    f.insert("State".into(), Value::String(s(&c["State"])));
    f.insert("Status".into(), Value::String(s(&c["Status"])));
    let size_rw = c["SizeRw"].as_f64().unwrap_or(0.0);
    let size_root = c["SizeRootFs"].as_f64().unwrap_or(0.0);
    let mut size = human_size_precision(size_rw, 3);
    if size_root > 0.0 {
        size = format!("{size} (virtual {})", human_size_precision(size_root, 3));
    }
    f.insert("Size".into(), Value::String(size));
    let labels = labels_of(&c["Labels"]);
    f.insert("Labels".into(), Value::String(joined_labels(&labels)));
    let mounts = c["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let name = match s(&m["Name"]) {
                n if n.is_empty() => s(&m["Source"]),
                n => n,
            };
            if trunc {
                ellipsis(&name, 15)
            } else {
                name
            }
        })
        .collect();
    f.insert("Mounts".into(), Value::String(mount_names.join(",")));
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    f.insert("LocalVolumes".into(), Value::String(local.to_string()));
    let networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    f.insert("Networks".into(), Value::String(networks.join(",")));
    Row::new("*formatter.ContainerContext", f).with_labels(labels)
}

/// The CLI's `DisplayablePorts`: published ranges grouped (`0.0.0.0:80-81->80-81/tcp`),
/// unpublished ones as `80/tcp`, sorted as the CLI sorts them.
pub fn displayable_ports(ports: &[Value]) -> String {
    struct Port {
        ip: String,
        private: u16,
        public: u16,
        kind: String,
    }
    let mut ports: Vec<Port> = ports
        .iter()
        .map(|p| Port {
            ip: s(&p["IP"]),
            private: p["PrivatePort"].as_u64().unwrap_or(0) as u16,
            public: p["PublicPort"].as_u64().unwrap_or(0) as u16,
            kind: s(&p["Type"]),
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.kind).cmp(&(b.private, &b.ip, b.public, &b.kind))
    });
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut group_keys: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    let join_host = |ip: &str, port: String| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let form = |key: &str, first: u16, last: u16| {
        let parts: Vec<&str> = key.split('/').collect();
        let (ip, kind) = if parts.len() > 1 {
            (parts[0], parts[1])
        } else {
            ("", parts[0])
        };
        let mut group = first.to_string();
        if first != last {
            group = format!("{group}-{last}");
        }
        if !ip.is_empty() {
            group = format!("{}->{group}", join_host(ip, group.clone()));
        }
        format!("{group}/{kind}")
    };
    for p in &ports {
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host(&p.ip, p.public.to_string()),
                    p.private,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (p.private, p.private));
                group_keys.push(key);
            }
            Some(g) if p.private == g.1.wrapping_add(1) => g.1 = p.private,
            Some(g) => {
                result.push(form(&key, g.0, g.1));
                *g = (p.private, p.private);
            }
        }
    }
    for key in &group_keys {
        let (first, last) = groups[key];
        result.push(form(key, first, last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

/// Go's `time.Time.String()` of an RFC 3339 time: fractional seconds without trailing zeros.
fn go_time_nanos(rfc3339: &str) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(rfc3339) else {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    };
    let t = t.with_timezone(&Utc);
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Column titles of `docker network ls`.
pub const NETWORK_TITLES: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

pub const NETWORK_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// The docker CLI's `networkContext` over one `/networks` summary.
pub fn network(n: &Value, trunc: bool) -> Row {
    let mut f = Map::new();
    let id = s(&n["Id"]);
    f.insert(
        "ID".into(),
        Value::String(if trunc { truncate_id(&id) } else { id }),
    );
    f.insert("Name".into(), Value::String(s(&n["Name"])));
    f.insert("Driver".into(), Value::String(s(&n["Driver"])));
    f.insert("Scope".into(), Value::String(s(&n["Scope"])));
    let flag = |k: &str| Value::String(n[k].as_bool().unwrap_or(false).to_string());
    f.insert("IPv4".into(), flag("EnableIPv4"));
    f.insert("IPv6".into(), flag("EnableIPv6"));
    f.insert("Internal".into(), flag("Internal"));
    let labels = labels_of(&n["Labels"]);
    f.insert("Labels".into(), Value::String(joined_labels(&labels)));
    f.insert(
        "CreatedAt".into(),
        Value::String(go_time_nanos(n["Created"].as_str().unwrap_or_default())),
    );
    Row::new("*network.networkContext", f).with_labels(labels)
}

/// Column titles of `docker volume ls`.
pub const VOLUME_TITLES: &[(&str, &str)] = &[
    ("ID", "ID"),
    ("Name", "VOLUME NAME"),
    ("Group", "GROUP"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Availability", "AVAILABILITY"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Status", "STATUS"),
];

pub const VOLUME_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

/// The docker CLI's `volumeContext` over one `/volumes` entry.
pub fn volume(v: &Value) -> Row {
    let mut f = Map::new();
    for k in ["Name", "Driver", "Scope", "Mountpoint"] {
        f.insert(k.into(), Value::String(s(&v[k])));
    }
    let labels = labels_of(&v["Labels"]);
    f.insert("Labels".into(), Value::String(joined_labels(&labels)));
    let usage = &v["UsageData"];
    f.insert(
        "Links".into(),
        Value::String(match usage["RefCount"].as_i64() {
            Some(n) if usage.is_object() => n.to_string(),
            _ => "N/A".into(),
        }),
    );
    f.insert(
        "Size".into(),
        Value::String(match usage["Size"].as_f64() {
            Some(n) if usage.is_object() => human_size4(n),
            _ => "N/A".into(),
        }),
    );
    for k in ["Group", "Availability", "Status"] {
        f.insert(k.into(), Value::String("N/A".into()));
    }
    Row::new("*formatter.volumeContext", f).with_labels(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_as_the_cli_groups_them() {
        let p = |ip: &str, private: u16, public: u16| json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": "tcp"});
        assert_eq!(
            displayable_ports(&[p("0.0.0.0", 80, 18080)]),
            "0.0.0.0:18080->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[p("0.0.0.0", 80, 80), p("0.0.0.0", 81, 81)]),
            "0.0.0.0:80-81->80-81/tcp"
        );
        assert_eq!(
            displayable_ports(&[p("", 443, 0), p("", 80, 0)]),
            "80/tcp, 443/tcp"
        );
        assert_eq!(displayable_ports(&[p("::", 80, 8080)]), "[::]:8080->80/tcp");
    }

    #[test]
    fn familiar_names() {
        assert_eq!(
            familiar("docker.io/library/busybox:latest").unwrap(),
            "busybox:latest"
        );
        assert_eq!(familiar("busybox").unwrap(), "busybox");
        assert_eq!(
            familiar("localhost:5000/a/b@sha256:00").unwrap(),
            "localhost:5000/a/b"
        );
        assert_eq!(truncate_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
