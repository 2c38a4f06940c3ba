//! `/volumes` endpoints: list, create, inspect, remove and prune, through the library calls
//! `ebrun volume ...` makes, with dockerd's status codes.

use std::collections::BTreeMap;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::json_body;
use super::response::{self, Reply};
use super::router::Call;
use crate::container::ContainerStore;
use crate::volumes::inspect::volume_json;
use crate::volumes::{VolumeError, VolumeFilter, VolumePruneFilter, VolumeStore};

/// Docker's status code for an error of the volumes module.
fn status_of(e: &VolumeError) -> StatusCode {
    match e {
        VolumeError::NotFound(_) | VolumeError::UnknownDriver(_) => StatusCode::NOT_FOUND,
        VolumeError::InUse { .. } => StatusCode::CONFLICT,
        VolumeError::InvalidName(_)
        | VolumeError::InvalidSpec { .. }
        | VolumeError::UnsupportedOption(_)
        | VolumeError::InvalidFilter(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error(e: VolumeError) -> Reply {
    response::error(status_of(&e), e)
}

/// `POST /volumes/create`'s body (Docker's `volume.CreateOptions`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    #[serde(default, deserialize_with = "super::request::nullable")]
    name: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    driver: String,
    #[serde(default, deserialize_with = "super::request::nullable")]
    driver_opts: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "super::request::nullable")]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    cluster_volume_spec: Option<Value>,
}

/// A volume made without a name is anonymous, as dockerd makes it: a random name and
/// Docker's anonymous label, so that a plain `volume prune` removes it.
fn create(call: &Call, store: &VolumeStore) -> Reply {
    let r = match json_body::<CreateRequest>(&call.body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if call.version >= (1, 42) && r.cluster_volume_spec.is_some_and(|v| !v.is_null()) {
        return response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster volumes need a swarm manager, which ebrun is not",
        );
    }
    let name = Some(r.name.as_str()).filter(|n| !n.is_empty());
    match store.create_with(name, &r.driver, &r.driver_opts, r.labels, name.is_none()) {
        Ok(v) => response::json(StatusCode::CREATED, &volume_json(store, &v)),
        Err(e) => error(e),
    }
}

fn list(call: &Call, store: &VolumeStore) -> Reply {
    let args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let filter = match VolumeFilter::new(args) {
        Ok(f) => f,
        Err(e) => return error(e),
    };
    let containers = ContainerStore::new(&call.paths).list();
    let volumes: Vec<Value> = filter
        .apply(store, &containers)
        .iter()
        .map(|v| volume_json(store, v))
        .collect();
    response::json(StatusCode::OK, &json!({"Volumes": volumes, "Warnings": []}))
}

/// Before API 1.42 a prune removed named volumes too; since, only anonymous ones unless
/// the `all` filter says so (dockerd's rule).
fn prune(call: &Call, store: &VolumeStore) -> Reply {
    let mut args = match call.query.filters() {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    if call.version < (1, 42) {
        args.add("all", "true");
    }
    match VolumePruneFilter::new(args).and_then(|f| f.prune(store)) {
        Ok((deleted, freed)) => response::json(
            StatusCode::OK,
            &json!({"VolumesDeleted": deleted, "SpaceReclaimed": freed}),
        ),
        Err(e) => error(e),
    }
}

/// `DELETE /volumes/{name}`: `force` makes a missing volume no error (one in use still is).
fn remove(call: &Call, store: &VolumeStore, name: &str) -> Reply {
    match store.remove(name) {
        Ok(()) => response::empty(StatusCode::NO_CONTENT),
        Err(VolumeError::NotFound(_)) if call.query.flag("force") => {
            response::empty(StatusCode::NO_CONTENT)
        }
        Err(e) => error(e),
    }
}

/// None: not an endpoint of this module.
pub fn handle(call: &Call) -> Option<Reply> {
    let store = VolumeStore::new(&call.paths);
    if matches!(call.path.as_str(), "/volumes" | "/volumes/") {
        return (call.method == Method::GET).then(|| list(call, &store));
    }
    let segments = call.segments("/volumes/");
    Some(match (&call.method, segments.as_slice()) {
        (&Method::POST, ["create"]) => create(call, &store),
        (&Method::POST, ["prune"]) => prune(call, &store),
        (&Method::GET, [name]) if !name.is_empty() => match store.get(name) {
            Ok(v) => response::json(StatusCode::OK, &volume_json(&store, &v)),
            Err(e) => error(e),
        },
        (&Method::DELETE, [name]) if !name.is_empty() => remove(call, &store, name),
        // Docker updates only cluster volumes.
        (&Method::PUT, [name]) if !name.is_empty() => response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "volume update only valid for cluster volumes, but swarm is unavailable",
        ),
        _ => return None,
    })
}
