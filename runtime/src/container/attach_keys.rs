//! Detach keys (`--detach-keys`, default ctrl-p,ctrl-q): the key sequence that detaches an
//! attached client and leaves the container running, in Docker's notation.

use super::ContainerError;

/// Docker's default: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// What Docker accepts besides a single character.
const ALLOWED: &str = "a comma-separated list of single characters, ctrl-a .. ctrl-z, \
                       ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or DEL";

/// Parses a `--detach-keys` value ("ctrl-p,ctrl-q", "ctrl-a,x", ...) into the bytes a
/// terminal sends for it.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, ContainerError> {
    let invalid = |key: &str| {
        ContainerError::InvalidState(format!(
            "Invalid detach keys ({spec}) provided: unknown key {key:?} in --detach-keys; \
             allowed: {ALLOWED}"
        ))
    };
    spec.split(',')
        .map(|key| match key.as_bytes() {
            [c] => Ok(*c),
            _ if key == "DEL" => Ok(127),
            _ => {
                let name = key.strip_prefix("ctrl-").ok_or_else(|| invalid(key))?;
                match name.as_bytes() {
                    [c @ b'a'..=b'z'] => Ok(c - b'a' + 1),
                    [b'@'] => Ok(0),
                    [c @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Ok(c - b'@'),
                    _ => Err(invalid(key)),
                }
            }
        })
        .collect()
}

/// Docker's escape proxy: passes input through, holding back bytes that may begin the
/// detach sequence until it is clear whether they do.
pub struct EscapeDetector {
    keys: Vec<u8>,
    matched: usize,
}

/// The result of feeding input to an [`EscapeDetector`].
#[derive(Debug, PartialEq, Eq)]
pub enum Escape {
    /// Bytes to pass to the container.
    Forward(Vec<u8>),
    /// The sequence was typed: pass on these bytes that came before it, then detach.
    Detach(Vec<u8>),
}

impl EscapeDetector {
    pub fn new(keys: Vec<u8>) -> EscapeDetector {
        EscapeDetector { keys, matched: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Escape {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
                continue;
            }
            // Not the sequence after all: release what was held back.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Escape::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_notation() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(
            parse_detach_keys("ctrl-@,a,ctrl-_,DEL").unwrap(),
            vec![0, b'a', 31, 127]
        );
        assert_eq!(parse_detach_keys("ctrl-[").unwrap(), vec![27]);
        let err = parse_detach_keys("ctrl-p,foo").unwrap_err().to_string();
        assert!(
            err.starts_with("Invalid detach keys (ctrl-p,foo) provided"),
            "{err}"
        );
        assert!(err.contains("\"foo\""), "{err}");
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("").is_err());
    }

    #[test]
    fn detects_the_sequence_across_reads_and_releases_false_starts() {
        let mut d = EscapeDetector::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(d.feed(b"ab\x10"), Escape::Forward(b"ab".to_vec()));
        assert_eq!(d.feed(b"x"), Escape::Forward(b"\x10x".to_vec()));
        assert_eq!(d.feed(b"\x10\x10"), Escape::Forward(b"\x10".to_vec()));
        assert_eq!(d.feed(b"\x11"), Escape::Detach(Vec::new()));
        assert_eq!(d.feed(b"hi\x10\x11rest"), Escape::Detach(b"hi".to_vec()));
    }
}
