//! What a request carries: query parameters (URL-encoded, Docker's `filters` JSON) and a
//! JSON body read up to a limit, with Docker's 400s for what does not parse.

use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize as _;

use super::response::{self, Reply};
use crate::format::filters::FilterArgs;

/// The largest JSON body accepted (a create request with every option is a few KiB).
pub const MAX_JSON_BODY: usize = 4 << 20;

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query {
            pairs: raw
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (`names=a&names=b`).
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_string();
        self.pairs
            .iter()
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Docker's booleans: `1`, `true`, `True`.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "true" | "True" | "TRUE"))
    }

    /// A number, or a 400 naming the parameter.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Reply> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                response::error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid value for {name}: {v:?} is not a number"),
                )
            }),
        }
    }

    /// A time (`since`, `until`): Unix seconds with an optional fraction as the clients send
    /// it, or what `docker events --since` takes (a duration back from now, RFC 3339); in
    /// Unix nanoseconds.
    pub fn time(&self, name: &str) -> Result<Option<i64>, Reply> {
        let Some(v) = self.get(name).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        crate::events::parse_time(v, now)
            .map(Some)
            .map_err(|e| response::error(StatusCode::BAD_REQUEST, format!("invalid {name}: {e}")))
    }

    /// `h=` and `w=` of a resize (rows, columns; 0 when not given).
    pub fn terminal_size(&self) -> Result<(u16, u16), Reply> {
        Ok((
            self.number::<u16>("h")?.unwrap_or(0),
            self.number::<u16>("w")?.unwrap_or(0),
        ))
    }

    /// `filters={"label":["a=b"],"status":{"running":true}}`: both of Docker's shapes.
    pub fn filters(&self) -> Result<FilterArgs, Reply> {
        let Some(raw) = self.get("filters").filter(|f| !f.is_empty()) else {
            return Ok(FilterArgs::default());
        };
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
            response::error(
                StatusCode::BAD_REQUEST,
                format!("invalid filter: {raw:?} is not JSON: {e}"),
            )
        })?;
        let mut filters = FilterArgs::default();
        let Some(object) = value.as_object() else {
            return Err(response::error(
                StatusCode::BAD_REQUEST,
                format!("invalid filter: {raw:?} is not an object"),
            ));
        };
        for (key, values) in object {
            let list: Vec<String> = match values {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(o) => o.keys().cloned().collect(),
                serde_json::Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            for v in list {
                filters.add(key.clone(), v);
            }
        }
        Ok(filters)
    }
}

/// Docker's "invalid filter" 400 for a filter name not in `known`.
pub fn check_filters(filters: &FilterArgs, known: &[&str]) -> Result<(), Reply> {
    filters
        .validate(known)
        .map_err(|message| response::error(StatusCode::BAD_REQUEST, message))
}

/// A JSON `null` as the field's type default, as Go's decoder (and so Docker's clients)
/// takes it: `#[serde(deserialize_with = "super::request::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The request body, up to `limit` bytes; a larger one is a 413 with Docker's shape.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, Reply> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(response::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {limit} bytes"),
        )),
        Err(e) => Err(response::error(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )),
    }
}

/// A JSON body as `T`; errors name the field and say what was wrong, as a 400.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_str("{}").map_err(|e| {
            response::error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"))
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("invalid JSON body: {inner}")
        } else {
            format!("invalid JSON body: field {path}: {inner}")
        };
        response::error(StatusCode::BAD_REQUEST, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_filters() {
        let q = Query::parse(Some(
            "all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22status%22%3A%7B%22running%22%3Atrue%7D%7D",
        ));
        assert!(q.flag("all"));
        let f = q.filters().unwrap();
        assert_eq!(f.values("label"), ["a=b".to_string()]);
        assert_eq!(f.values("status"), ["running".to_string()]);
        let mut labels = std::collections::BTreeMap::new();
        assert!(!f.labels_match("label", &labels));
        labels.insert("a".to_string(), "b".to_string());
        assert!(f.labels_match("label", &labels));
        assert!(check_filters(&f, &["label"]).is_err());
        assert!(Query::parse(Some("filters=nope")).filters().is_err());
    }
}
