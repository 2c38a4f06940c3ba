//! Docker's views of networking: the `PORTS` column of `ps`, `ebrun port`, the
//! `NetworkSettings` of `inspect`, and `network inspect`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::endpoints::EndpointRecord;
use super::spec::{NetworkSpec, PortProto};
use super::store::NetworkRecord;
use super::NetworkState;

/// Each published port once per address family it answers on: `0.0.0.0` also as `::` when
/// the container has an IPv6 address.
pub fn port_bindings(state: &NetworkState) -> Vec<(PortProto, IpAddr, u16)> {
    let has_v6 = state
        .attachments
        .iter()
        .any(|a| a.global_ipv6_address.is_some());
    let mut out = Vec::new();
    for p in &state.ports {
        let key = PortProto {
            port: p.container_port,
            proto: p.proto,
        };
        out.push((key, p.host_ip, p.host_port));
        if p.host_ip.is_unspecified() && p.host_ip.is_ipv4() && has_v6 {
            out.push((
                key,
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                p.host_port,
            ));
        }
    }
    out
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) if v6.is_unspecified() => "::".into(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

/// Docker's `ps` PORTS text, e.g. `0.0.0.0:8080->80/tcp, :::8080->80/tcp`.
pub fn ports_column(state: &NetworkState) -> String {
    let mut b = port_bindings(state);
    b.sort_by_key(|(k, ip, port)| (*k, ip.is_ipv6(), *port));
    b.iter()
        .map(|(k, ip, port)| format!("{}:{port}->{k}", host_text(*ip)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ebrun port` lines: `80/tcp -> 0.0.0.0:8080`, optionally for one container port.
pub fn port_lines(state: &NetworkState, filter: Option<PortProto>) -> Vec<String> {
    let mut b = port_bindings(state);
    b.sort_by_key(|(k, ip, port)| (*k, ip.is_ipv6(), *port));
    b.iter()
        .filter(|(k, _, _)| filter.is_none_or(|f| f == *k))
        .map(|(k, ip, port)| {
            if filter.is_some() {
                format!("{}:{port}", host_text(*ip))
            } else {
                format!("{k} -> {}:{port}", host_text(*ip))
            }
        })
        .collect()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// A container's aliases on a network as dockerd shows them: on user-defined networks its
/// short id comes with them (docker-compose looks for it).
fn aliases_json(network: &str, aliases: &[String], container_id: &str) -> Value {
    let mut all = aliases.to_vec();
    let short = &container_id[..container_id.len().min(12)];
    if network != "bridge" && !short.is_empty() && !all.iter().any(|a| a == short) {
        all.push(short.to_string());
    }
    if all.is_empty() {
        Value::Null
    } else {
        json!(all)
    }
}

/// An endpoint of a container that is not running: configured, without addresses.
fn idle_endpoint(aliases: Value) -> Value {
    json!({"IPAMConfig": null, "Links": null, "Aliases": aliases,
        "MacAddress": "", "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DriverOpts": null, "DNSNames": null})
}

/// Docker's `NetworkSettings` object for `inspect`. A container that is not running shows
/// the networks it will join, without addresses, as dockerd does.
pub fn inspect_settings(spec: &NetworkSpec, state: &NetworkState, container_id: &str) -> Value {
    let mut ports: BTreeMap<String, Value> = BTreeMap::new();
    for p in spec.expose.iter() {
        ports.entry(p.to_string()).or_insert(Value::Null);
    }
    for m in &spec.publish {
        ports
            .entry(format!("{}/{}", m.container_port, m.proto))
            .or_insert(Value::Null);
    }
    for (k, ip, port) in port_bindings(state) {
        let entry = ports.entry(k.to_string()).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Value::Array(list) = entry {
            list.push(json!({"HostIp": ip.to_string(), "HostPort": port.to_string()}));
        }
    }
    let mut networks = Map::new();
    for a in &state.attachments {
        networks.insert(
            a.network_name.clone(),
            json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": aliases_json(&a.network_name, &a.aliases, container_id),
                "MacAddress": a.mac_address,
                "DriverOpts": null,
                "NetworkID": a.network_id,
                "EndpointID": a.endpoint_id,
                "Gateway": opt(a.gateway),
                "IPAddress": opt(a.ip_address),
                "IPPrefixLen": a.ip_prefix_len,
                "IPv6Gateway": opt(a.ipv6_gateway),
                "GlobalIPv6Address": opt(a.global_ipv6_address),
                "GlobalIPv6PrefixLen": a.global_ipv6_prefix_len,
                "DNSNames": null,
            }),
        );
    }
    if state.attachments.is_empty() {
        if let Some(name) = match state.mode.as_str() {
            "host" | "none" => Some(state.mode.clone()),
            _ => None,
        } {
            networks.insert(name, idle_endpoint(Value::Null));
        } else if state.mode.is_empty() {
            // Not running: the networks it is configured for.
            if let Some(name) = spec.mode.network_name().filter(|_| !spec.mode_disconnected) {
                networks.insert(
                    name.to_string(),
                    idle_endpoint(aliases_json(name, &spec.aliases, container_id)),
                );
            }
            for c in &spec.connected {
                networks.insert(
                    c.network_name.clone(),
                    idle_endpoint(aliases_json(&c.network_name, &c.aliases, container_id)),
                );
            }
        }
    }
    // The top-level address fields describe the default bridge only, as in Docker.
    let default = state
        .attachments
        .iter()
        .find(|a| a.network_name == "bridge");
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": state.sandbox_key,
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": default.map(|a| a.endpoint_id.clone()).unwrap_or_default(),
        "Gateway": default.map(|a| opt(a.gateway)).unwrap_or_default(),
        "GlobalIPv6Address": default.map(|a| opt(a.global_ipv6_address)).unwrap_or_default(),
        "GlobalIPv6PrefixLen": default.map(|a| a.global_ipv6_prefix_len).unwrap_or(0),
        "IPAddress": default.map(|a| opt(a.ip_address)).unwrap_or_default(),
        "IPPrefixLen": default.map(|a| a.ip_prefix_len).unwrap_or(0),
        "IPv6Gateway": default.map(|a| opt(a.ipv6_gateway)).unwrap_or_default(),
        "MacAddress": default.map(|a| a.mac_address.clone()).unwrap_or_default(),
        "Networks": networks,
    })
}

/// Docker's `network inspect` object (the Engine API's too; `GET /networks` lists each with
/// no endpoints, as dockerd does).
pub fn network_inspect(n: &NetworkRecord, endpoints: &[EndpointRecord]) -> Value {
    let mut config = Vec::new();
    if let Some(s) = n.subnet {
        let mut c = json!({"Subnet": s.to_string()});
        if let Some(gw) = n.gateway {
            c["Gateway"] = json!(gw.to_string());
        }
        if let Some(r) = n.ip_range {
            c["IPRange"] = json!(r.to_string());
        }
        config.push(c);
    }
    if let (true, Some(s)) = (n.ipv6, n.subnet_v6) {
        let mut c = json!({"Subnet": s.to_string()});
        if let Some(gw) = n.gateway_v6 {
            c["Gateway"] = json!(gw.to_string());
        }
        config.push(c);
    }
    let mut containers = Map::new();
    for r in endpoints.iter().filter(|r| r.alive()) {
        for a in r.attachments.iter().filter(|a| a.network_id == n.id) {
            containers.insert(
                r.container_id.clone(),
                json!({
                    "Name": r.container_name,
                    "EndpointID": a.endpoint_id,
                    "MacAddress": a.mac_address,
                    "IPv4Address": a.ip_address.map(|ip| format!("{ip}/{}", a.ip_prefix_len)).unwrap_or_default(),
                    "IPv6Address": a.global_ipv6_address.map(|ip| format!("{ip}/{}", a.global_ipv6_prefix_len)).unwrap_or_default(),
                }),
            );
        }
    }
    // The options given at create only, as dockerd shows them: docker-compose recreates a
    // network whose options differ from its file's.
    let options = n.options.clone();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv4": true,
        "EnableIPv6": n.ipv6,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": if n.is_bridge() { json!(config) } else { json!([]) },
        },
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
    })
}

/// A published port as `ebrun port` accepts it: `80`, `80/udp`.
pub fn parse_port_filter(value: &str) -> Option<PortProto> {
    PortProto::parse_range("PORT", value)
        .ok()
        .filter(|v| v.len() == 1)
        .map(|v| v[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Attachment, Proto, PublishedPort};

    fn state(v6: bool) -> NetworkState {
        NetworkState {
            mode: "bridge".into(),
            attachments: vec![Attachment {
                network_name: "bridge".into(),
                ip_address: Some("172.17.0.2".parse().unwrap()),
                global_ipv6_address: v6.then(|| "fd00::2".parse().unwrap()),
                ..Default::default()
            }],
            ports: vec![
                PublishedPort {
                    host_ip: "0.0.0.0".parse().unwrap(),
                    host_port: 8080,
                    container_port: 80,
                    proto: Proto::Tcp,
                },
                PublishedPort {
                    host_ip: "127.0.0.1".parse().unwrap(),
                    host_port: 5353,
                    container_port: 53,
                    proto: Proto::Udp,
                },
            ],
            sandbox_key: String::new(),
        }
    }

    #[test]
    fn ps_column_as_docker() {
        assert_eq!(
            ports_column(&state(true)),
            "127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp"
        );
        assert_eq!(
            ports_column(&state(false)),
            "127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp"
        );
    }

    #[test]
    fn port_command_lines() {
        assert_eq!(
            port_lines(&state(false), None),
            vec!["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]
        );
        assert_eq!(
            port_lines(&state(false), parse_port_filter("80")),
            vec!["0.0.0.0:8080"]
        );
    }

    #[test]
    fn settings_have_docker_keys() {
        let v = inspect_settings(&NetworkSpec::default(), &state(false), "0123456789abcdef");
        assert_eq!(v["IPAddress"], "172.17.0.2");
        assert_eq!(v["Ports"]["80/tcp"][0]["HostPort"], "8080");
        assert!(v["Networks"]["bridge"].is_object());
    }
}
