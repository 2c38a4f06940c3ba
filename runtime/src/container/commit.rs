//! `docker commit`: a container's changes (its overlayfs upper directory) as a new image whose
//! config is the container's own (command, environment, user, working directory, labels) over
//! its image's, paused while its files are read unless told otherwise.

use serde_json::{json, Value};

use super::config::ContainerConfig;
use super::lifecycle::set_paused;
use super::ContainerError;
use crate::image::commit::Commit;
use crate::image::{ImageRecord, ImageStore, Reference};
use crate::Paths;

/// What `commit` is asked for beside the container.
#[derive(Debug, Default, Clone)]
pub struct CommitOptions {
    /// `-m`
    pub comment: Option<String>,
    /// `-a`
    pub author: Option<String>,
    /// `--pause` (Docker's default: true).
    pub pause: bool,
    /// REPOSITORY[:TAG]
    pub name: Option<Reference>,
}

/// The container's config as an image config object: its image's, with what the container
/// was created with on top (Docker commits the container's `Config`).
pub fn container_image_config(paths: &Paths, config: &ContainerConfig) -> Value {
    let base = ImageStore::open(paths)
        .ok()
        .and_then(|images| {
            let image = images.resolve(&config.image_id).ok()?;
            images.config_json(&image).ok()
        })
        .unwrap_or_default();
    let mut out = base.get("config").cloned().unwrap_or_else(|| json!({}));
    let env: Vec<&String> = config
        .process
        .env
        .iter()
        .filter(|e| !e.starts_with("HOSTNAME="))
        .collect();
    let list = |v: &Vec<String>| match v.is_empty() {
        true => Value::Null,
        false => json!(v),
    };
    out["Env"] = json!(env);
    out["Cmd"] = list(&config.cmd);
    out["Entrypoint"] = list(&config.entrypoint);
    out["User"] = json!(config.process.user);
    let cwd = config.process.cwd.display().to_string();
    out["WorkingDir"] = json!(if cwd == "/" { String::new() } else { cwd });
    out["Labels"] = match config.labels.is_empty() {
        true => Value::Null,
        false => json!(config.labels),
    };
    if let Some(health) = &config.healthcheck {
        out["Healthcheck"] = json!(health);
    }
    out
}

/// Commits `config`'s container with `image_config` (see [`container_image_config`]) as the
/// new image's config; emits Docker's `commit` event.
pub fn commit(
    paths: &Paths,
    config: &ContainerConfig,
    image_config: Value,
    options: CommitOptions,
) -> Result<ImageRecord, ContainerError> {
    let store = ImageStore::open(paths)?;
    let base = store.resolve(&config.image_id).ok();
    let running = super::observe(paths, config)?;
    let pause = options.pause && running.status == super::Status::Running && !running.paused;
    if pause {
        set_paused(paths, config, true)?;
    }
    let upper = paths.container_dir(&config.id).join("upper");
    let made = store.commit(Commit {
        base: base.as_ref(),
        changes: Some(&upper),
        config: image_config,
        created_by: config.process.args.join(" "),
        comment: options.comment.clone(),
        author: options.author.clone(),
        container: Some(config.id.clone()),
        platform: None,
        parent: base.as_ref().map(|b| b.id.clone()),
        build_key: None,
        names: options.name.into_iter().collect(),
    });
    if pause {
        if let Err(e) = set_paused(paths, config, false) {
            tracing::warn!("unpausing {} after commit: {e}", config.name);
        }
    }
    let made = made?;
    let mut attrs = vec![("imageID", made.id.clone())];
    if let Some(c) = &options.comment {
        attrs.push(("comment", c.clone()));
    }
    crate::events::container(paths, "commit", config, &attrs);
    Ok(made)
}
