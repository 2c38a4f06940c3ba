//! Go's `time.Duration` as Docker's flags and messages use it: [`parse`] is
//! `time.ParseDuration` (`--health-interval 1m30s`, with Go's error words) and [`format`] is
//! `Duration.String()` (`Health check exceeded timeout (1.5s)`).

const NS: u128 = 1;
const US: u128 = 1_000;
const MS: u128 = 1_000_000;
const S: u128 = 1_000_000_000;

/// `time.ParseDuration`: a signed sequence of decimal numbers, each with an optional
/// fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), in nanoseconds. The error is
/// Go's text (`time: missing unit in duration "5"`).
pub fn parse(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac = "";
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            frac = &after[..frac_len];
            rest = &after[frac_len..];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            "ns" => NS,
            "us" | "\u{b5}s" | "\u{3bc}s" => US,
            "ms" => MS,
            "s" => S,
            "m" => 60 * S,
            "h" => 3600 * S,
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{text}\""
                ))
            }
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        // The fraction, digit by digit, as Go does (exact for every unit down to 1ns).
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            if place == 0 {
                break;
            }
            value += u128::from(d - b'0') * place;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(negative) {
            return Err(invalid());
        }
    }
    Ok(if negative {
        (total as i128).wrapping_neg() as i64
    } else {
        total as i64
    })
}

/// `Duration.String()`: `1h2m3.5s`, `1m0s`, `1.5s`, `200ms`, `1µs`, `0s`.
pub fn format(nanos: i64) -> String {
    let negative = nanos < 0;
    let u = nanos.unsigned_abs() as u128;
    let mut out = String::new();
    if u < S {
        if u == 0 {
            return "0s".into();
        }
        let (unit, scale) = if u < US {
            ("ns", NS)
        } else if u < MS {
            ("µs", US)
        } else {
            ("ms", MS)
        };
        out.push_str(&fraction(u, scale));
        out.push_str(unit);
    } else {
        let secs = u / S;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&fraction(s * S + u % S, S));
        out.push('s');
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

/// `value / scale` with its fraction, trailing zeros (and a lone point) dropped.
fn fraction(value: u128, scale: u128) -> String {
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go_does() {
        assert_eq!(parse("200ms"), Ok(200_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse("+.5s"), Ok(500_000_000));
        assert_eq!(parse("500us"), Ok(500_000));
        assert_eq!(parse("500µs"), Ok(500_000));
        assert_eq!(parse("1.000000001s"), Ok(1_000_000_001));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(
            parse("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(parse(""), Err("time: invalid duration \"\"".into()));
        assert_eq!(parse("s"), Err("time: invalid duration \"s\"".into()));
        assert_eq!(parse("."), Err("time: invalid duration \".\"".into()));
        assert!(parse("9999999999h").is_err());
    }

    #[test]
    fn formats_as_go_does() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(1), "1ns");
        assert_eq!(format(1_500), "1.5µs");
        assert_eq!(format(200_000_000), "200ms");
        assert_eq!(format(1_000_000_000), "1s");
        assert_eq!(format(1_500_000_000), "1.5s");
        assert_eq!(format(30_000_000_000), "30s");
        assert_eq!(format(60_000_000_000), "1m0s");
        assert_eq!(format(90_000_000_000), "1m30s");
        assert_eq!(format(3_600_000_000_000), "1h0m0s");
        assert_eq!(format(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(format(-2_000_000), "-2ms");
    }
}
