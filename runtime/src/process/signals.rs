//! Signal names as Docker and runc take them: `KILL`, `SIGKILL`, `kill` or `9`.

use nix::sys::signal::Signal;

/// The signal `name` names, if any.
pub fn parse_signal(name: &str) -> Option<Signal> {
    let upper = name.to_ascii_uppercase();
    if let Ok(n) = upper.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for name in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(name), Some(Signal::SIGKILL), "{name}");
        }
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("999"), None);
    }
}
