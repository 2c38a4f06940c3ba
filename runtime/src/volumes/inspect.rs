//! Docker's JSON shapes: `docker volume inspect` and the `Mounts` of `docker inspect`.

use serde_json::{json, Map, Value};

use super::spec::{Mount, MountType};
use super::store::{VolumeRecord, VolumeStore};

/// One element of `docker volume inspect`.
pub fn volume_json(store: &VolumeStore, v: &VolumeRecord) -> Value {
    let mut labels: Map<String, Value> = v
        .labels
        .iter()
        .map(|(k, val)| (k.clone(), Value::String(val.clone())))
        .collect();
    if v.anonymous {
        labels.insert(
            "com.docker.volume.anonymous".into(),
            Value::String(String::new()),
        );
    }
    json!({
        "CreatedAt": v.created_at,
        "Driver": "local",
        "Labels": if labels.is_empty() { Value::Null } else { Value::Object(labels) },
        "Mountpoint": store.data_dir(&v.name),
        "Name": v.name,
        "Options": Value::Null,
        "Scope": "local",
    })
}

/// One element of a container's `Mounts`, in Docker's field order: Type, Name, Source,
/// Destination, Driver, Mode, RW, Propagation (Name and Driver only for volumes).
pub fn mount_json(m: &Mount) -> Value {
    let mut o = Map::new();
    o.insert("Type".into(), json!(m.kind.as_str()));
    if let Some(name) = &m.name {
        o.insert("Name".into(), json!(name));
    }
    o.insert("Source".into(), json!(m.source));
    o.insert("Destination".into(), json!(m.destination));
    if m.kind == MountType::Volume {
        o.insert("Driver".into(), json!("local"));
    }
    o.insert("Mode".into(), json!(m.mode));
    o.insert("RW".into(), json!(!m.read_only));
    o.insert(
        "Propagation".into(),
        json!(m.propagation.map(|p| p.as_str()).unwrap_or("")),
    );
    Value::Object(o)
}

/// A container's `Mounts` (what `--tmpfs` made is listed under `HostConfig.Tmpfs` instead).
pub fn mounts_json(mounts: &[Mount]) -> Value {
    Value::Array(
        mounts
            .iter()
            .filter(|m| !m.tmpfs_flag)
            .map(mount_json)
            .collect(),
    )
}

/// `HostConfig.Tmpfs`: destination -> options, for `--tmpfs` mounts.
pub fn tmpfs_json(mounts: &[Mount]) -> Value {
    let map: Map<String, Value> = mounts
        .iter()
        .filter(|m| m.tmpfs_flag)
        .map(|m| {
            (
                m.destination.display().to_string(),
                json!(m.tmpfs_options.join(",")),
            )
        })
        .collect();
    Value::Object(map)
}

/// `HostConfig.Binds` as `-v` writes them: `SOURCE:DEST[:ro]`, the volume's name as the
/// source of a named volume (anonymous volumes and tmpfs are not listed).
pub fn binds(mounts: &[Mount]) -> Vec<String> {
    mounts
        .iter()
        .filter(|m| !m.anonymous && m.kind != MountType::Tmpfs)
        .map(|m| {
            let source = match (&m.kind, &m.name) {
                (MountType::Volume, Some(name)) => name.clone(),
                _ => m.source.display().to_string(),
            };
            let ro = if m.read_only { ":ro" } else { "" };
            format!("{source}:{}{ro}", m.destination.display())
        })
        .collect()
}
