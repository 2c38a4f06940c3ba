//! `ebrun network create|ls|inspect|rm|connect|disconnect|prune`: thin front ends over
//! [`ebrun::network`], printing what Docker prints.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

use ebrun::container::ContainerStore;
use ebrun::format::display::Table;
use ebrun::format::template::Template;
use ebrun::network::endpoints::Endpoints;
use ebrun::network::{self, CreateOptions, NetworkStore};
use ebrun::undo::HostChange;

use super::Context;

/// `ebrun network ...`
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the network (only `bridge`).
    #[arg(short = 'd', long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format.
    #[arg(long)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 gateway for the subnet.
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container addresses from a sub-range.
    #[arg(long = "ip-range")]
    ip_range: Option<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    internal: bool,
    /// Enable IPv6 networking.
    #[arg(long)]
    ipv6: bool,
    /// Driver specific options (KEY=VALUE).
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// Set metadata on a network (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// The network's name.
    name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter output (name=, id=, driver=, label=KEY[=VALUE]).
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output with a Go template (or `json`).
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output with a Go template (or `json`).
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// IPv4 address.
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address.
    #[arg(long)]
    ip6: Option<String>,
    /// Add network-scoped alias for the container.
    #[arg(long)]
    alias: Vec<String>,
    network: String,
    container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

pub fn network_command(ctx: &Context, cmd: NetworkCommand) -> Result<i32> {
    match cmd {
        NetworkCommand::Create(a) => create(ctx, a),
        NetworkCommand::Ls(a) => ls(ctx, a),
        NetworkCommand::Inspect(a) => inspect(ctx, a),
        NetworkCommand::Rm(a) => rm(ctx, a),
        NetworkCommand::Connect(a) => connect(ctx, a),
        NetworkCommand::Disconnect(a) => disconnect(ctx, a),
        NetworkCommand::Prune(a) => prune(ctx, a),
    }
}

fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !kv.is_empty() && flag == "--label" => Ok((kv.clone(), String::new())),
            _ => Err(anyhow!("invalid {flag} value {kv:?}: expected KEY=VALUE")),
        })
        .collect()
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    let mut o = CreateOptions {
        name: a.name.clone(),
        driver: a.driver.clone(),
        internal: a.internal,
        ipv6: a.ipv6,
        options: key_values("--opt", &a.opt)?,
        labels: key_values("--label", &a.label)?,
        ..Default::default()
    };
    for s in &a.subnet {
        match s.parse::<ipnet::IpNet>() {
            Ok(ipnet::IpNet::V4(n)) if o.subnet.is_none() => o.subnet = Some(n),
            Ok(ipnet::IpNet::V6(n)) if o.subnet_v6.is_none() => o.subnet_v6 = Some(n),
            Ok(_) => {
                return Err(anyhow!(
                    "invalid --subnet {s:?}: at most one IPv4 and one IPv6 subnet"
                ))
            }
            Err(_) => {
                return Err(anyhow!(
                    "invalid --subnet {s:?}: expected a subnet in CIDR format"
                ))
            }
        }
    }
    for g in &a.gateway {
        match g.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) if o.subnet.is_some() => o.gateway = Some(ip),
            Ok(std::net::IpAddr::V6(ip)) if o.subnet_v6.is_some() => o.gateway_v6 = Some(ip),
            Ok(_) => {
                return Err(anyhow!(
                    "invalid --gateway {g:?}: a gateway needs a --subnet of its family"
                ))
            }
            Err(_) => return Err(anyhow!("invalid --gateway {g:?}: expected an IP address")),
        }
    }
    if let Some(r) = &a.ip_range {
        if o.subnet.is_none() {
            return Err(anyhow!(
                "invalid --ip-range {r:?}: an ip-range needs a --subnet"
            ));
        }
        o.ip_range = Some(r.parse().map_err(|_| {
            anyhow!("invalid --ip-range {r:?}: expected an IPv4 subnet in CIDR format")
        })?);
    }
    match network::create_network(&ctx.paths, &o) {
        Ok(n) => {
            println!("{}", n.id);
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

fn matches_filter(n: &network::NetworkRecord, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, v)| match k.as_str() {
        "name" => n.name.contains(v.as_str()),
        "id" => n.id.starts_with(v.as_str()),
        "driver" => n.driver == *v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
            None => n.labels.contains_key(v.as_str()),
        },
        "type" => (v == "builtin") == n.is_predefined(),
        _ => true,
    })
}

fn ls(ctx: &Context, a: LsArgs) -> Result<i32> {
    let mut filters = Vec::new();
    for f in &a.filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid --filter {f:?}: expected KEY=VALUE"))?;
        if !matches!(k, "name" | "id" | "driver" | "label" | "type") {
            return Err(anyhow!("invalid filter '{k}'"));
        }
        filters.push((k.to_string(), v.to_string()));
    }
    let store = NetworkStore::new(&ctx.paths);
    let mut all = store.list();
    if !all.iter().any(|n| n.name == "bridge") {
        // The default network exists before its first container, as Docker's does.
        let _lock = store.lock()?;
        let config = network::daemon_config::DaemonConfig::load(&ctx.paths)?;
        all.insert(0, network::networks::default_network(&ctx.paths, &config)?);
    }
    all.sort_by(|x, y| x.name.cmp(&y.name));
    let shown: Vec<&network::NetworkRecord> =
        all.iter().filter(|n| matches_filter(n, &filters)).collect();
    let id = |n: &network::NetworkRecord| {
        if a.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_string()
        }
    };
    if a.quiet {
        for n in shown {
            println!("{}", id(n));
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some(f) if f != "table" => {
            let template = if f == "json" {
                None
            } else {
                Some(Template::parse(f).map_err(|e| anyhow!(e))?)
            };
            for n in shown {
                let v = serde_json::json!({
                    "ID": id(n), "Name": n.name, "Driver": n.driver, "Scope": "local",
                    "IPv6": n.ipv6.to_string(), "Internal": n.internal.to_string(),
                    "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    "CreatedAt": n.created,
                });
                match &template {
                    None => println!("{}", serde_json::to_string(&v)?),
                    Some(t) => println!("{}", t.execute(&v).map_err(|e| anyhow!(e))?),
                }
            }
        }
        _ => {
            let mut t = Table::new();
            t.row(["NETWORK ID", "NAME", "DRIVER", "SCOPE"]);
            for n in shown {
                t.row([id(n), n.name.clone(), n.driver.clone(), "local".to_string()]);
            }
            print!("{}", t.render());
        }
    }
    Ok(0)
}

fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let store = NetworkStore::new(&ctx.paths);
    let eps = Endpoints::new(&ctx.paths).list();
    let mut out = Vec::new();
    let mut code = 0;
    for key in &a.networks {
        let found = match store.lookup(key) {
            Err(network::NetworkError::NotFound(_)) if key == "bridge" => {
                let _lock = store.lock()?;
                let config = network::daemon_config::DaemonConfig::load(&ctx.paths)?;
                network::networks::default_network(&ctx.paths, &config)
            }
            r => r,
        };
        match found {
            Ok(n) => out.push(network::network_inspect(&n, &eps)),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    match a.format.as_deref() {
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
        Some("json") => println!("{}", serde_json::to_string(&Value::Array(out))?),
        Some(f) => {
            let template = Template::parse(f).map_err(|e| anyhow!(e))?;
            for v in &out {
                println!("{}", template.execute(v).map_err(|e| anyhow!(e))?);
            }
        }
    }
    Ok(code)
}

fn rm(ctx: &Context, a: RmArgs) -> Result<i32> {
    let mut code = 0;
    for key in &a.networks {
        match network::remove_network(&ctx.paths, key) {
            Ok(_) => println!("{key}"),
            Err(network::NetworkError::NotFound(_)) if a.force => {}
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn connect(ctx: &Context, a: ConnectArgs) -> Result<i32> {
    let containers = ContainerStore::new(&ctx.paths);
    let config = match containers.lookup(&a.container) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let ip = (
        a.ip.as_deref()
            .map(|s| {
                s.parse()
                    .map_err(|_| anyhow!("invalid --ip {s:?}: expected an IPv4 address"))
            })
            .transpose()?,
        a.ip6
            .as_deref()
            .map(|s| {
                s.parse()
                    .map_err(|_| anyhow!("invalid --ip6 {s:?}: expected an IPv6 address"))
            })
            .transpose()?,
    );
    let _lock = containers.lock()?;
    let mut state = containers.load_state(&config.id)?;
    // Recorded in the config for every later start (Docker's); a stopped container only
    // gets the record.
    let mut config = containers.lookup(&config.id)?;
    let name = config.name.clone();
    if let Err(e) = network::connections::record_connect(
        &ctx.paths,
        &mut config.network,
        &name,
        &a.network,
        ip,
        &a.alias,
    ) {
        eprintln!("Error response from daemon: {e}");
        return Ok(1);
    }
    if state.pid <= 0 || state.status != ebrun::container::Status::Running {
        containers.save_config(&config)?;
        return Ok(0);
    }
    match network::connect(&ctx.paths, &a.network, &config.id, state.pid, ip, &a.alias) {
        Ok((attachment, changes)) => {
            state.network.attachments.push(attachment);
            state.run_changes.extend(changes);
            containers.save_state(&config.id, &state)?;
            containers.save_config(&config)?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

fn disconnect(ctx: &Context, a: DisconnectArgs) -> Result<i32> {
    let containers = ContainerStore::new(&ctx.paths);
    let config = match containers.lookup(&a.container) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let _lock = containers.lock()?;
    let mut state = containers.load_state(&config.id)?;
    let mut config = containers.lookup(&config.id)?;
    let name = config.name.clone();
    let recorded =
        network::connections::record_disconnect(&ctx.paths, &mut config.network, &name, &a.network);
    if state.pid <= 0 || state.status != ebrun::container::Status::Running {
        // A stopped container: only the record changes.
        return match recorded {
            Ok(_) => {
                containers.save_config(&config)?;
                Ok(0)
            }
            Err(_) if a.force => Ok(0),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                Ok(1)
            }
        };
    }
    match network::disconnect(&ctx.paths, &a.network, &config.id) {
        Ok(attachment) => {
            if recorded.is_ok() {
                containers.save_config(&config)?;
            }
            state
                .network
                .attachments
                .retain(|x| x.network_id != attachment.network_id);
            state.run_changes.retain(
                |c| !matches!(c, HostChange::Veth { name, .. } if *name == attachment.host_veth),
            );
            containers.save_state(&config.id, &state)?;
            Ok(0)
        }
        Err(e) if a.force => {
            tracing::warn!(error = %e, "disconnect");
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

fn prune(ctx: &Context, a: PruneArgs) -> Result<i32> {
    if !a.force {
        print!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let store = NetworkStore::new(&ctx.paths);
    let mut deleted = Vec::new();
    for n in store.list().into_iter().filter(|n| !n.is_predefined()) {
        if network::remove_network(&ctx.paths, &n.id).is_ok() {
            deleted.push(n.name);
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for d in deleted {
            println!("{d}");
        }
    }
    Ok(0)
}
