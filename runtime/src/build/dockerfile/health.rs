//! HEALTHCHECK: `NONE`, or `CMD` with `--interval`, `--timeout`, `--start-period`,
//! `--start-interval` (Go durations, at least 1ms unless 0) and `--retries`.

use std::time::Duration;

use super::error::go_quote;
use super::flags::BFlags;
use super::instructions::{at_least_one, shell_or_exec};
use super::node::Node;
use super::types::HealthcheckInstr;
use crate::format::go_duration;

pub(super) fn parse_healthcheck(
    node: &Node,
    args: &[String],
    flags: &mut BFlags,
) -> Result<HealthcheckInstr, String> {
    let Some((kind, rest)) = args.split_first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let kind = kind.to_uppercase();
    if kind == "NONE" {
        // Docker does not check the flags of HEALTHCHECK NONE.
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(HealthcheckInstr::None);
    }
    for name in [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ] {
        flags.add_string(name, "");
    }
    flags.parse()?;
    if kind != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&kind)
        ));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    Ok(HealthcheckInstr::Check {
        test: shell_or_exec(rest, node.json),
        interval: interval(flags, "interval")?,
        timeout: interval(flags, "timeout")?,
        start_period: interval(flags, "start-period")?,
        start_interval: interval(flags, "start-interval")?,
        retries: retries(&flags.string("retries"))?,
    })
}

/// Docker's `parseOptInterval`: None when not given or zero; below 1ms is an error.
fn interval(flags: &BFlags, name: &str) -> Result<Option<Duration>, String> {
    let text = flags.string(name);
    if text.is_empty() {
        return Ok(None);
    }
    let nanos = go_duration::parse(&text)?;
    if nanos == 0 {
        return Ok(None);
    }
    if nanos < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(name)
        ));
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

/// `--retries`: a 32-bit integer, not negative (0 means the default, as not given).
fn retries(text: &str) -> Result<Option<u32>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let value: i64 = text.parse().map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(text)
        )
    })?;
    if i32::try_from(value).is_err() {
        return Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(text)
        ));
    }
    if value < 0 {
        return Err(format!("--retries cannot be negative ({value})"));
    }
    Ok(Some(value as u32).filter(|&r| r > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_as_docker() {
        assert_eq!(retries(""), Ok(None));
        assert_eq!(retries("0"), Ok(None));
        assert_eq!(retries("3"), Ok(Some(3)));
        assert_eq!(retries("+3"), Ok(Some(3)));
        assert_eq!(
            retries("-1").unwrap_err(),
            "--retries cannot be negative (-1)"
        );
        assert_eq!(
            retries("x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            retries("3000000000").unwrap_err(),
            "strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
    }
}
