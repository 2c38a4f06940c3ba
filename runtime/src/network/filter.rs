//! Docker's filters of `network ls` and `network prune`, from `--filter KEY=VALUE` flags or
//! the Engine API's `filters` JSON, with dockerd's rules and messages; and [`FilterArgs`],
//! Docker's filter arguments, which the volume filters use too.

use chrono::DateTime;

use super::endpoints::Endpoints;
use super::store::NetworkRecord;
use super::NetworkError;
use crate::Paths;

pub use crate::format::filters::FilterArgs;

/// The keys `network ls` accepts.
const LIST_KEYS: [&str; 7] = ["dangling", "driver", "id", "label", "name", "scope", "type"];

/// `network ls` filters, checked as dockerd checks them.
#[derive(Debug, Clone, Default)]
pub struct NetworkFilter {
    args: FilterArgs,
    dangling: Option<bool>,
}

impl NetworkFilter {
    pub fn new(args: FilterArgs) -> Result<Self, NetworkError> {
        args.validate(&LIST_KEYS).map_err(NetworkError::Invalid)?;
        let dangling = match args.values("dangling") {
            [] => None,
            [one] => match one.as_str() {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                _ => {
                    return Err(NetworkError::Invalid(
                        "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")".into(),
                    ))
                }
            },
            _ => {
                return Err(NetworkError::Invalid(
                    "got more than one value for filter key \"dangling\"".into(),
                ))
            }
        };
        if let Some(t) = args
            .values("type")
            .iter()
            .find(|t| !matches!(t.as_str(), "builtin" | "custom"))
        {
            return Err(NetworkError::Invalid(format!(
                "invalid filter: 'type'='{t}'"
            )));
        }
        Ok(NetworkFilter { args, dangling })
    }

    /// Whether `n` passes; `in_use`: a running container is attached to it.
    pub fn matches(&self, n: &NetworkRecord, in_use: bool) -> bool {
        let a = &self.args;
        a.exact("driver", &n.driver)
            && a.matches("name", &n.name)
            && a.matches("id", &n.id)
            && a.labels_match("label", &n.labels)
            && a.exact("scope", "local")
            && self.dangling.is_none_or(|dangling| {
                if dangling {
                    !n.is_predefined() && !in_use
                } else {
                    n.is_predefined() || in_use
                }
            })
            && (!a.contains("type")
                || a.values("type")
                    .iter()
                    .any(|t| (t == "builtin") == n.is_predefined()))
    }

    /// The networks of `all` that pass.
    pub fn apply(&self, paths: &Paths, all: Vec<NetworkRecord>) -> Vec<NetworkRecord> {
        let endpoints = Endpoints::new(paths).list();
        all.into_iter()
            .filter(|n| {
                let in_use = endpoints
                    .iter()
                    .any(|r| r.alive() && r.attachments.iter().any(|a| a.network_id == n.id));
                self.matches(n, in_use)
            })
            .collect()
    }
}

/// The keys `network prune` accepts.
const PRUNE_KEYS: [&str; 3] = ["label", "label!", "until"];

/// `network prune` filters: labels, and `until` (a time or a duration back from now).
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    args: FilterArgs,
    /// Unix nanoseconds: networks created after it are kept.
    until: Option<i64>,
}

impl PruneFilter {
    pub fn new(args: FilterArgs) -> Result<Self, NetworkError> {
        args.validate(&PRUNE_KEYS).map_err(NetworkError::Invalid)?;
        let until = args.until().map_err(NetworkError::Invalid)?;
        Ok(PruneFilter { args, until })
    }

    /// Whether the filters select `n` (its use by containers is not looked at).
    pub fn selects(&self, n: &NetworkRecord) -> bool {
        let created = DateTime::parse_from_rfc3339(&n.created)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0);
        self.until.is_none_or(|until| created <= until) && self.args.labels_select(&n.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> FilterArgs {
        FilterArgs::from_pairs(pairs)
    }

    fn network(name: &str, labels: &[(&str, &str)]) -> NetworkRecord {
        NetworkRecord {
            id: "3f2a9c".into(),
            name: name.into(),
            driver: "bridge".into(),
            created: "2024-01-01T00:00:00Z".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn list_filters_as_dockerd() {
        let n = network("backend", &[("a", "b")]);
        let ok = |pairs: &[(&str, &str)], in_use| {
            NetworkFilter::new(args(pairs)).unwrap().matches(&n, in_use)
        };
        assert!(ok(&[("name", "back")], false));
        assert!(ok(&[("name", "^back")], false));
        assert!(!ok(&[("name", "^end")], false));
        assert!(ok(&[("id", "9c")], false));
        assert!(ok(&[("label", "a=b")], false));
        assert!(!ok(&[("label", "a=c")], false));
        assert!(ok(&[("type", "custom")], false));
        assert!(!ok(&[("type", "builtin")], false));
        assert!(ok(&[("dangling", "true")], false));
        assert!(!ok(&[("dangling", "true")], true));
        assert!(ok(&[("scope", "local"), ("driver", "bridge")], false));
        assert!(!ok(&[("driver", "host")], false));
        let err = |pairs: &[(&str, &str)]| NetworkFilter::new(args(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("bogus", "x")]), "invalid filter 'bogus'");
        assert_eq!(err(&[("type", "x")]), "invalid filter: 'type'='x'");
        assert!(err(&[("dangling", "maybe")]).contains("must be \"true\""));
        assert!(FilterArgs::from_flags(&["nokey".into()]).is_err());
    }

    #[test]
    fn prune_filters_as_dockerd() {
        let n = network("old", &[("keep", "yes")]);
        let sel = |pairs: &[(&str, &str)]| PruneFilter::new(args(pairs)).unwrap().selects(&n);
        assert!(sel(&[]));
        assert!(sel(&[("until", "1h")]));
        assert!(!sel(&[("until", "2023-01-01T00:00:00Z")]));
        assert!(!sel(&[("label!", "keep")]));
        assert!(sel(&[("label", "keep=yes")]));
        assert!(!sel(&[("label", "other")]));
        assert!(PruneFilter::new(args(&[("until", "1h"), ("until", "2h")])).is_err());
        assert!(PruneFilter::new(args(&[("name", "x")])).is_err());
    }

    #[test]
    fn bool_filters() {
        assert_eq!(args(&[("all", "1")]).bool_or("all", false), Ok(true));
        assert_eq!(args(&[]).bool_or("all", false), Ok(false));
        assert_eq!(
            args(&[("all", "yes")]).bool_or("all", false),
            Err("invalid filter 'all=[yes]'".into())
        );
    }
}
