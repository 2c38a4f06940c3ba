//! `--since` / `--until` values as Docker takes them: RFC 3339 timestamps (with or without a
//! zone), Unix seconds with an optional fraction, or a duration back from now (`10m`, `1h30m`).

use chrono::{DateTime, NaiveDateTime, TimeZone};

use super::EventsError;

/// The instant `value` names, in Unix nanoseconds, relative to `now_nanos` for durations.
pub fn parse_time(value: &str, now_nanos: i64) -> Result<i64, EventsError> {
    let bad = || EventsError::InvalidTime(value.to_string());
    let v = value.trim();
    if v.is_empty() {
        return Err(bad());
    }
    if let Some(ns) = duration_nanos(v) {
        return Ok(now_nanos - ns);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"] {
        let parsed = NaiveDateTime::parse_from_str(v, format).or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, format)
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        });
        if let Ok(naive) = parsed {
            return chrono::Local
                .from_local_datetime(&naive)
                .single()
                .and_then(|t| t.timestamp_nanos_opt())
                .ok_or_else(bad);
        }
    }
    // Unix seconds, maybe with a fraction of up to 9 digits.
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let s: i64 = secs.parse().map_err(|_| bad())?;
        let ns: i64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
        return s
            .checked_mul(1_000_000_000)
            .and_then(|x| x.checked_add(ns))
            .ok_or_else(bad);
    }
    Err(bad())
}

/// A Go-style duration (`1h2m3.5s`, `300ms`, `10m`), in nanoseconds.
fn duration_nanos(v: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = v;
    if rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_time_forms() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(parse_time("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(parse_time("1h30m", now).unwrap(), now - 5_400_000_000_000);
        assert_eq!(parse_time("1500", now).unwrap(), 1_500_000_000_000);
        assert_eq!(parse_time("1500.25", now).unwrap(), 1_500_250_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.5+01:00", now).unwrap(),
            1_700_000_000_500_000_000
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("", now).is_err());
    }
}
