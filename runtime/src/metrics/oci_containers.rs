//! Containers that `ebrun oci` runs for containerd (and Kubernetes), as the exporter sees
//! them: each mirrored runtime state becomes a container record with its cgroups, so every
//! meter reads it like any other; containerd's CRI annotations give it Kubernetes' names.

use crate::container::{ContainerConfig, ContainerState, ProcessConfig, Status};
use crate::oci::OciState;

/// CRI annotations containerd sets on every container of a pod.
const SANDBOX_NAME: &str = "io.kubernetes.cri.sandbox-name";
const SANDBOX_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
const CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
const IMAGE_NAME: &str = "io.kubernetes.cri.image-name";

/// `ebrun_container_info`'s extra labels for a container of `ebrun oci`: `runtime="oci"`,
/// and from CRI annotations `pod`, `namespace`, `container` and `sandbox` ("true" for a
/// pod's pause container).
pub fn info_labels(state: &OciState) -> Vec<(&'static str, String)> {
    let a = &state.annotations;
    let mut labels = vec![("runtime", "oci".to_string())];
    for (label, key) in [
        ("pod", SANDBOX_NAME),
        ("namespace", SANDBOX_NAMESPACE),
        ("container", CONTAINER_NAME),
    ] {
        if let Some(v) = a.get(key) {
            labels.push((label, v.clone()));
        }
    }
    if let Some(t) = a.get(CONTAINER_TYPE) {
        labels.push(("sandbox", (t == "sandbox").to_string()));
    }
    labels
}

/// The container record the exporter reads for `state`; `boot` is this boot's id.
pub fn as_container(state: &OciState, boot: &str) -> (ContainerConfig, ContainerState) {
    let a = &state.annotations;
    let name = match (a.get(SANDBOX_NAME), a.get(CONTAINER_NAME)) {
        (Some(pod), Some(c)) => format!("{pod}/{c}"),
        (Some(pod), None) => pod.clone(),
        _ => state.id.clone(),
    };
    let image = a
        .get(IMAGE_NAME)
        .or_else(|| a.get("org.opencontainers.image.ref.name"))
        .cloned()
        .unwrap_or_default();
    let config = ContainerConfig {
        id: state.id.clone(),
        name,
        image,
        image_id: String::new(),
        created: state.created.clone(),
        process: ProcessConfig::default(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
        read_only: false,
        auto_remove: false,
        resources: Default::default(),
        sysctls: Default::default(),
        cgroupns: Default::default(),
        network: Default::default(),
        restart: Default::default(),
        mounts: Vec::new(),
        layers: Vec::new(),
        userns: None,
        labels: Default::default(),
        healthcheck: None,
        options: Default::default(),
        changes: Vec::new(),
    };
    let status = match (state.started, state.paused) {
        (_, true) => Status::Paused,
        (true, false) => Status::Running,
        (false, false) => Status::Created,
    };
    let container_state = ContainerState {
        status,
        pid: state.pid,
        pid_start_time: state.pid_start_time,
        started_at: Some(state.created.clone()),
        cgroups: state.cgroups.clone(),
        boot_id: boot.to_string(),
        ..Default::default()
    };
    (config, container_state)
}
