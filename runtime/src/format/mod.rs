//! What Docker users see: human sizes and durations, aligned tables, and the Go-template
//! subset of `--format` / `-f`.

pub mod contexts;
pub mod display;
pub mod filters;
pub mod go_duration;
pub mod tabwriter;
pub mod template;

/// A default format from the docker CLI's configuration file (`$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`): `psFormat`, `imagesFormat`, `statsFormat`, ... as the
/// docker CLI reads them when `--format` is not given.
pub fn docker_config_format(key: &str) -> Option<String> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    config[key]
        .as_str()
        .filter(|f| !f.is_empty())
        .map(str::to_string)
}
