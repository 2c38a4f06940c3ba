//! `ebrun update --restart POLICY`: a container's restart policy changed after creation. It
//! is saved in the container's config; a running container's monitor reads the policy again
//! each time the container exits, so the new one applies from the next exit on.

use super::store::ContainerStore;
use super::{ContainerConfig, ContainerError, RestartPolicy};

/// Docker's refusal for a container created with `--rm`.
pub const AUTO_REMOVE_CONFLICT: &str =
    "Restart policy cannot be updated because AutoRemove is enabled for the container";

/// Sets the restart policy of the container `id` (under the store's lock).
pub fn set_restart_policy(
    store: &ContainerStore,
    id: &str,
    policy: RestartPolicy,
) -> Result<(), ContainerError> {
    let _lock = store.lock()?;
    let mut config = store.lookup(id)?;
    if config.auto_remove && policy != RestartPolicy::No {
        return Err(ContainerError::InvalidState(AUTO_REMOVE_CONFLICT.into()));
    }
    config.restart = policy;
    store.save_config(&config)
}

/// The restart policy in force for `config`'s container now: the saved one, or the one it
/// started with if its config cannot be read (e.g. it was removed meanwhile).
pub fn current_policy(store: &ContainerStore, config: &ContainerConfig) -> RestartPolicy {
    crate::state::read_json::<ContainerConfig>(&store.dir(&config.id).join("config.json"))
        .map(|c| c.restart)
        .unwrap_or(config.restart)
}
