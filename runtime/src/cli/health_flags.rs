//! The health check flags of `ebrun run` (`--health-cmd`, `--health-interval`, ...,
//! `--no-healthcheck`), parsed and checked as the docker CLI does (Go durations, its words)
//! into the [`HealthConfig`] the create request carries; the library merges it with the
//! image's HEALTHCHECK and applies dockerd's checks.

use anyhow::{bail, Result};
use clap::Args;

use ebrun::format::go_duration;
use ebrun::image::HealthConfig;

#[derive(Debug, Clone, Default, Args)]
pub struct HealthFlags {
    /// Command to run to check health.
    #[arg(long = "health-cmd", value_name = "string")]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(
        long = "health-interval",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_hyphen_values = true
    )]
    health_retries: Option<String>,
    /// Start period for the container to initialize before starting health-retries
    /// countdown (ms|s|m|h) (default 0s).
    #[arg(
        long = "health-start-period",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s).
    #[arg(
        long = "health-start-interval",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    health_start_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(
        long = "health-timeout",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
}

/// A duration flag's value in nanoseconds (0 when not given), in pflag's words when bad.
fn duration(flag: &str, value: &Option<String>) -> Result<i64> {
    match value {
        None => Ok(0),
        Some(v) => go_duration::parse(v)
            .map_err(|e| anyhow::anyhow!("invalid argument \"{v}\" for \"{flag}\" flag: {e}")),
    }
}

impl HealthFlags {
    /// The user's health config: None when no flag is given, `["NONE"]` for
    /// `--no-healthcheck`, else the fields given (the others inherit the image's).
    pub fn to_config(&self) -> Result<Option<HealthConfig>> {
        let interval = duration("--health-interval", &self.health_interval)?;
        let timeout = duration("--health-timeout", &self.health_timeout)?;
        let start_period = duration("--health-start-period", &self.health_start_period)?;
        let start_interval = duration("--health-start-interval", &self.health_start_interval)?;
        let retries: i64 = match &self.health_retries {
            None => 0,
            Some(v) => v.parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid argument \"{v}\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax"
                )
            })?,
        };
        let cmd = self.health_cmd.clone().unwrap_or_default();
        let given = !cmd.is_empty()
            || interval != 0
            || timeout != 0
            || start_period != 0
            || retries != 0
            || start_interval != 0;
        if self.no_healthcheck {
            if given {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(HealthConfig {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        if !given {
            return Ok(None);
        }
        for (flag, value) in [
            ("--health-interval", interval),
            ("--health-timeout", timeout),
            ("--health-retries", retries),
            ("--health-start-period", start_period),
            ("--health-start-interval", start_interval),
        ] {
            if value < 0 {
                bail!("{flag} cannot be negative");
            }
        }
        Ok(Some(HealthConfig {
            test: if cmd.is_empty() {
                Vec::new()
            } else {
                vec!["CMD-SHELL".into(), cmd]
            },
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: impl FnOnce(&mut HealthFlags)) -> HealthFlags {
        let mut h = HealthFlags::default();
        f(&mut h);
        h
    }

    #[test]
    fn docker_cli_rules_and_words() {
        assert_eq!(HealthFlags::default().to_config().unwrap(), None);
        let hc = flags(|h| {
            h.health_cmd = Some("test -f /tmp/ok".into());
            h.health_interval = Some("200ms".into());
            h.health_retries = Some("2".into());
        })
        .to_config()
        .unwrap()
        .unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "test -f /tmp/ok"]);
        assert_eq!((hc.interval, hc.retries, hc.timeout), (200_000_000, 2, 0));
        let none = flags(|h| h.no_healthcheck = true)
            .to_config()
            .unwrap()
            .unwrap();
        assert!(none.is_disabled());
        let err = |f: HealthFlags| f.to_config().unwrap_err().to_string();
        assert_eq!(
            err(flags(|h| {
                h.no_healthcheck = true;
                h.health_retries = Some("1".into());
            })),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            err(flags(|h| h.health_interval = Some("5".into()))),
            "invalid argument \"5\" for \"--health-interval\" flag: time: missing unit in duration \"5\""
        );
        assert_eq!(
            err(flags(|h| h.health_timeout = Some("-1s".into()))),
            "--health-timeout cannot be negative"
        );
        assert_eq!(
            err(flags(|h| h.health_retries = Some("x".into()))),
            "invalid argument \"x\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
    }
}
