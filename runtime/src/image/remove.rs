//! `rmi` with Docker's semantics (moby `daemon/images/image_delete.go`):
//!
//! - By name: the reference is untagged (`Untagged: busybox:latest`); if it was the last tag of
//!   its repository, that repository's digest references go too. If no reference is left the
//!   image is deleted (`Deleted: sha256:...`) with every layer no other image uses.
//! - By id (or id prefix): all references are removed and the image deleted, unless it has
//!   several tags (`... (must be forced) - image is referenced in multiple repositories`).
//! - An image a container uses (`in_use(id)` returns the container's id) is never deleted, as
//!   its layers are the container's lowerdirs. Untagging its last tag needs `force`
//!   (`conflict: unable to remove repository reference "busybox" (must force) - container
//!   <id> is using its referenced image <id>`), and then leaves it dangling, as Docker does
//!   with an image of a running container. Deleting it by id is refused even with `force`.

use tracing::info;

use super::reference::Reference;
use super::store::{Matched, Repositories};
use super::{ImageError, ImageRecord, ImageStore};

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Docker's `isSingleReference`: at most one tag, and digest references only of its
/// repository.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical_names = std::collections::HashSet::new();
    for r in refs {
        if r.digest().is_some() {
            canonical_names.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical_names.len() == 1 && canonical_names.contains(&single.name())
}

impl ImageStore {
    /// Removes `reference` with Docker's `rmi` semantics (see the module docs) and returns the
    /// lines Docker prints (`Untagged: ...`, `Deleted: sha256:...`). `in_use(image_id)` returns
    /// the id of a container using the image, if any. A missing image is
    /// [`ImageError::NotFound`] worded `No such image: X`.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, ImageError> {
        let _lock = self.lock()?;
        self.sweep_temp();
        let (record, matched) = self.lookup(reference).map_err(|e| match e {
            ImageError::NotFound { reference, .. } => ImageError::NotFound {
                reference,
                local: false,
            },
            other => other,
        })?;
        let id = record.id.clone();
        let mut repos = self.read_repositories()?;
        let mut lines = Vec::new();
        let refs = repos.refs_of(&id);

        let quiet = match matched {
            Matched::Name(r) => {
                if !force && is_single_reference(&refs) {
                    if let Some(container) = in_use(&id) {
                        return Err(ImageError::Conflict {
                            message: format!(
                                "unable to remove repository reference {reference:?} (must force) - \
                                 container {} is using its referenced image {}",
                                short(&container),
                                short(&id)
                            ),
                        });
                    }
                }
                repos.remove(&r);
                lines.push(format!("Untagged: {}", r.familiar()));
                let mut remaining = repos.refs_of(&id);
                if r.digest().is_none() {
                    let tag_left_in_repo = remaining
                        .iter()
                        .any(|o| o.digest().is_none() && o.name() == r.name());
                    if !tag_left_in_repo {
                        for o in remaining
                            .iter()
                            .filter(|o| o.digest().is_some() && o.name() == r.name())
                        {
                            repos.remove(o);
                            lines.push(format!("Untagged: {}", o.familiar()));
                        }
                        remaining = repos.refs_of(&id);
                    }
                }
                if !remaining.is_empty() {
                    self.write_repositories(&repos)?;
                    return Ok(lines);
                }
                true
            }
            Matched::Id => {
                if is_single_reference(&refs) {
                    if let Some(container) = in_use(&id) {
                        return Err(used_conflict(&id, &container));
                    }
                    for r in &refs {
                        repos.remove(r);
                        lines.push(format!("Untagged: {}", r.familiar()));
                    }
                }
                false
            }
        };
        self.delete_image(&record, &mut repos, force, quiet, in_use, &mut lines)?;
        Ok(lines)
    }

    /// Docker's `imageDeleteHelper`.
    fn delete_image(
        &self,
        record: &ImageRecord,
        repos: &mut Repositories,
        force: bool,
        quiet: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
        lines: &mut Vec<String>,
    ) -> Result<(), ImageError> {
        let id = &record.id;
        if let Some(container) = in_use(id) {
            if quiet {
                // Untagged by name with force: the image stays, dangling, for its container.
                self.write_repositories(repos)?;
                return Ok(());
            }
            return Err(used_conflict(id, &container));
        }
        let remaining = repos.refs_of(id);
        if !remaining.is_empty() {
            if !force {
                return Err(ImageError::Conflict {
                    message: format!(
                        "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short(id)
                    ),
                });
            }
            for r in &remaining {
                repos.remove(r);
                lines.push(format!("Untagged: {}", r.familiar()));
            }
        }
        self.write_repositories(repos)?;
        self.delete_record(record.hex())?;
        lines.push(format!("Deleted: {id}"));
        for layer in self.collect_garbage()? {
            lines.push(format!("Deleted: {layer}"));
        }
        info!("deleted image {id}");
        Ok(())
    }
}

/// What [`ImageStore::prune`] removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Docker's lines: `untagged: busybox:latest`, `deleted: sha256:...`.
    pub lines: Vec<String>,
    /// Bytes of layer content freed.
    pub reclaimed: u64,
}

impl ImageStore {
    /// `docker image prune`: deletes dangling images (with `all`, every image) that no
    /// container uses, and the layers only they used.
    pub fn prune(
        &self,
        all: bool,
        in_use: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PruneReport, ImageError> {
        let mut report = PruneReport::default();
        for image in self.list()? {
            if (!all && !image.is_dangling()) || in_use(&image.id).is_some() {
                continue;
            }
            let sizes: std::collections::HashMap<String, u64> = image
                .diff_ids
                .iter()
                .cloned()
                .zip(image.layer_sizes.iter().copied())
                .collect();
            let lines = match self.remove(&image.id, true, in_use) {
                Ok(lines) => lines,
                // Removed meanwhile by someone else: nothing to prune.
                Err(ImageError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            for line in lines {
                if let Some(layer) = line.strip_prefix("Deleted: ") {
                    report.reclaimed += sizes.get(layer).copied().unwrap_or(0);
                }
                report.lines.push(
                    line.replacen("Untagged:", "untagged:", 1)
                        .replacen("Deleted:", "deleted:", 1),
                );
            }
        }
        Ok(report)
    }
}

fn used_conflict(id: &str, container: &str) -> ImageError {
    ImageError::Conflict {
        message: format!(
            "unable to delete {} (cannot be forced) - image is being used by container {}",
            short(id),
            short(container)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(list: &[&str]) -> Vec<Reference> {
        list.iter().map(|s| Reference::parse(s).unwrap()).collect()
    }

    #[test]
    fn single_reference_like_docker() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(!is_single_reference(&[]));
        assert!(is_single_reference(&refs(&["busybox:latest"])));
        assert!(is_single_reference(&refs(&[
            "busybox:latest",
            &format!("busybox@{d}")
        ])));
        assert!(!is_single_reference(&refs(&[
            "busybox:latest",
            "busybox:1"
        ])));
        assert!(!is_single_reference(&refs(&[
            "busybox:latest",
            &format!("other@{d}")
        ])));
    }
}
