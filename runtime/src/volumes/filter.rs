//! Docker's filters of `volume ls` and `volume prune`, from `--filter KEY=VALUE` flags or the
//! Engine API's `filters` JSON, with dockerd's rules and messages.

use crate::container::ContainerConfig;
use crate::network::FilterArgs;

use super::store::{VolumeRecord, VolumeStore};
use super::VolumeError;

/// The keys `volume ls` accepts.
const LIST_KEYS: [&str; 4] = ["dangling", "driver", "label", "name"];

/// `volume ls` filters.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilter {
    args: FilterArgs,
    /// Only volumes no container uses (true) or only used ones (false).
    dangling: Option<bool>,
}

impl VolumeFilter {
    pub fn new(args: FilterArgs) -> Result<Self, VolumeError> {
        args.validate(&LIST_KEYS)
            .map_err(VolumeError::InvalidFilter)?;
        let dangling = if args.contains("dangling") {
            Some(
                args.bool_or("dangling", false)
                    .map_err(VolumeError::InvalidFilter)?,
            )
        } else {
            None
        };
        Ok(VolumeFilter { args, dangling })
    }

    /// Whether `v` passes; `used`: a container (running or not) mounts it.
    pub fn matches(&self, v: &VolumeRecord, used: bool) -> bool {
        self.args.exact("driver", "local")
            && self.args.matches("name", &v.name)
            && self.args.labels_select(&v.docker_labels())
            && self.dangling.is_none_or(|dangling| dangling != used)
    }

    /// The volumes of `store` that pass, by name; `containers` tell which are used.
    pub fn apply(&self, store: &VolumeStore, containers: &[ContainerConfig]) -> Vec<VolumeRecord> {
        store
            .list()
            .into_iter()
            .filter(|v| self.matches(v, !store.users(&v.name, containers).is_empty()))
            .collect()
    }
}

/// The keys `volume prune` accepts.
const PRUNE_KEYS: [&str; 3] = ["all", "label", "label!"];

/// `volume prune` filters: labels, and `all` (named volumes too, not only anonymous ones).
#[derive(Debug, Clone, Default)]
pub struct VolumePruneFilter {
    args: FilterArgs,
    all: bool,
}

impl VolumePruneFilter {
    pub fn new(args: FilterArgs) -> Result<Self, VolumeError> {
        args.validate(&PRUNE_KEYS)
            .map_err(VolumeError::InvalidFilter)?;
        let all = match args.values("all") {
            [] => false,
            [one] => parse_bool(one).ok_or_else(|| {
                VolumeError::InvalidFilter(format!(
                    "invalid filter 'all': strconv.ParseBool: parsing {one:?}: invalid syntax"
                ))
            })?,
            many => {
                return Err(VolumeError::InvalidFilter(format!(
                    "invalid filter 'all=[{}]': only one value is expected",
                    many.join(" ")
                )))
            }
        };
        Ok(VolumePruneFilter { args, all })
    }

    /// Removes the unused volumes the filters select; returns their names and the bytes
    /// freed.
    pub fn prune(&self, store: &VolumeStore) -> Result<(Vec<String>, u64), VolumeError> {
        store.prune(self.all, |v| !self.args.labels_select(&v.docker_labels()))
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn args(pairs: &[(&str, &str)]) -> FilterArgs {
        FilterArgs::from_pairs(pairs)
    }

    #[test]
    fn list_and_prune_filters_as_dockerd() {
        let v = VolumeRecord {
            name: "data1".into(),
            created_at: String::new(),
            labels: BTreeMap::from([("x".to_string(), "y".to_string())]),
            anonymous: true,
        };
        let ok = |pairs: &[(&str, &str)], used| {
            VolumeFilter::new(args(pairs)).unwrap().matches(&v, used)
        };
        assert!(ok(&[("name", "data")], false));
        assert!(ok(&[("label", "x=y")], false));
        assert!(ok(&[("label", "com.docker.volume.anonymous")], false));
        assert!(!ok(&[("label", "x=z")], false));
        assert!(ok(&[("dangling", "true")], false));
        assert!(!ok(&[("dangling", "1")], true));
        assert!(!ok(&[("driver", "nfs")], false));
        assert_eq!(
            VolumeFilter::new(args(&[("dangling", "maybe")]))
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(
            VolumeFilter::new(args(&[("label!", "x")]))
                .unwrap_err()
                .to_string(),
            "invalid filter 'label!'"
        );
        assert!(
            VolumePruneFilter::new(args(&[("all", "true")]))
                .unwrap()
                .all
        );
        assert!(!VolumePruneFilter::new(args(&[])).unwrap().all);
        assert!(VolumePruneFilter::new(args(&[("all", "maybe")])).is_err());
        assert!(VolumePruneFilter::new(args(&[("until", "1h")])).is_err());
    }
}
