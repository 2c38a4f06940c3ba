//! The container a `RUN`, `COPY` or `ADD` step works in: created from the stage's current
//! image like any container (same create path, same network), its changes committed as the
//! step's layer, and removed with its anonymous volumes whatever happens (the guard removes
//! it when dropped, so a failed or interrupted step leaves no container behind).

use crate::container::{self, ContainerConfig, ContainerStore, RunSpec};
use crate::network::NetworkMode;
use crate::Paths;

use super::error::BuildError;
use super::stage::StageState;

/// A step's container, removed on drop.
pub struct StepContainer<'a> {
    paths: &'a Paths,
    pub config: ContainerConfig,
}

impl<'a> StepContainer<'a> {
    /// Creates the container of a step of `state` running `cmd` (for `COPY`: a command that
    /// never runs). `network`: `--network` of the build or of `RUN --network`.
    pub fn create(
        paths: &'a Paths,
        state: &StageState,
        cmd: Vec<String>,
        network: Option<&str>,
        line: usize,
    ) -> Result<StepContainer<'a>, BuildError> {
        let image = state.image_id().ok_or_else(|| {
            BuildError::step(
                line,
                "this stage is FROM scratch and has no files yet: nothing to run",
            )
        })?;
        let mut spec = RunSpec {
            image,
            cmd,
            // RUN ignores the image's ENTRYPOINT, as Docker's builder does.
            entrypoint: Some(Vec::new()),
            env: state.run_args(),
            ..Default::default()
        };
        if let Some(n) = network.filter(|n| *n != "default") {
            spec.network.mode = NetworkMode::parse(n)
                .map_err(|e| BuildError::step(line, format!("--network: {e}")))?;
        }
        let created = container::create(paths, &spec)?;
        Ok(StepContainer {
            paths,
            config: created.config,
        })
    }

    /// The container's upper directory: its changes.
    pub fn upper(&self) -> std::path::PathBuf {
        self.paths.container_dir(&self.config.id).join("upper")
    }

    pub fn short_id(&self) -> &str {
        container::short_id(&self.config.id)
    }
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        let store = ContainerStore::new(self.paths);
        if !store.dir(&self.config.id).exists() {
            return;
        }
        if let Err(e) = container::remove_container(self.paths, &self.config, true, true) {
            tracing::warn!("removing intermediate container {}: {e}", self.config.id);
        }
    }
}
