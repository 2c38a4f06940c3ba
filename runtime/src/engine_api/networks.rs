//! `/networks` endpoints: list, inspect, create, remove, connect, disconnect and prune,
//! through the library calls `ebrun network ...` makes, with dockerd's status codes.

use std::collections::BTreeMap;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::json_body;
use super::response::{self, Reply};
use super::router::Call;
use crate::container::ContainerError;
use crate::network::connections::{connect_container, disconnect_container};
use crate::network::endpoints::Endpoints;
use crate::network::{
    self, networks, CreateOptions, IpamConfig, NetworkError, NetworkFilter, PruneFilter,
};

/// Docker's status code for an error of the network module.
fn status_of(e: &NetworkError) -> StatusCode {
    match e {
        NetworkError::NotFound(_) | NetworkError::UnknownDriver(_) => StatusCode::NOT_FOUND,
        NetworkError::Forbidden(_) => StatusCode::FORBIDDEN,
        NetworkError::NameExists(_) => StatusCode::CONFLICT,
        NetworkError::Invalid(_)
        | NetworkError::InvalidFlag { .. }
        | NetworkError::Ambiguous(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error(e: NetworkError) -> Reply {
    response::error(status_of(&e), e)
}

/// Errors of connect and disconnect: the container's (not found, ...) or the network's.
fn container_error(e: ContainerError) -> Reply {
    let status = match &e {
        ContainerError::Network(n) => status_of(n),
        other => super::lifecycle::status_of(other),
    };
    response::error(status, e)
}

fn bad_request(message: impl std::fmt::Display) -> Reply {
    response::error(StatusCode::BAD_REQUEST, message)
}

/// A refused request: its status and message.
type Refusal = (StatusCode, String);

fn refused(e: NetworkError) -> Refusal {
    (status_of(&e), e.to_string())
}

fn invalid(message: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, message.into())
}

/// `POST /networks/create`'s body (Docker's `network.CreateRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    #[serde(default, deserialize_with = "super::request::nullable")]
    name: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    driver: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    scope: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    internal: bool,
    #[serde(default, deserialize_with = "super::request::nullable")]
    attachable: bool,
    #[serde(default, deserialize_with = "super::request::nullable")]
    ingress: bool,
    #[serde(default, deserialize_with = "super::request::nullable")]
    config_only: bool,
    #[serde(default)]
    config_from: Option<Value>,
    #[serde(default, rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(
        default,
        rename = "IPAM",
        deserialize_with = "super::request::nullable"
    )]
    ipam: Ipam,
    #[serde(default, deserialize_with = "super::request::nullable")]
    options: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "super::request::nullable")]
    labels: BTreeMap<String, String>,
    // CheckDuplicate is deprecated by Docker and ignored: names are always checked.
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default, deserialize_with = "super::request::nullable")]
    driver: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    options: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "super::request::nullable")]
    config: Vec<IpamEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamEntry {
    #[serde(default, deserialize_with = "super::request::nullable")]
    subnet: String,
    #[serde(
        default,
        rename = "IPRange",
        deserialize_with = "super::request::nullable"
    )]
    ip_range: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    gateway: String,
    #[serde(
        default,
        rename = "AuxiliaryAddresses",
        deserialize_with = "super::request::nullable"
    )]
    aux_addresses: BTreeMap<String, String>,
}

/// The library's options for a create request; what ebrun's networks cannot be is a 400
/// (a 404 for an IPAM driver other than the default, as for an unknown plugin).
fn create_options(call: &Call, r: CreateRequest) -> Result<CreateOptions, Refusal> {
    if !matches!(r.scope.as_str(), "" | "local") {
        return Err(invalid(format!(
            "ebrun serves local networks only, not scope {:?}",
            r.scope
        )));
    }
    if r.ingress || r.config_only || r.config_from.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "ingress, configuration-only and config-from networks are swarm features ebrun does not have",
        ));
    }
    // EnableIPv4 came with API 1.48; older clients' value is ignored, as by dockerd.
    if call.version >= (1, 48) && r.enable_ipv4 == Some(false) {
        return Err(invalid(
            "ebrun's bridge networks always have IPv4: EnableIPv4 false is not supported",
        ));
    }
    if !matches!(r.ipam.driver.as_str(), "" | "default") {
        return Err(refused(NetworkError::UnknownDriver(r.ipam.driver)));
    }
    if let Some(key) = r.ipam.options.keys().next() {
        return Err(invalid(format!(
            "IPAM option {key:?} is not supported by ebrun's default IPAM driver"
        )));
    }
    if r.ipam.config.iter().any(|c| !c.aux_addresses.is_empty()) {
        return Err(invalid(
            "auxiliary addresses (AuxiliaryAddresses) are not supported by ebrun",
        ));
    }
    let mut o = CreateOptions {
        name: r.name,
        driver: r.driver,
        internal: r.internal,
        attachable: r.attachable,
        ipv6: r.enable_ipv6.unwrap_or(false),
        options: r.options,
        labels: r.labels,
        ..Default::default()
    };
    let configs: Vec<IpamConfig> = r
        .ipam
        .config
        .into_iter()
        .map(|c| IpamConfig {
            subnet: c.subnet,
            ip_range: c.ip_range,
            gateway: c.gateway,
        })
        .collect();
    o.set_ipam(&configs).map_err(refused)?;
    Ok(o)
}

fn create(call: &Call) -> Reply {
    let request = match json_body::<CreateRequest>(&call.body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let options = match create_options(call, request) {
        Ok(o) => o,
        Err((status, message)) => return response::error(status, message),
    };
    match network::create_network(&call.paths, &options) {
        Ok(n) => response::json(StatusCode::CREATED, &json!({"Id": n.id, "Warning": ""})),
        Err(e) => error(e),
    }
}

/// `GET /networks`: every network that passes the filters, without its endpoints (as
/// dockerd lists them).
fn list(call: &Call) -> Reply {
    let args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let shown = NetworkFilter::new(args)
        .and_then(|f| Ok(f.apply(&call.paths, networks::list(&call.paths)?)));
    match shown {
        Ok(shown) => response::json(
            StatusCode::OK,
            &Value::Array(
                shown
                    .iter()
                    .map(|n| network::network_inspect(n, &[]))
                    .collect(),
            ),
        ),
        Err(e) => error(e),
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

/// `GET /networks/{id}` (`verbose` and `scope` as dockerd reads them).
fn inspect(call: &Call, key: &str) -> Reply {
    if let Some(v) = call.query.get("verbose").filter(|v| !v.is_empty()) {
        if parse_bool(v).is_none() {
            return bad_request(format!(
                "invalid value for verbose: {v}: strconv.ParseBool: parsing {v:?}: invalid syntax"
            ));
        }
    }
    if call
        .query
        .get("scope")
        .is_some_and(|s| !matches!(s, "" | "local"))
    {
        // Every ebrun network is local: none is found in another scope.
        return error(NetworkError::NotFound(key.to_string()));
    }
    match networks::find(&call.paths, key) {
        Ok(n) => response::json(
            StatusCode::OK,
            &network::network_inspect(&n, &Endpoints::new(&call.paths).list()),
        ),
        Err(e) => error(e),
    }
}

/// `POST /networks/{id}/connect`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectRequest {
    #[serde(default, deserialize_with = "super::request::nullable")]
    container: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    endpoint_config: EndpointConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointConfig {
    #[serde(
        default,
        rename = "IPAMConfig",
        deserialize_with = "super::request::nullable"
    )]
    ipam_config: EndpointIpam,
    #[serde(default, deserialize_with = "super::request::nullable")]
    aliases: Vec<String>,
    #[serde(default, deserialize_with = "super::request::nullable")]
    mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
struct EndpointIpam {
    #[serde(
        default,
        rename = "IPv4Address",
        deserialize_with = "super::request::nullable"
    )]
    ipv4: String,
    #[serde(
        default,
        rename = "IPv6Address",
        deserialize_with = "super::request::nullable"
    )]
    ipv6: String,
    #[serde(
        default,
        rename = "LinkLocalIPs",
        deserialize_with = "super::request::nullable"
    )]
    link_local: Vec<String>,
}

/// An address of the request, or Docker's message naming it.
fn address<T: std::str::FromStr>(value: &str, family: &str) -> Result<Option<T>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("invalid {family} address: {value}"))
}

fn connect(call: &Call, network: &str) -> Reply {
    let r = match json_body::<ConnectRequest>(&call.body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let e = r.endpoint_config;
    if !e.mac_address.is_empty() || !e.ipam_config.link_local.is_empty() {
        return bad_request(
            "a MAC address or link-local addresses per network are not supported by ebrun",
        );
    }
    let ip = match (
        address(&e.ipam_config.ipv4, "IPv4"),
        address(&e.ipam_config.ipv6, "IPv6"),
    ) {
        (Ok(v4), Ok(v6)) => (v4, v6),
        (Err(message), _) | (_, Err(message)) => return bad_request(message),
    };
    match connect_container(&call.paths, network, &r.container, ip, &e.aliases) {
        Ok(()) => response::empty(StatusCode::OK),
        Err(e) => container_error(e),
    }
}

/// `POST /networks/{id}/disconnect`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisconnectRequest {
    #[serde(default, deserialize_with = "super::request::nullable")]
    container: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    force: bool,
}

fn disconnect(call: &Call, network: &str) -> Reply {
    let r = match json_body::<DisconnectRequest>(&call.body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match disconnect_container(&call.paths, network, &r.container, r.force) {
        Ok(()) => response::empty(StatusCode::OK),
        Err(e) => container_error(e),
    }
}

/// `POST /networks/prune`: `{"NetworksDeleted": [names]}` (null when none, as dockerd).
fn prune(call: &Call) -> Reply {
    let args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    match PruneFilter::new(args).and_then(|f| networks::prune(&call.paths, &f)) {
        Ok(deleted) => {
            let deleted = if deleted.is_empty() {
                Value::Null
            } else {
                json!(deleted)
            };
            response::json(StatusCode::OK, &json!({ "NetworksDeleted": deleted }))
        }
        Err(e) => error(e),
    }
}

/// None: not an endpoint of this module.
pub fn handle(call: &Call) -> Option<Reply> {
    if matches!(call.path.as_str(), "/networks" | "/networks/") {
        return (call.method == Method::GET).then(|| list(call));
    }
    let segments = call.segments("/networks/");
    Some(match (&call.method, segments.as_slice()) {
        (&Method::POST, ["create"]) => create(call),
        (&Method::POST, ["prune"]) => prune(call),
        (&Method::GET, [id]) if !id.is_empty() => inspect(call, id),
        (&Method::DELETE, [id]) if !id.is_empty() => {
            match network::remove_network(&call.paths, id) {
                Ok(_) => response::empty(StatusCode::NO_CONTENT),
                Err(e) => error(e),
            }
        }
        (&Method::POST, [id, "connect"]) if !id.is_empty() => connect(call, id),
        (&Method::POST, [id, "disconnect"]) if !id.is_empty() => disconnect(call, id),
        _ => return None,
    })
}
