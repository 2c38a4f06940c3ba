//! `ebrun events --filter KEY=VALUE`: Docker's event filters. Values of one key are
//! alternatives; different keys must all match.

use std::collections::BTreeMap;

use super::event::{Event, EventType};
use super::EventsError;

/// The keys `--filter` accepts.
const KEYS: [&str; 7] = [
    "type",
    "event",
    "container",
    "image",
    "network",
    "volume",
    "scope",
];

/// Parsed `--filter` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Parses `key=value` flags; an unknown key or a bad type is an error naming it.
    pub fn parse(flags: &[String]) -> Result<Self, EventsError> {
        let mut filters = Filters::default();
        for flag in flags {
            let Some((key, value)) = flag.split_once('=') else {
                return Err(EventsError::InvalidFilter(flag.clone()));
            };
            let key = key.trim().to_ascii_lowercase();
            if !KEYS.contains(&key.as_str()) {
                return Err(EventsError::InvalidFilter(key));
            }
            if key == "type" && EventType::parse(value).is_none() {
                return Err(EventsError::InvalidFilter(format!("type={value}")));
            }
            filters
                .by_key
                .entry(key)
                .or_default()
                .push(value.to_string());
        }
        Ok(filters)
    }

    /// Whether `event` passes every filter.
    pub fn matches(&self, event: &Event) -> bool {
        self.by_key
            .iter()
            .all(|(key, values)| values.iter().any(|value| matches_one(key, value, event)))
    }
}

fn matches_one(key: &str, value: &str, e: &Event) -> bool {
    let attr = |name: &str| e.actor.attributes.get(name).map(String::as_str);
    let id_or_name = |kind: EventType| {
        e.kind == kind
            && (e.actor.id == value
                || (value.len() >= 4 && e.actor.id.starts_with(value))
                || attr("name") == Some(value))
    };
    match key {
        "type" => e.kind.as_str() == value,
        "event" => e.action == value || e.action.split(':').next() == Some(value),
        "container" => {
            id_or_name(EventType::Container)
                || (e.kind == EventType::Network && attr("container") == Some(value))
        }
        "image" => attr("image") == Some(value) || id_or_name(EventType::Image),
        "network" => id_or_name(EventType::Network),
        "volume" => e.kind == EventType::Volume && e.actor.id == value,
        "scope" => e.scope == value,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventType, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event::at(
            kind,
            action,
            id,
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            0,
        )
    }

    #[test]
    fn same_key_alternatives_different_keys_all() {
        let f = Filters::parse(&[
            "type=container".into(),
            "event=oom".into(),
            "event=die".into(),
        ])
        .unwrap();
        let c = |a| event(EventType::Container, a, "abcdef", &[("name", "web")]);
        assert!(f.matches(&c("oom")));
        assert!(f.matches(&c("die")));
        assert!(!f.matches(&c("start")));
        assert!(!f.matches(&event(EventType::Volume, "die", "v", &[])));
        let by_name = Filters::parse(&["container=web".into()]).unwrap();
        assert!(by_name.matches(&c("start")));
        assert!(Filters::parse(&["container=abcd".into()])
            .unwrap()
            .matches(&c("x")));
    }

    #[test]
    fn bad_filters_are_named() {
        let e = Filters::parse(&["colour=red".into()]).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'colour'");
        assert!(Filters::parse(&["type=pod".into()]).is_err());
        assert!(Filters::parse(&["type".into()]).is_err());
    }
}
