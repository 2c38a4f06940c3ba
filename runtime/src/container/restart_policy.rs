//! `--restart no|on-failure[:N]|always|unless-stopped`, applied by the container's monitor.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ContainerError;

/// Docker's restart policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure {
        /// 0: no limit.
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses the `--restart` value.
    pub fn parse(value: &str) -> Result<RestartPolicy, ContainerError> {
        let invalid = |reason: &str| ContainerError::InvalidFlag {
            flag: "--restart",
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let (name, count) = match value.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (value, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure {
                max_retries: match count {
                    Some(c) => c.parse().map_err(|_| {
                        invalid("maximum retry count must be a non-negative integer")
                    })?,
                    None => 0,
                },
            },
            _ => {
                return Err(invalid(
                    "allowed: no, always, unless-stopped, on-failure[:max-retries]",
                ))
            }
        };
        if count.is_some() && !matches!(policy, RestartPolicy::OnFailure { .. }) {
            return Err(invalid(
                "maximum retry count can only be used with 'on-failure'",
            ));
        }
        Ok(policy)
    }

    /// The name Docker shows (`HostConfig.RestartPolicy.Name`).
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(&self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max_retries } => *max_retries,
            _ => 0,
        }
    }

    /// Whether the monitor restarts a container that exited with `exit_code` after
    /// `restarts` restarts. A container stopped by the user is never restarted.
    pub fn should_restart(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (*max_retries == 0 || restarts < *max_retries)
            }
        }
    }

    /// Whether the container comes back when the host's ebrun service starts after a boot.
    pub fn restarts_at_boot(&self, stopped_by_user: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            _ => false,
        }
    }
}

/// Docker's back-off: 100 ms doubling per consecutive restart, at most one minute.
pub fn backoff(restarts: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << restarts.min(10))).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_values() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:2").unwrap(),
            RestartPolicy::OnFailure { max_retries: 2 }
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure { max_retries: 0 }
        );
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn on_failure_counts_and_user_stop_wins() {
        let p = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(p.should_restart(1, 0, false));
        assert!(p.should_restart(1, 1, false));
        assert!(!p.should_restart(1, 2, false));
        assert!(!p.should_restart(0, 0, false));
        assert!(!RestartPolicy::Always.should_restart(0, 5, true));
        assert!(RestartPolicy::UnlessStopped.should_restart(0, 5, false));
    }
}
