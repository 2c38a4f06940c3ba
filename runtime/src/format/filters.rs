//! Docker's filter arguments (`filters.Args`): what `--filter KEY=VALUE` and the Engine
//! API's `filters` JSON carry, with Docker's matching rules, for every list and prune.

use std::collections::BTreeMap;

/// Docker's filter arguments (`filters.Args`): each key with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterArgs(BTreeMap<String, Vec<String>>);

impl FilterArgs {
    pub fn new(args: BTreeMap<String, Vec<String>>) -> Self {
        FilterArgs(args)
    }

    /// From `(key, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let mut args = FilterArgs::default();
        for (k, v) in pairs {
            args.add(*k, *v);
        }
        args
    }

    /// `KEY=VALUE` flags, as the docker CLI reads `--filter`.
    pub fn from_flags(flags: &[String]) -> Result<Self, String> {
        let mut args = FilterArgs::default();
        for f in flags {
            let Some((key, value)) = f.split_once('=') else {
                return Err(format!(
                    "invalid argument \"{f}\" for \"--filter\" flag: bad format of filter (expected name=value)"
                ));
            };
            args.add(key.trim().to_ascii_lowercase(), value.to_string());
        }
        Ok(args)
    }

    /// Adds a value to `key` (a value already there is not repeated).
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let values = self.0.entry(key.into()).or_default();
        let value = value.into();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    /// Every `(key, value)`.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, values)| values.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Docker's `Validate`: a key not in `accepted` is an "invalid filter".
    pub fn validate(&self, accepted: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(format!("invalid filter '{k}'")),
            None => Ok(()),
        }
    }

    /// Docker's `ExactMatch`: no values for `key`, or one equal to `source`.
    pub fn exact(&self, key: &str, source: &str) -> bool {
        let values = self.values(key);
        values.is_empty() || values.iter().any(|v| v == source)
    }

    /// Docker's `Match`: no values for `key`, or one that is `source` or found in it (a
    /// pattern: `^` and `$` anchor it, as in Docker's regular expressions).
    pub fn matches(&self, key: &str, source: &str) -> bool {
        let values = self.values(key);
        values.is_empty() || values.iter().any(|v| v == source || pattern_in(v, source))
    }

    /// Docker's `MatchKVList`: every `KEY` or `KEY=VALUE` of `key` is among `labels`.
    pub fn labels_match(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let values = self.values(key);
        if values.is_empty() {
            return true;
        }
        values.iter().all(|want| match want.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(want.as_str()),
        })
    }

    /// Docker's label rule of prune and volume filters: `label` matches and, when given,
    /// `label!` does not.
    pub fn labels_select(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels_match("label", labels)
            && !(self.contains("label!") && self.labels_match("label!", labels))
    }

    /// Docker's `until` of a prune: a time, or a duration back from now (Unix nanoseconds);
    /// more than one is an error.
    pub fn until(&self) -> Result<Option<i64>, String> {
        match self.values("until") {
            [] => Ok(None),
            [one] => {
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
                crate::events::parse_time(one, now)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            _ => Err("more than one until filter specified".into()),
        }
    }

    /// Docker's `GetBoolOrDefault`: `true`/`1` or `false`/`0`, else an invalid filter.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        let Some(values) = self.0.get(key) else {
            return Ok(default);
        };
        let is_true = values.iter().any(|v| v == "true" || v == "1");
        let is_false = values.iter().any(|v| v == "false" || v == "0");
        if is_true == is_false {
            return Err(format!("invalid filter '{key}=[{}]'", values.join(" ")));
        }
        Ok(is_true)
    }
}

/// Whether `pattern` occurs in `source`: anywhere, or at its start (`^`) or end (`$`).
fn pattern_in(pattern: &str, source: &str) -> bool {
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => source == p,
        (true, false) => source.starts_with(p),
        (false, true) => source.ends_with(p),
        (false, false) => source.contains(p),
    }
}
