//! What the user asks for with `-v`, `--mount`, `--tmpfs` and `--volumes-from`, parsed and
//! checked the way Docker checks them, and the resolved [`Mount`] a container keeps in its
//! config.
//!
//! Parsing only looks at the text: whether a bind source exists, whether a `--volumes-from`
//! container exists and whether two mounts share a destination are checked when the
//! container is created ([`super::prepare`]), before anything is made.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::VolumeError;
use crate::rootfs::volume_mounts;

/// The kinds of mount Docker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
}

impl MountType {
    /// Docker's name (`bind`, `volume`, `tmpfs`).
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// Mount propagation, with Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    Rprivate,
    Shared,
    Rshared,
    Slave,
    Rslave,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

/// How a bind mount treats the mounts under its source (`--mount bind-recursive=`, Docker
/// 25+). Read-only binds are recursively read-only by default where the kernel has
/// `mount_setattr(2)` (5.12+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindRecursive {
    /// Submounts are bound too; read-only reaches them when the kernel can do it.
    #[default]
    Enabled,
    /// Submounts are not bound (a plain, non-recursive bind).
    Disabled,
    /// Submounts are bound and stay writable under a read-only bind.
    Writable,
    /// Submounts are bound and read-only; refused on kernels without `mount_setattr(2)`.
    Readonly,
}

impl BindRecursive {
    pub fn parse(s: &str) -> Option<BindRecursive> {
        Some(match s {
            "enabled" => BindRecursive::Enabled,
            "disabled" => BindRecursive::Disabled,
            "writable" => BindRecursive::Writable,
            "readonly" => BindRecursive::Readonly,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BindRecursive::Enabled => "enabled",
            BindRecursive::Disabled => "disabled",
            BindRecursive::Writable => "writable",
            BindRecursive::Readonly => "readonly",
        }
    }

    fn is_enabled(&self) -> bool {
        *self == BindRecursive::Enabled
    }
}

/// One `-v`, `--mount` or `--tmpfs` as the user gave it, checked for form.
#[derive(Debug, Clone, PartialEq)]
pub struct MountRequest {
    pub kind: MountType,
    /// bind: the absolute host path; volume: the name (`None`: a new anonymous volume).
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub destination: PathBuf,
    pub read_only: bool,
    pub propagation: Option<Propagation>,
    /// `bind-recursive=` (binds).
    pub bind_recursive: BindRecursive,
    /// `nocopy` / `volume-nocopy`: do not fill a new volume with the image's files.
    pub no_copy: bool,
    /// `-v` creates a missing bind source; `--mount` refuses it (as Docker does).
    pub create_source: bool,
    /// tmpfs mount options (`size=64m`, `mode=1777`, `noexec`, ...).
    pub tmpfs_options: Vec<String>,
    /// Docker's `Mode` in inspect (`ro`, `z`, ...).
    pub mode: String,
    /// Labels for a volume `--mount` creates (`volume-label=K=V`).
    pub labels: Vec<(String, String)>,
    /// The flag and its value, for messages.
    pub flag: &'static str,
    pub text: String,
}

/// `--volumes-from CONTAINER[:ro|rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    pub container: String,
    /// `Some(true)` for `:ro`, `Some(false)` for `:rw`, `None` to keep each mount's mode.
    pub read_only: Option<bool>,
}

/// Everything the storage flags of one `ebrun run` ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountRequests {
    pub mounts: Vec<MountRequest>,
    pub volumes_from: Vec<VolumesFrom>,
}

/// A mount a container has: what `inspect` shows under `Mounts` and what the container's
/// mount namespace gets at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountType,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: Option<String>,
    /// Host path: the bind source or the volume's `_data`; empty for tmpfs.
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
    /// Set for bind mounts (Docker shows `rprivate` by default) and only then.
    #[serde(default)]
    pub propagation: Option<Propagation>,
    /// `bind-recursive=` of a bind mount (`enabled` unless the user chose otherwise).
    #[serde(default, skip_serializing_if = "BindRecursive::is_enabled")]
    pub bind_recursive: BindRecursive,
    /// Docker's `Mode` string.
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub no_copy: bool,
    /// A volume made for this container (`-v /path`, image `VOLUME`): `rm -v` removes it.
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
    /// From `--tmpfs` (Docker lists those under `HostConfig.Tmpfs`, not `Mounts`).
    #[serde(default)]
    pub tmpfs_flag: bool,
}

/// Docker's rule for local volume names.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> VolumeError {
    VolumeError::InvalidSpec {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A destination must be an absolute path other than `/`.
fn destination(
    flag: &'static str,
    value: &str,
    dst: &str,
    kind: MountType,
) -> Result<PathBuf, VolumeError> {
    if dst.is_empty() {
        return Err(invalid(
            flag,
            value,
            format!(
                "invalid mount config for type \"{}\": field Target must not be empty",
                kind.as_str()
            ),
        ));
    }
    if !dst.starts_with('/') {
        return Err(invalid(
            flag,
            value,
            format!(
                "invalid mount config for type \"{}\": invalid mount path: '{dst}' mount path \
                 must be absolute",
                kind.as_str()
            ),
        ));
    }
    let clean = clean_path(dst);
    if clean == Path::new("/") {
        return Err(invalid(
            flag,
            value,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(clean)
}

/// `/a//b/./c/` -> `/a/b/c` (`..` is kept: it is resolved inside the container's root).
fn clean_path(p: &str) -> PathBuf {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    PathBuf::from(format!("/{}", parts.join("/")))
}

/// Parses `-v` / `--volume`: `/ctr`, `NAME:/ctr[:OPTS]`, `/host:/ctr[:OPTS]`.
/// OPTS: `ro`, `rw`, `z`, `Z`, `nocopy` and a propagation, comma-separated.
pub fn parse_volume_flag(value: &str) -> Result<MountRequest, VolumeError> {
    const FLAG: &str = "--volume";
    let parts: Vec<&str> = value.split(':').collect();
    let (source, dst, opts) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, opts] => (Some(*src), *dst, *opts),
        _ => {
            return Err(invalid(
                FLAG,
                value,
                "invalid volume specification: expected [SOURCE:]DESTINATION[:OPTIONS]",
            ))
        }
    };
    let kind = match source {
        Some(s) if s.starts_with('/') => MountType::Bind,
        _ => MountType::Volume,
    };
    if let Some(name) = source.filter(|_| kind == MountType::Volume) {
        if !valid_volume_name(name) {
            return Err(invalid(
                FLAG,
                value,
                format!(
                    "\"{name}\" includes invalid characters for a local volume name, only \
                     \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
                     directory, use absolute path"
                ),
            ));
        }
    }
    let destination = destination(FLAG, value, dst, kind)?;
    let mut req = MountRequest {
        kind,
        source: source.map(|s| {
            if kind == MountType::Bind {
                clean_path(s).display().to_string()
            } else {
                s.to_string()
            }
        }),
        destination,
        read_only: false,
        propagation: None,
        bind_recursive: BindRecursive::Enabled,
        no_copy: false,
        create_source: true,
        tmpfs_options: Vec::new(),
        mode: opts.to_string(),
        labels: Vec::new(),
        flag: FLAG,
        text: value.to_string(),
    };
    let mut access = None;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" | "rw" if access.is_some() => {
                return Err(invalid(
                    FLAG,
                    value,
                    format!("invalid mode: {opts}: ro and rw conflict"),
                ))
            }
            "ro" => access = Some(true),
            "rw" => access = Some(false),
            "z" | "Z" => {}
            "nocopy" if kind == MountType::Volume => req.no_copy = true,
            p if Propagation::parse(p).is_some() && kind == MountType::Bind => {
                if req.propagation.is_some() {
                    return Err(invalid(
                        FLAG,
                        value,
                        format!("invalid mode: {opts}: more than one propagation"),
                    ));
                }
                req.propagation = Propagation::parse(p);
            }
            other => {
                return Err(invalid(
                    FLAG,
                    value,
                    format!(
                        "invalid mode: {other} (allowed: ro, rw, z, Z{})",
                        match kind {
                            MountType::Bind =>
                                ", shared, rshared, slave, rslave, private, rprivate",
                            _ => ", nocopy",
                        }
                    ),
                ))
            }
        }
    }
    req.read_only = access.unwrap_or(false);
    if req.kind == MountType::Volume && req.source.is_some() && req.mode.is_empty() {
        req.mode = "z".into();
    }
    Ok(req)
}

/// A boolean `--mount` option: bare (`readonly`) means true.
fn bool_opt(value: &str, key: &str, v: Option<&str>) -> Result<bool, VolumeError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(other) => Err(invalid(
            "--mount",
            value,
            format!("invalid value for {key}: {other} (allowed: true, false, 1, 0)"),
        )),
    }
}

/// Parses `--mount type=bind|volume|tmpfs,source=..,target=..,readonly,...`.
pub fn parse_mount_flag(value: &str) -> Result<MountRequest, VolumeError> {
    const FLAG: &str = "--mount";
    let mut kind = MountType::Volume;
    let mut source: Option<String> = None;
    let mut dst: Option<String> = None;
    let mut read_only = false;
    let mut propagation = None;
    let mut bind_recursive = BindRecursive::Enabled;
    let mut no_copy = false;
    let mut tmpfs_options = Vec::new();
    let mut labels = Vec::new();
    let mut bind_only = Vec::new();
    let mut volume_only = Vec::new();
    let mut tmpfs_only = Vec::new();
    for field in value.split(',') {
        let (key, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        fn need<'a>(v: Option<&'a str>, value: &str, field: &str) -> Result<&'a str, VolumeError> {
            v.ok_or_else(|| {
                invalid(
                    FLAG,
                    value,
                    format!("invalid field '{field}' must be a key=value pair"),
                )
            })
        }
        match key.as_str() {
            "type" => {
                kind = match need(v, value, field)? {
                    "bind" => MountType::Bind,
                    "volume" => MountType::Volume,
                    "tmpfs" => MountType::Tmpfs,
                    other => {
                        return Err(invalid(
                            FLAG,
                            value,
                            format!("invalid mount type {other:?} (allowed: bind, volume, tmpfs)"),
                        ))
                    }
                }
            }
            "source" | "src" => source = Some(need(v, value, field)?.to_string()),
            "destination" | "dst" | "target" => dst = Some(need(v, value, field)?.to_string()),
            "readonly" | "ro" => read_only = bool_opt(value, &key, v)?,
            "consistency" => {
                need(v, value, field)?;
            }
            "bind-propagation" => {
                let p = need(v, value, field)?;
                propagation = Some(Propagation::parse(p).ok_or_else(|| {
                    invalid(
                        FLAG,
                        value,
                        format!(
                            "invalid propagation mode {p:?} (allowed: shared, rshared, slave, \
                             rslave, private, rprivate)"
                        ),
                    )
                })?);
                bind_only.push(key.clone());
            }
            "bind-recursive" => {
                let r = need(v, value, field)?;
                bind_recursive = BindRecursive::parse(r).ok_or_else(|| {
                    invalid(
                        FLAG,
                        value,
                        format!(
                            "invalid bind-recursive value {r:?} (allowed: enabled, disabled, \
                             writable, readonly)"
                        ),
                    )
                })?;
                bind_only.push(key.clone());
            }
            "volume-nocopy" => {
                no_copy = bool_opt(value, &key, v)?;
                volume_only.push(key.clone());
            }
            "volume-label" => {
                let l = need(v, value, field)?;
                let (k, val) = l.split_once('=').unwrap_or((l, ""));
                labels.push((k.to_string(), val.to_string()));
                volume_only.push(key.clone());
            }
            "volume-driver" => {
                let d = need(v, value, field)?;
                if d != "local" {
                    return Err(invalid(
                        FLAG,
                        value,
                        format!("volume driver {d:?} is not supported (only \"local\")"),
                    ));
                }
                volume_only.push(key.clone());
            }
            "tmpfs-size" => {
                let size = need(v, value, field)?;
                let bytes = parse_size(size).ok_or_else(|| {
                    invalid(
                        FLAG,
                        value,
                        format!(
                            "invalid tmpfs-size {size:?}: expected a size such as 64m or 1048576"
                        ),
                    )
                })?;
                tmpfs_options.push(format!("size={bytes}"));
                tmpfs_only.push(key.clone());
            }
            "tmpfs-mode" => {
                let mode = need(v, value, field)?;
                if u32::from_str_radix(mode, 8).is_err() {
                    return Err(invalid(
                        FLAG,
                        value,
                        format!("invalid tmpfs-mode {mode:?}: expected an octal mode such as 1777"),
                    ));
                }
                tmpfs_options.push(format!("mode={mode}"));
                tmpfs_only.push(key.clone());
            }
            _ => {
                return Err(invalid(
                    FLAG,
                    value,
                    format!(
                        "unexpected key '{key}' (allowed: type, source, target, readonly, \
                         bind-propagation, bind-recursive, volume-nocopy, volume-label, volume-driver, \
                         tmpfs-size, tmpfs-mode, consistency)"
                    ),
                ))
            }
        }
    }
    let config_err = |reason: String| {
        invalid(
            FLAG,
            value,
            format!(
                "invalid mount config for type \"{}\": {reason}",
                kind.as_str()
            ),
        )
    };
    let misplaced = match kind {
        MountType::Bind => volume_only.first().or(tmpfs_only.first()),
        MountType::Volume => bind_only.first().or(tmpfs_only.first()),
        MountType::Tmpfs => bind_only.first().or(volume_only.first()),
    };
    if let Some(key) = misplaced {
        return Err(config_err(format!(
            "field {key} is not allowed for this type"
        )));
    }
    if matches!(
        bind_recursive,
        BindRecursive::Writable | BindRecursive::Readonly
    ) && !read_only
    {
        return Err(config_err(format!(
            "option 'bind-recursive={}' requires 'readonly' to be specified in conjunction",
            bind_recursive.as_str()
        )));
    }
    let destination = destination(FLAG, value, dst.as_deref().unwrap_or(""), kind)?;
    match kind {
        MountType::Bind => {
            let src = source
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| config_err("field Source must not be empty".into()))?;
            if !src.starts_with('/') {
                return Err(config_err(format!(
                    "invalid mount path: '{src}' mount path must be absolute"
                )));
            }
            source = Some(clean_path(src).display().to_string());
        }
        MountType::Volume => {
            if let Some(name) = source.as_deref().filter(|s| !s.is_empty()) {
                if !valid_volume_name(name) {
                    return Err(config_err(format!(
                        "\"{name}\" includes invalid characters for a local volume name, only \
                         \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
                    )));
                }
            } else {
                source = None;
            }
        }
        MountType::Tmpfs => {
            if source.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(config_err("field Source must not be specified".into()));
            }
            source = None;
        }
    }
    Ok(MountRequest {
        kind,
        source,
        destination,
        read_only,
        propagation,
        bind_recursive,
        no_copy,
        create_source: false,
        tmpfs_options,
        mode: String::new(),
        labels,
        flag: FLAG,
        text: value.to_string(),
    })
}

/// Parses `--tmpfs /path[:OPTIONS]` (mount(8) tmpfs options, comma-separated).
pub fn parse_tmpfs_flag(value: &str) -> Result<MountRequest, VolumeError> {
    const FLAG: &str = "--tmpfs";
    let (dst, opts) = value.split_once(':').unwrap_or((value, ""));
    let destination = destination(FLAG, value, dst, MountType::Tmpfs)?;
    let options: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let mut read_only = false;
    for o in &options {
        match o.as_str() {
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => {}
        }
    }
    volume_mounts::tmpfs_flags_and_data(&options).map_err(|reason| invalid(FLAG, value, reason))?;
    Ok(MountRequest {
        kind: MountType::Tmpfs,
        source: None,
        destination,
        read_only,
        propagation: None,
        bind_recursive: BindRecursive::Enabled,
        no_copy: false,
        create_source: false,
        tmpfs_options: options,
        mode: String::new(),
        labels: Vec::new(),
        flag: FLAG,
        text: value.to_string(),
    })
}

/// Parses `--volumes-from CONTAINER[:ro|rw]`.
pub fn parse_volumes_from(value: &str) -> Result<VolumesFrom, VolumeError> {
    const FLAG: &str = "--volumes-from";
    let (container, mode) = match value.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (value, None),
    };
    if container.is_empty() {
        return Err(invalid(FLAG, value, "expected CONTAINER[:ro|rw]"));
    }
    let read_only = match mode {
        None => None,
        Some("ro") => Some(true),
        Some("rw") => Some(false),
        Some(other) => {
            return Err(invalid(
                FLAG,
                value,
                format!("invalid mode: {other} (allowed: ro, rw)"),
            ))
        }
    };
    Ok(VolumesFrom {
        container: container.to_string(),
        read_only,
    })
}

/// `64m`, `1g`, `512k`, `1048576`, `10b` -> bytes (Docker's RAMInBytes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let anon = parse_volume_flag("/data").unwrap();
        assert_eq!((anon.kind, anon.source.clone()), (MountType::Volume, None));
        let named = parse_volume_flag("cache:/var/cache:ro").unwrap();
        assert_eq!(named.source.as_deref(), Some("cache"));
        assert!(named.read_only && named.mode == "ro");
        assert_eq!(parse_volume_flag("v1:/x").unwrap().mode, "z");
        let bind = parse_volume_flag("/srv//www/:/www:rw,rshared").unwrap();
        assert_eq!(bind.kind, MountType::Bind);
        assert_eq!(bind.source.as_deref(), Some("/srv/www"));
        assert_eq!(bind.propagation, Some(Propagation::Rshared));
        assert!(bind.create_source && !bind.read_only);
    }

    #[test]
    fn volume_flag_errors() {
        for bad in [
            "./rel:/x",
            "v:relative",
            "/h:/x:bogus",
            "/h:/x:ro,rw",
            "a:b:c:d",
            "v:/",
        ] {
            let e = parse_volume_flag(bad).unwrap_err().to_string();
            assert!(e.contains("--volume") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn mount_flag_forms_and_errors() {
        let m =
            parse_mount_flag("type=bind,src=/etc,dst=/e,readonly,bind-propagation=rslave").unwrap();
        assert!(m.read_only && !m.create_source);
        assert_eq!(m.propagation, Some(Propagation::Rslave));
        let v = parse_mount_flag("target=/d,volume-nocopy").unwrap();
        assert_eq!(
            (v.kind, v.no_copy, v.source),
            (MountType::Volume, true, None)
        );
        let t = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap();
        assert_eq!(t.tmpfs_options, vec!["size=1048576", "mode=700"]);
        for (bad, want) in [
            ("type=bind,src=rel,dst=/x", "must be absolute"),
            ("type=bind,dst=/x", "Source must not be empty"),
            ("type=bind,src=/x,dst=rel", "must be absolute"),
            ("type=bind,src=/x,dst=/x,foo=bar", "unexpected key 'foo'"),
            ("type=tmpfs,src=/x,dst=/x", "must not be specified"),
            ("type=nfs,dst=/x", "invalid mount type"),
            ("type=volume,dst=/x,bind-propagation=shared", "not allowed"),
        ] {
            let e = parse_mount_flag(bad).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("--mount"), "{bad}: {e}");
        }
    }

    #[test]
    fn tmpfs_and_volumes_from() {
        let t = parse_tmpfs_flag("/run:size=64m,noexec,mode=1777").unwrap();
        assert_eq!(t.destination, PathBuf::from("/run"));
        assert!(parse_tmpfs_flag("/run:bogus").is_err());
        assert!(parse_tmpfs_flag("run").is_err());
        assert_eq!(parse_volumes_from("c1:ro").unwrap().read_only, Some(true));
        assert_eq!(parse_volumes_from("c1").unwrap().read_only, None);
        assert!(parse_volumes_from("c1:zz").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1kb"), Some(1024));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn bind_recursive_values_and_rules() {
        let m = parse_mount_flag("type=bind,src=/etc,dst=/e,readonly").unwrap();
        assert_eq!(m.bind_recursive, BindRecursive::Enabled);
        for (v, want) in [
            ("enabled", BindRecursive::Enabled),
            ("disabled", BindRecursive::Disabled),
            ("writable", BindRecursive::Writable),
            ("readonly", BindRecursive::Readonly),
        ] {
            let m = parse_mount_flag(&format!("type=bind,src=/etc,dst=/e,ro,bind-recursive={v}"))
                .unwrap();
            assert_eq!(m.bind_recursive, want);
            assert_eq!(want.as_str(), v);
        }
        assert!(parse_mount_flag("type=bind,src=/etc,dst=/e,bind-recursive=disabled").is_ok());
        for bad in [
            "type=bind,src=/etc,dst=/e,bind-recursive=writable",
            "type=bind,src=/etc,dst=/e,readonly=false,bind-recursive=readonly",
            "type=bind,src=/etc,dst=/e,ro,bind-recursive=yes",
            "type=tmpfs,dst=/e,bind-recursive=disabled",
        ] {
            assert!(parse_mount_flag(bad).is_err(), "{bad}");
        }
        // Stored configs without the field read as the default.
        let m: Mount = serde_json::from_str(
            r#"{"type":"bind","source":"/a","destination":"/b","read_only":true}"#,
        )
        .unwrap();
        assert_eq!(m.bind_recursive, BindRecursive::Enabled);
    }
}
