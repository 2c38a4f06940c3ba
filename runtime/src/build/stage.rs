//! The state of the stage being built: its current image and config object (Docker's names:
//! `Env`, `Cmd`, `WorkingDir`, ...), the build args it declared, and how words expand in it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::dockerfile::{self, DockerfileError};
use crate::image::{ImageRecord, Platform};

/// The default shell of `RUN`, `CMD` and `ENTRYPOINT` in shell form.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// One stage in progress.
#[derive(Debug, Clone)]
pub struct StageState {
    /// The current image (`None`: `FROM scratch` and no step yet).
    pub image: Option<ImageRecord>,
    /// The current `config` object.
    pub config: Value,
    /// `MAINTAINER` (the image's `author`).
    pub author: Option<String>,
    /// Whether `CMD` was set in this stage (an `ENTRYPOINT` clears an inherited one).
    pub cmd_set: bool,
    /// ARGs declared in this stage, with their values (unset ones are absent).
    pub args: BTreeMap<String, String>,
    /// The platform of a stage from scratch.
    pub platform: Option<Platform>,
    /// The directive's escape character.
    pub escape: char,
}

impl StageState {
    pub fn new(image: Option<ImageRecord>, config: Value, escape: char) -> StageState {
        StageState {
            image,
            config: if config.is_object() {
                config
            } else {
                json!({})
            },
            author: None,
            cmd_set: false,
            args: BTreeMap::new(),
            platform: None,
            escape,
        }
    }

    /// The current image's id (`None` from scratch): the parent of the next step.
    pub fn image_id(&self) -> Option<String> {
        self.image.as_ref().map(|i| i.id.clone())
    }

    /// `KEY=VALUE` entries of the config's `Env`.
    pub fn env(&self) -> Vec<String> {
        string_list(&self.config["Env"])
    }

    /// A variable as steps see it: the environment first, then the stage's build args.
    pub fn lookup(&self, key: &str) -> Option<String> {
        self.env()
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
            .or_else(|| self.args.get(key).cloned())
    }

    /// Expands `word` (quotes removed, `$VAR`, `${VAR:-x}`, ...).
    pub fn expand(&self, word: &str) -> Result<String, DockerfileError> {
        dockerfile::expand(word, self.escape, &|k| self.lookup(k))
    }

    /// Expands `text` into words.
    pub fn expand_words(&self, text: &str) -> Result<Vec<String>, DockerfileError> {
        dockerfile::expand_words(text, self.escape, &|k| self.lookup(k))
    }

    /// The shell of shell-form commands (`SHELL`, default `/bin/sh -c`).
    pub fn shell(&self) -> Vec<String> {
        let shell = string_list(&self.config["Shell"]);
        if shell.is_empty() {
            DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
        } else {
            shell
        }
    }

    /// The working directory (`/` when unset).
    pub fn workdir(&self) -> String {
        match self.config["WorkingDir"].as_str() {
            Some(w) if !w.is_empty() => w.to_string(),
            _ => "/".to_string(),
        }
    }

    /// Sets `KEY=VALUE` in `Env`, replacing an earlier value of the key.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(format!("{key}={value}"));
        self.config["Env"] = json!(env);
    }

    /// The build args a `RUN` sees, as Docker lists them in the step's command
    /// (`|2 A=1 B=2 /bin/sh -c ...`): declared ones with a value not shadowed by `ENV`.
    pub fn run_args(&self) -> Vec<String> {
        let env = self.env();
        self.args
            .iter()
            .filter(|(k, _)| !env.iter().any(|e| e.split('=').next() == Some(k.as_str())))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// A JSON array of strings as a list (anything else: empty).
pub fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A list as Go's `%q` prints a string slice: `["sh" "-c" "x"]`, as Docker's history shows
/// `CMD` and `ENTRYPOINT`.
pub fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_args_and_run_args_skip_shadowed_ones() {
        let mut s = StageState::new(None, json!({"Env": ["PATH=/bin", "A=env"]}), '\\');
        s.args.insert("A".into(), "arg".into());
        s.args.insert("B".into(), "b".into());
        assert_eq!(s.lookup("A").as_deref(), Some("env"));
        assert_eq!(s.lookup("B").as_deref(), Some("b"));
        assert_eq!(s.lookup("C"), None);
        assert_eq!(s.run_args(), ["B=b"]);
        s.set_env("A", "2");
        assert_eq!(s.env(), ["PATH=/bin", "A=2"]);
        assert_eq!(s.shell(), ["/bin/sh", "-c"]);
        assert_eq!(s.workdir(), "/");
        assert_eq!(go_quoted(&["sh".into(), "-c".into()]), r#"["sh" "-c"]"#);
    }
}
