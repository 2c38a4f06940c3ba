//! Platforms (`os/arch[/variant]`) as `--platform` takes them and image indexes list them,
//! normalized as containerd's `platforms.Normalize` does (`x86_64` is `amd64`, `aarch64` is
//! `arm64`, `arm64/v8` is `arm64`, bare `arm` is `arm/v7`).

use std::fmt;

use super::import::oci_layout::{host_arch, host_os};
use super::ImageError;

/// A platform: GOOS, GOARCH and the optional CPU variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform ebrun runs on.
    pub fn host() -> Platform {
        Platform::new(host_os(), host_arch(), None)
    }

    /// A normalized platform.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let os = if os == "macos" { "darwin".into() } else { os };
        let (architecture, variant) = normalize_arch(
            &architecture.to_ascii_lowercase(),
            variant.map(str::to_ascii_lowercase),
        );
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// Parses `--platform`'s `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, ImageError> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(ImageError::InvalidPlatform {
                platform: s.to_string(),
                reason: "expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7".into(),
            });
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }

    /// Whether an image of platform `other` is what `self` asks for. A request without a
    /// variant takes any variant of its architecture.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// containerd's `normalizeArch`.
fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    match (arch, variant.as_deref()) {
        ("i386", _) => ("386".into(), None),
        ("x86_64" | "x86-64" | "amd64", None | Some("v1")) => ("amd64".into(), None),
        ("x86_64" | "x86-64", v) => ("amd64".into(), v.map(str::to_string)),
        ("aarch64" | "arm64", None | Some("8" | "v8")) => ("arm64".into(), None),
        ("aarch64", v) => ("arm64".into(), v.map(str::to_string)),
        ("armhf", _) => ("arm".into(), Some("v7".into())),
        ("armel", _) => ("arm".into(), Some("v6".into())),
        ("arm", None | Some("7")) => ("arm".into(), Some("v7".into())),
        ("arm", Some(v @ ("5" | "6" | "8"))) => ("arm".into(), Some(format!("v{v}"))),
        (a, v) => (a.to_string(), v.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("Linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/arm/v6").unwrap().to_string(),
            "linux/arm/v6"
        );
        assert_eq!(
            Platform::parse("linux/xyz").unwrap().to_string(),
            "linux/xyz"
        );
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert!(arm64.matches(&Platform::new("linux", "arm64", Some("v8"))));
        assert!(!arm64.matches(&Platform::new("linux", "amd64", None)));
        let v6 = Platform::parse("linux/arm/v6").unwrap();
        assert!(!v6.matches(&Platform::new("linux", "arm", Some("v7"))));
        assert!(Platform::new("linux", "arm", None).matches(&Platform::new(
            "linux",
            "arm",
            Some("v7")
        )));
    }
}
