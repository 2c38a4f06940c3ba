//! The body of `POST /containers/create`, as Docker's clients send it: `Config` fields at
//! the top level, `HostConfig` and `NetworkingConfig`. Unknown fields are ignored, as
//! dockerd ignores them; wrong types are a 400 naming the field.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Docker's `StrSlice`: a string or a list of strings (`Cmd`, `Entrypoint`).
fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    #[serde(deserialize_with = "super::request::nullable")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub image: String,
    #[serde(deserialize_with = "super::request::nullable")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    pub working_dir: String,
    #[serde(deserialize_with = "super::request::nullable")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub network_disabled: bool,
    pub mac_address: String,
    #[serde(deserialize_with = "super::request::nullable")]
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    /// `--health-*` / `--no-healthcheck`: Docker's `HealthConfig` (durations in ns).
    pub healthcheck: Option<crate::image::HealthConfig>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub host_config: HostConfig,
    #[serde(deserialize_with = "super::request::nullable")]
    pub networking_config: NetworkingConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicyBody {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    pub propagation: String,
    pub non_recursive: bool,
    pub read_only_non_recursive: bool,
    pub create_mountpoint: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    pub no_copy: bool,
    #[serde(deserialize_with = "super::request::nullable")]
    pub labels: BTreeMap<String, String>,
    pub subpath: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    pub mode: u32,
}

/// One element of `HostConfig.Mounts` (`--mount`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountBody {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub bind_options: Option<BindOptions>,
    pub volume_options: Option<VolumeOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleBody {
    pub path: String,
    pub rate: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    #[serde(deserialize_with = "super::request::nullable")]
    pub binds: Vec<String>,
    pub network_mode: String,
    #[serde(deserialize_with = "super::request::nullable")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub restart_policy: RestartPolicyBody,
    pub auto_remove: bool,
    #[serde(deserialize_with = "super::request::nullable")]
    pub volumes_from: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub mounts: Vec<MountBody>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub cap_drop: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub dns_search: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub extra_hosts: Vec<String>,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    #[serde(deserialize_with = "super::request::nullable")]
    pub security_opt: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub tmpfs: BTreeMap<String, String>,
    pub userns_mode: String,
    /// `--cgroupns`: "", "host" or "private".
    pub cgroupns_mode: String,
    pub oom_score_adj: i32,
    // Resources.
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub kernel_memory: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    #[serde(deserialize_with = "super::request::nullable")]
    pub blkio_device_read_bps: Vec<ThrottleBody>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub blkio_device_write_bps: Vec<ThrottleBody>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub blkio_device_read_i_ops: Vec<ThrottleBody>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub blkio_device_write_i_ops: Vec<ThrottleBody>,
    /// `--ulimit`: `[{"Name": "nofile", "Soft": 1024, "Hard": 2048}]`.
    #[serde(deserialize_with = "super::request::nullable")]
    pub ulimits: Vec<crate::container::Ulimit>,
    /// `--annotation`.
    #[serde(deserialize_with = "super::request::nullable")]
    pub annotations: BTreeMap<String, String>,
    // What ebrun does not do yet: refused when set (see `unsupported`).
    /// `--sysctl` (runc's namespace rules are checked at create).
    #[serde(deserialize_with = "super::request::nullable")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub devices: Vec<serde_json::Value>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub device_requests: Vec<serde_json::Value>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub group_add: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub links: Vec<String>,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub shm_size: i64,
    /// `[rows, columns]` of the client's terminal (`-t`).
    #[serde(deserialize_with = "super::request::nullable")]
    pub console_size: Vec<u16>,
    pub init: Option<bool>,
    pub cgroup_parent: String,
    pub runtime: String,
    pub log_config: Option<LogConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "super::request::nullable")]
    pub endpoints_config: BTreeMap<String, Option<EndpointBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointBody {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamBody>,
    #[serde(deserialize_with = "super::request::nullable")]
    pub aliases: Vec<String>,
    pub mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpamBody {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}
