//! Docker's filters of `docker images` and `docker image prune`, from `--filter KEY=VALUE`
//! flags or the Engine API's `filters` JSON (both as [`FilterArgs`]), with dockerd's rules
//! and messages (moby `daemon/images/images.go`, `image_prune.go`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::reference::{familiar_match, Reference};
use super::{ImageError, ImageRecord, ImageStore};
pub use crate::network::FilterArgs;

/// The keys `docker images` accepts.
const LIST_KEYS: [&str; 6] = ["dangling", "label", "before", "since", "reference", "until"];
/// The keys `docker image prune` accepts.
const PRUNE_KEYS: [&str; 4] = ["dangling", "label", "label!", "until"];

fn invalid(message: String) -> ImageError {
    ImageError::InvalidArgument { message }
}

/// The labels of an image's config.
pub fn labels_of(image: &ImageRecord) -> BTreeMap<String, String> {
    image
        .exec_config()
        .and_then(|c| c.labels().clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

/// Docker's `until`: a time, or a duration back from now; Unix nanoseconds.
fn until_of(args: &FilterArgs) -> Result<Option<i64>, ImageError> {
    args.until().map_err(invalid)
}

fn created_nanos(image: &ImageRecord) -> i64 {
    image
        .created_at()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// `docker images` filters, checked as dockerd checks them.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    args: FilterArgs,
    dangling: Option<bool>,
    /// Creation times of the `before` / `since` images (the newest bound given wins).
    before: Option<Option<DateTime<Utc>>>,
    since: Option<Option<DateTime<Utc>>>,
    until: Option<i64>,
}

impl ListFilter {
    /// Checks `args`; `before` and `since` name images of `store` (Docker's "No such image"
    /// when they are missing).
    pub fn new(store: &ImageStore, args: FilterArgs) -> Result<Self, ImageError> {
        args.validate(&LIST_KEYS).map_err(invalid)?;
        let dangling = if args.contains("dangling") {
            Some(args.bool_or("dangling", false).map_err(invalid)?)
        } else {
            None
        };
        let bound = |key: &str| -> Result<Option<Option<DateTime<Utc>>>, ImageError> {
            let mut out = None;
            for name in args.values(key) {
                let image = store.resolve(name).map_err(ImageError::no_such)?;
                out = Some(image.created_at());
            }
            Ok(out)
        };
        Ok(ListFilter {
            before: bound("before")?,
            since: bound("since")?,
            until: until_of(&args)?,
            dangling,
            args,
        })
    }

    /// The images of `images` that pass, in the same order. With `reference` patterns, an
    /// image's `repo_tags` and `repo_digests` keep only the names that match, as dockerd
    /// lists them.
    pub fn apply(&self, images: Vec<ImageRecord>) -> Vec<ImageRecord> {
        images
            .into_iter()
            .filter_map(|image| self.pass(image))
            .collect()
    }

    fn pass(&self, mut image: ImageRecord) -> Option<ImageRecord> {
        if let Some(before) = self.before {
            if image.created_at() >= before {
                return None;
            }
        }
        if let Some(since) = self.since {
            if image.created_at() <= since {
                return None;
            }
        }
        if self.until.is_some_and(|u| created_nanos(&image) > u) {
            return None;
        }
        if !self.args.labels_match("label", &labels_of(&image)) {
            return None;
        }
        let patterns = self.args.values("reference");
        let matching = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .filter(|n| {
                    patterns.is_empty()
                        || Reference::parse(n)
                            .is_ok_and(|r| patterns.iter().any(|p| familiar_match(p, &r)))
                })
                .cloned()
                .collect()
        };
        image.repo_tags = matching(&image.repo_tags);
        image.repo_digests = matching(&image.repo_digests);
        if image.repo_tags.is_empty() && image.repo_digests.is_empty() {
            // Untagged: shown unless only dangling=false images or names are asked for.
            if self.dangling == Some(false) || !patterns.is_empty() {
                return None;
            }
        } else if self.dangling == Some(true) && !image.repo_tags.is_empty() {
            return None;
        }
        Some(image)
    }
}

/// `docker image prune` filters: `dangling` (default true: only images without a tag),
/// `label` / `label!`, and `until`.
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    args: FilterArgs,
    /// Only images without a tag (`dangling=true`, the default); false: every image no
    /// container uses (`prune -a`).
    pub dangling_only: bool,
    until: Option<i64>,
}

impl PruneFilter {
    pub fn new(args: FilterArgs) -> Result<Self, ImageError> {
        args.validate(&PRUNE_KEYS).map_err(invalid)?;
        Ok(PruneFilter {
            dangling_only: args.bool_or("dangling", true).map_err(invalid)?,
            until: until_of(&args)?,
            args,
        })
    }

    /// `prune` (dangling images) or `prune -a` (every unused image), without other filters.
    pub fn all(all: bool) -> Self {
        PruneFilter {
            dangling_only: !all,
            ..Default::default()
        }
    }

    /// Whether `until` and the labels select `image` (tags and use are looked at by the
    /// prune itself).
    pub fn selects(&self, image: &ImageRecord) -> bool {
        self.until.is_none_or(|u| created_nanos(image) <= u)
            && self.args.labels_select(&labels_of(image))
    }
}

/// `docker images` without `-a`: the untagged images a build or commit made others from
/// (its intermediate steps) are left out.
pub fn top_level(images: Vec<ImageRecord>) -> Vec<ImageRecord> {
    let parents: std::collections::HashSet<String> =
        images.iter().filter_map(|i| i.parent.clone()).collect();
    images
        .into_iter()
        .filter(|i| {
            !(i.repo_tags.is_empty() && i.repo_digests.is_empty() && parents.contains(&i.id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> FilterArgs {
        FilterArgs::from_pairs(pairs)
    }

    #[test]
    fn prune_filters_as_dockerd() {
        assert!(PruneFilter::new(args(&[])).unwrap().dangling_only);
        assert!(
            !PruneFilter::new(args(&[("dangling", "false")]))
                .unwrap()
                .dangling_only
        );
        let err = |pairs: &[(&str, &str)]| PruneFilter::new(args(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("reference", "x")]), "invalid filter 'reference'");
        assert_eq!(
            err(&[("dangling", "maybe")]),
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(
            err(&[("until", "1h"), ("until", "2h")]),
            "more than one until filter specified"
        );
    }
}
