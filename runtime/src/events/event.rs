//! One event, shaped as Docker's `/events` messages (and `docker events --format json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Network,
    Volume,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Volume => "volume",
        }
    }

    /// Parses Docker's type names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "container" => Some(EventType::Container),
            "image" => Some(EventType::Image),
            "network" => Some(EventType::Network),
            "volume" => Some(EventType::Volume),
            _ => None,
        }
    }
}

/// The object an event is about: its id and attributes (name, image, exitCode, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event. Container events also carry Docker's legacy `status`, `id` and `from` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: EventType,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// Now, in Unix nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

impl Event {
    /// An event of `kind` with `action` on the object `id`, now.
    pub fn new(
        kind: EventType,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Self {
        Event::at(kind, action, id, attributes, now_nanos())
    }

    /// The same, at `time_nano` (Unix nanoseconds).
    pub fn at(
        kind: EventType,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Self {
        let container = kind == EventType::Container;
        Event {
            status: container.then(|| action.to_string()),
            id: container.then(|| id.to_string()),
            from: container
                .then(|| attributes.get("image").cloned())
                .flatten(),
            kind,
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// Docker's default line: `TIME TYPE ACTION ID (k=v, ...)`.
    pub fn line(&self) -> String {
        let when = chrono::DateTime::from_timestamp_nanos(self.time_nano)
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%dT%H:%M:%S%.9f%:z");
        let attrs: Vec<String> = self
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut line = format!(
            "{when} {} {} {}",
            self.kind.as_str(),
            self.action,
            self.actor.id
        );
        if !attrs.is_empty() {
            line.push_str(&format!(" ({})", attrs.join(", ")));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_events_have_docker_legacy_fields() {
        let attrs = BTreeMap::from([
            ("image".to_string(), "busybox".to_string()),
            ("name".to_string(), "web".to_string()),
        ]);
        let e = Event::at(
            EventType::Container,
            "start",
            "abc",
            attrs,
            1_500_000_000_123,
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "start");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["time"], 1500);
        assert_eq!(v["timeNano"], 1_500_000_000_123i64);
        let n = Event::at(EventType::Network, "connect", "n1", BTreeMap::new(), 0);
        let v = serde_json::to_value(&n).unwrap();
        assert!(v.get("status").is_none());
        assert!(n.line().contains(" network connect n1"));
    }
}
