//! The `run`/`create` options that are neither resources, networking nor mounts: `--init`,
//! `--ulimit`, `--shm-size`, `--stop-signal`, `--stop-timeout`, `--group-add`,
//! `--domainname`, `--annotation`, `--runtime`. One struct from the command line (or the
//! Engine API's create body) through [`RunSpec`](super::RunSpec) into the container's
//! config, read by the OCI translation, inspect and stop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Where Docker bind-mounts its init (tini): `process.args` start with it and `--`.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The spec's annotation that makes the executor itself the init named by [`INIT_PATH`]
/// (no binary is mounted into the container: ebrun's needs the host's dynamic loader, and
/// the host's runtime binary is what a container must never reach, CVE-2019-5736).
pub const INIT_ANNOTATION: &str = "io.ebrun.init";

/// The runtimes `--runtime` accepts: ebrun is runc-compatible, so `runc` (Docker's default
/// name) means ebrun too.
pub const RUNTIMES: [&str; 3] = ["ebrun", "runc", "io.containerd.runc.v2"];

/// One `--ulimit name=soft[:hard]` as Docker keeps it (`HostConfig.Ulimits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub hard: i64,
    pub soft: i64,
}

/// The names Docker's `--ulimit` takes (go-units' ulimitNameMapping).
const ULIMIT_NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn parse_int(text: &str) -> Result<i64, String> {
    text.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {text:?}: {why}")
    })
}

impl Ulimit {
    /// `name=soft[:hard]` with go-units' rules and words (-1: unlimited).
    pub fn parse(value: &str) -> Result<Ulimit, String> {
        let Some((name, limits)) = value.split_once('=') else {
            return Err(format!("invalid ulimit argument: {value}"));
        };
        if !ULIMIT_NAMES.contains(&name) {
            return Err(format!("invalid ulimit type: {name}"));
        }
        let parts: Vec<&str> = limits.split(':').collect();
        let (soft, hard) = match parts.as_slice() {
            [soft] => {
                let s = parse_int(soft)?;
                (s, s)
            }
            [soft, hard] => {
                let h = parse_int(hard)?;
                (parse_int(soft)?, h)
            }
            _ => {
                return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ))
            }
        };
        if hard != -1 {
            if soft == -1 {
                return Err(format!("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"));
            }
            if soft > hard {
                return Err(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
                ));
            }
        }
        Ok(Ulimit {
            name: name.to_string(),
            hard,
            soft,
        })
    }

    /// The OCI rlimit type (`RLIMIT_NOFILE`, ...).
    pub fn oci_type(&self) -> Option<oci_spec::runtime::PosixRlimitType> {
        use oci_spec::runtime::PosixRlimitType as T;
        Some(match self.name.as_str() {
            "core" => T::RlimitCore,
            "cpu" => T::RlimitCpu,
            "data" => T::RlimitData,
            "fsize" => T::RlimitFsize,
            "locks" => T::RlimitLocks,
            "memlock" => T::RlimitMemlock,
            "msgqueue" => T::RlimitMsgqueue,
            "nice" => T::RlimitNice,
            "nofile" => T::RlimitNofile,
            "nproc" => T::RlimitNproc,
            "rss" => T::RlimitRss,
            "rtprio" => T::RlimitRtprio,
            "rttime" => T::RlimitRttime,
            "sigpending" => T::RlimitSigpending,
            "stack" => T::RlimitStack,
            _ => return None,
        })
    }
}

/// -1 is RLIM_INFINITY.
pub fn rlim(value: i64) -> u64 {
    if value < 0 {
        u64::MAX
    } else {
        value as u64
    }
}

/// The options, as the container keeps them (`config.json`'s `options`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunOptions {
    /// `--init`: ebrun's init as PID 1 (reaps zombies, forwards signals).
    pub init: bool,
    /// `--ulimit`, in the order given (a later one of the same name wins).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    /// `--shm-size` in bytes; None: Docker's 64 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--stop-signal` as given (SIGTERM when None).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (10 when None; -1 waits forever).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--group-add`: group names or ids, resolved in the container at start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `--domainname`
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// `--annotation KEY=VALUE`: into the OCI spec's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `--runtime` as given ("" for the default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
}

impl RunOptions {
    /// Docker's checks of the values, wherever they came from (flags or a create body).
    pub fn validate(&self) -> Result<(), super::ContainerError> {
        let invalid = |flag, value: String, reason: &str| super::ContainerError::InvalidFlag {
            flag,
            value,
            reason: reason.to_string(),
        };
        if let Some(sig) = &self.stop_signal {
            if crate::process::parse_signal(sig).is_none() {
                return Err(invalid("--stop-signal", sig.clone(), "invalid signal"));
            }
        }
        if !self.runtime.is_empty() && !RUNTIMES.contains(&self.runtime.as_str()) {
            return Err(super::ContainerError::InvalidState(format!(
                "unknown or invalid runtime name: {} (ebrun is its own OCI runtime: ebrun, runc and io.containerd.runc.v2 all name it)",
                self.runtime
            )));
        }
        for u in &self.ulimits {
            if u.oci_type().is_none() {
                return Err(invalid("--ulimit", u.name.clone(), "invalid ulimit type"));
            }
        }
        Ok(())
    }

    /// The signal `stop` sends first.
    pub fn stop_signal(&self) -> nix::sys::signal::Signal {
        self.stop_signal
            .as_deref()
            .and_then(crate::process::parse_signal)
            .unwrap_or(nix::sys::signal::Signal::SIGTERM)
    }

    /// How long `stop` waits when not told (None: forever).
    pub fn stop_grace(&self) -> Option<std::time::Duration> {
        match self.stop_timeout {
            Some(t) if t < 0 => None,
            Some(t) => Some(std::time::Duration::from_secs(t as u64)),
            None => Some(std::time::Duration::from_secs(10)),
        }
    }

    /// The ulimits with a later one of a name replacing an earlier one.
    pub fn effective_ulimits(&self) -> Vec<Ulimit> {
        let mut out: Vec<Ulimit> = Vec::new();
        for u in &self.ulimits {
            out.retain(|o| o.name != u.name);
            out.push(u.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_as_go_units_parses_them() {
        assert_eq!(
            Ulimit::parse("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(Ulimit::parse("nproc=-1").unwrap().hard, -1);
        assert_eq!(
            Ulimit::parse("nofile").unwrap_err(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(
            Ulimit::parse("bogus=1").unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert_eq!(
            Ulimit::parse("nofile=abc").unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            Ulimit::parse("nofile=20:10").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 20 > 10"
        );
        assert!(Ulimit::parse("nofile=1:2:3")
            .unwrap_err()
            .starts_with("too many limit value arguments - 1:2:3"));
    }
}
