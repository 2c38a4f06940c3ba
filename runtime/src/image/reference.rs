//! Image references the Docker way (`github.com/distribution/reference`): `busybox` is
//! `docker.io/library/busybox:latest`; `localhost:5000/x/y:tag` keeps its registry. Names are
//! stored normalized and shown in their familiar form, as Docker does.

use std::fmt;

use super::digest::is_lower_hex;
use super::ImageError;

/// The registry of names without one.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag of names without one.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_MAX: usize = 255;

/// A parsed, normalized image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes a reference like Docker's `ParseNormalizedNamed` (no default tag).
    pub fn parse(s: &str) -> Result<Reference, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: s.to_string(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("empty reference".into()));
        }
        if s.len() == 64 && is_lower_hex(s) {
            return Err(invalid(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                validate_digest(d).map_err(|r| invalid(format!("{s:?}: {r}")))?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/');
        let (name, tag) = match name_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|sl| colon > sl) => {
                let tag = &name_tag[colon + 1..];
                if !valid_tag(tag) {
                    return Err(invalid(format!(
                        "{s:?}: tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
                    )));
                }
                (&name_tag[..colon], Some(tag.to_string()))
            }
            _ => (name_tag, None),
        };
        if name.is_empty() {
            return Err(invalid(format!("{s:?}: repository name is empty")));
        }
        if name.len() > NAME_TOTAL_MAX {
            return Err(invalid(format!(
                "repository name must not be more than {NAME_TOTAL_MAX} characters"
            )));
        }
        let (domain, remainder) = split_docker_domain(name);
        if !valid_domain(&domain) {
            return Err(invalid(format!("{s:?}: invalid registry host {domain:?}")));
        }
        if remainder.to_lowercase() != remainder {
            return Err(invalid(format!(
                "repository name ({remainder}) must be lowercase"
            )));
        }
        if !remainder.split('/').all(valid_path_component) {
            return Err(invalid(format!(
                "{s:?}: repository path {remainder:?} must be lowercase letters, digits and \
                 separators (., _, __, -), components separated by /"
            )));
        }
        Ok(Reference {
            domain,
            path: remainder,
            tag,
            digest,
        })
    }

    /// Parses like [`Reference::parse`] and adds the tag `latest` when there is neither a tag
    /// nor a digest (Docker's `TagNameOnly`).
    pub fn parse_with_default_tag(s: &str) -> Result<Reference, ImageError> {
        Ok(Self::parse(s)?.with_default_tag())
    }

    /// Adds the tag `latest` if there is neither a tag nor a digest.
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// This repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// This repository with `digest` (and no tag).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The registry host (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it: `busybox`, `user/app`, `localhost:5000/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker shows it: `busybox:latest`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        self.format_with(self.familiar_name())
    }

    fn format_with(&self, name: String) -> String {
        let mut s = name;
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully normalized form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_with(self.name()))
    }
}

/// Docker's `FamiliarMatch`: `pattern` (Go `path.Match` syntax: `*`, `?`, `[...]`) against
/// the familiar reference (`busybox:latest`), or else its familiar name (`busybox`).
pub fn familiar_match(pattern: &str, r: &Reference) -> bool {
    glob_match(pattern, &r.familiar()) || glob_match(pattern, &r.familiar_name())
}

/// Go's `path.Match`: `*` matches any run of non-`/` characters, `?` one non-`/` character,
/// `[a-z]` / `[^...]` a class; `\\` escapes. A malformed pattern matches nothing.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=n.len() {
                if glob_at(rest, &n[i..]) {
                    return true;
                }
                if i < n.len() && n[i] == '/' {
                    break;
                }
            }
            false
        }
        Some('?') => !n.is_empty() && n[0] != '/' && glob_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return false;
            };
            let Some(&c) = n.first() else { return false };
            let mut class = &p[1..close];
            let negate = class.first() == Some(&'^');
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && c != '/' && glob_at(&p[close + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && glob_at(&p[2..], &n[1..]),
        Some(&c) => !n.is_empty() && n[0] == c && glob_at(&p[1..], &n[1..]),
    }
}

/// Docker's `splitDockerDomain`: the first component is a registry when it has a `.` or `:`,
/// is `localhost`, or has upper-case letters.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if word(c))
        && tag.len() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `alnum+ (separator alnum+)*` with separator `[_.]|__|[-]*` and alnum `[a-z0-9]`.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` where host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` labels or
/// a bracketed IPv6 address.
fn valid_domain(domain: &str) -> bool {
    let valid_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let v6_ok = !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        return v6_ok && (after.is_empty() || after.strip_prefix(':').is_some_and(valid_port));
    }
    let host = match domain.rsplit_once(':') {
        Some((h, p)) if valid_port(p) => h,
        Some(_) => return false,
        None => domain,
    };
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// `algorithm:encoded` with a known algorithm, or the generic grammar with >= 32 hex digits.
fn validate_digest(d: &str) -> Result<(), String> {
    match d.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty()
                && alg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-_".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            if alg == "sha256" && hex.len() != 64 {
                return Err(format!("digest {d:?}: sha256 needs 64 hex digits"));
            }
            Ok(())
        }
        _ => Err(format!("invalid digest {d:?}: expected ALGORITHM:HEX")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_with_default_tag(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(norm("localhost:5000/x/y:tag"), "localhost:5000/x/y:tag");
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("quay.io/a/b/c"), "quay.io/a/b/c:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse_with_default_tag("docker.io/library/busybox").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.familiar_name(), "busybox");
        let r = Reference::parse_with_default_tag("docker.io/user/app:1").unwrap();
        assert_eq!(r.familiar(), "user/app:1");
        let r = Reference::parse_with_default_tag("docker.io/library/a/b").unwrap();
        assert_eq!(r.familiar(), "library/a/b:latest");
        let r = Reference::parse_with_default_tag("localhost:5000/x/y:tag").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x/y:tag");
    }

    #[test]
    fn familiar_matching() {
        let r = Reference::parse_with_default_tag("busybox:1.36").unwrap();
        assert!(familiar_match("busybox", &r));
        assert!(familiar_match("busybox:1.*", &r));
        assert!(familiar_match("bus*", &r));
        assert!(!familiar_match("busybox:latest", &r));
        let r = Reference::parse_with_default_tag("localhost:5000/x/y:tag").unwrap();
        assert!(familiar_match("localhost:5000/x/*", &r));
        assert!(!familiar_match("localhost:5000/*", &r));
        assert!(glob_match("a[0-9]?", "a5z"));
        assert!(!glob_match("a[^0-9]", "a5"));
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "bu$ybox",
            "a//b",
            "-a",
            "a-",
            "busybox@sha256:abc",
            &"a".repeat(64),
            "localhost:port/x",
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(
                matches!(err, ImageError::InvalidReference { .. }),
                "{bad:?} gave {err}"
            );
        }
        let err = Reference::parse("Busybox").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert!(Reference::parse("a__b/c-d/e.f---g").is_ok());
        assert!(Reference::parse("[::1]:5000/x").is_ok());
    }
}
