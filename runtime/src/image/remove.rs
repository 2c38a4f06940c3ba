//! `rmi` with Docker's semantics (moby `daemon/images/image_delete.go`):
//!
//! - By name: the reference is untagged (`Untagged: busybox:latest`); if it was the last tag of
//!   its repository, that repository's digest references go too. If no reference is left the
//!   image is deleted (`Deleted: sha256:...`) with every layer no other image uses.
//! - By id (or id prefix): all references are removed and the image deleted, unless it has
//!   several tags (`... (must be forced) - image is referenced in multiple repositories`).
//! - An image a container uses (`in_use(id)`, see [`super::usage`]) is never deleted, as
//!   its layers are the container's lowerdirs. Untagging its last tag needs `force`
//!   (`conflict: unable to remove repository reference "busybox" (must force) - container
//!   <id> is using its referenced image <id>`), and then leaves it dangling, as Docker does
//!   with an image of a running container. Deleting it by id is refused even with `force`.
//!
//! `prune` is Docker's `ImagesPrune`: each selected image no container uses loses its
//! references one by one (as `rmi NAME` would), or is deleted by id when it has none.

use std::fmt;

use serde::Serialize;
use tracing::info;

use super::filter::PruneFilter;
use super::reference::Reference;
use super::store::{Matched, Repositories};
use super::usage::ImageUser;
use super::{ImageError, ImageRecord, ImageStore};

/// One thing `rmi` or `prune` did, serialized as the Engine API's `{"Untagged": "..."}` /
/// `{"Deleted": "..."}` items; shown as Docker's CLI shows them (`Untagged: busybox:latest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Deletion {
    /// A reference removed (familiar form).
    Untagged(String),
    /// An image id, or a layer's diff id.
    Deleted(String),
}

impl fmt::Display for Deletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deletion::Untagged(r) => write!(f, "Untagged: {r}"),
            Deletion::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

impl Deletion {
    /// As `docker image prune` prints it: `untagged: busybox:latest`, `deleted: sha256:...`.
    pub fn prune_line(&self) -> String {
        match self {
            Deletion::Untagged(r) => format!("untagged: {r}"),
            Deletion::Deleted(id) => format!("deleted: {id}"),
        }
    }
}

/// Who uses an image: `image id -> a container made from it`.
pub type InUse<'a> = &'a dyn Fn(&str) -> Option<ImageUser>;

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
    /// Removes `reference` with Docker's `rmi` semantics (see the module docs) and returns
    /// what it did, in Docker's order. `in_use(image_id)` names a container using the image,
    /// if any. A missing image is [`ImageError::NotFound`] worded `No such image: X`.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        in_use: InUse,
    ) -> Result<Vec<Deletion>, ImageError> {
        let id = self.lookup(reference).ok().map(|(r, _)| r.id);
        let images_before: std::collections::HashSet<String> = self
            .image_hexes()
            .map(|h| h.into_iter().map(|h| format!("sha256:{h}")).collect())
            .unwrap_or_default();
        let lines = self.remove_locked(reference, force, in_use)?;
        // dockerd's events: `untag` per reference removed, `delete` per image deleted (the
        // other `Deleted` lines are layers).
        for line in &lines {
            match (line, &id) {
                (Deletion::Untagged(_), Some(id)) => self.event("untag", id, id),
                (Deletion::Deleted(d), _) if images_before.contains(d) => {
                    self.event("delete", d, d)
                }
                _ => {}
            }
        }
        Ok(lines)
    }

    fn remove_locked(
        &self,
        reference: &str,
        force: bool,
        in_use: InUse,
    ) -> Result<Vec<Deletion>, ImageError> {
        let _lock = self.lock()?;
        self.sweep_temp();
        let (record, matched) = self.lookup(reference).map_err(ImageError::no_such)?;
        let id = record.id.clone();
        let mut repos = self.read_repositories()?;
        let mut lines = Vec::new();
        let refs = repos.refs_of(&id);

        let quiet = match matched {
            Matched::Name(r) => {
                if !force && is_single_reference(&refs) {
                    if let Some(user) = in_use(&id) {
                        return Err(ImageError::Conflict {
                            message: format!(
                                "unable to remove repository reference {reference:?} (must force) - \
                                 container {} is using its referenced image {}",
                                short(&user.container),
                                short(&id)
                            ),
                        });
                    }
                }
                repos.remove(&r);
                lines.push(Deletion::Untagged(r.familiar()));
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
                            lines.push(Deletion::Untagged(o.familiar()));
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
                    if let Some(user) = in_use(&id) {
                        return Err(used_conflict(&id, &user));
                    }
                    for r in &refs {
                        repos.remove(r);
                        lines.push(Deletion::Untagged(r.familiar()));
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
        in_use: InUse,
        lines: &mut Vec<Deletion>,
    ) -> Result<(), ImageError> {
        let id = &record.id;
        if let Some(user) = in_use(id) {
            if quiet {
                // Untagged by name with force: the image stays, dangling, for its container.
                self.write_repositories(repos)?;
                return Ok(());
            }
            return Err(used_conflict(id, &user));
        }
        if self.has_children(id)? {
            if quiet {
                self.write_repositories(repos)?;
                return Ok(());
            }
            return Err(ImageError::Conflict {
                message: format!(
                    "unable to delete {} (cannot be forced) - image has dependent child images",
                    short(id)
                ),
            });
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
                lines.push(Deletion::Untagged(r.familiar()));
            }
        }
        self.write_repositories(repos)?;
        self.delete_record(record.hex())?;
        lines.push(Deletion::Deleted(id.clone()));
        self.delete_untagged_parents(record, repos, in_use, lines)?;
        for layer in self.collect_garbage()? {
            lines.push(Deletion::Deleted(layer));
        }
        info!("deleted image {id}");
        Ok(())
    }
}

impl ImageStore {
    /// Whether an image made by `build` or `commit` names `id` as its parent.
    pub(crate) fn has_children(&self, id: &str) -> Result<bool, ImageError> {
        Ok(self
            .records()?
            .iter()
            .any(|r| r.parent.as_deref() == Some(id)))
    }

    /// After deleting a built image, its untagged, unused, childless parents go too (the
    /// build's intermediate images), as Docker's `rmi` does without `--no-prune`.
    fn delete_untagged_parents(
        &self,
        record: &ImageRecord,
        repos: &Repositories,
        in_use: InUse,
        lines: &mut Vec<Deletion>,
    ) -> Result<(), ImageError> {
        let mut next = record.parent.clone();
        while let Some(parent_id) = next.take() {
            let hex = parent_id.strip_prefix("sha256:").unwrap_or(&parent_id);
            let Some(parent) = self.read_record(hex)? else {
                break;
            };
            if !repos.refs_of(&parent.id).is_empty()
                || in_use(&parent.id).is_some()
                || self.has_children(&parent.id)?
            {
                break;
            }
            self.delete_record(parent.hex())?;
            lines.push(Deletion::Deleted(parent.id.clone()));
            next = parent.parent;
        }
        Ok(())
    }
}

/// What [`ImageStore::prune`] removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// References removed and images and layers deleted, in order.
    pub deleted: Vec<Deletion>,
    /// Bytes of layer content freed.
    pub reclaimed: u64,
}

impl ImageStore {
    /// `docker image prune`: removes the images `filter` selects that no container uses
    /// (dangling ones, or with `dangling=false` every one), and the layers only they used.
    /// An image that cannot go (a conflict) is left alone, as dockerd leaves it.
    pub fn prune(&self, filter: &PruneFilter, in_use: InUse) -> Result<PruneReport, ImageError> {
        let mut report = PruneReport::default();
        let repos = self.read_repositories()?;
        for image in self.list()? {
            if !filter.selects(&image) || in_use(&image.id).is_some() {
                continue;
            }
            let sizes: std::collections::HashMap<String, u64> = image
                .diff_ids
                .iter()
                .cloned()
                .zip(image.layer_sizes.iter().copied())
                .collect();
            let refs = repos.refs_of(&image.id);
            let targets: Vec<String> = if refs.is_empty() {
                vec![image.hex().to_string()]
            } else if !filter.dangling_only || refs.iter().all(|r| r.digest().is_some()) {
                refs.iter().map(Reference::familiar).collect()
            } else {
                continue;
            };
            for target in targets {
                let deleted = match self.remove(&target, false, in_use) {
                    Ok(deleted) => deleted,
                    // Gone meanwhile, or kept by a conflict: dockerd skips it too.
                    Err(ImageError::NotFound { .. } | ImageError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                };
                for d in &deleted {
                    if let Deletion::Deleted(layer) = d {
                        report.reclaimed += sizes.get(layer).copied().unwrap_or(0);
                    }
                }
                report.deleted.extend(deleted);
            }
        }
        Ok(report)
    }
}

fn used_conflict(id: &str, user: &ImageUser) -> ImageError {
    ImageError::Conflict {
        message: format!(
            "unable to delete {} (cannot be forced) - image is being used by {} container {}",
            short(id),
            if user.running { "running" } else { "stopped" },
            short(&user.container)
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
