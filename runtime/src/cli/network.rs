//! `ebrun network create|ls|inspect|rm|connect|disconnect|prune`: thin front ends over
//! [`ebrun::network`], printing what Docker prints.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

use ebrun::format::contexts;
use ebrun::format::template::{ListFormat, Template};
use ebrun::network::connections::{connect_container, disconnect_container};
use ebrun::network::endpoints::Endpoints;
use ebrun::network::{
    self, networks, CreateOptions, FilterArgs, IpamConfig, NetworkFilter, PruneFilter,
};

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
    /// Driver to manage the network (`bridge`, `macvlan`, `ipvlan`).
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
    /// Auxiliary IPv4 addresses used by the network driver (NAME=IP; macvlan, ipvlan).
    #[arg(long = "aux-address")]
    aux_address: Vec<String>,
    /// Restrict external access to the network.
    #[arg(long)]
    internal: bool,
    /// Enable IPv6 networking.
    #[arg(long)]
    ipv6: bool,
    /// Enable manual container attachment (recorded; every network is attachable).
    #[arg(long)]
    attachable: bool,
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
    /// Filter output (name=, id=, driver=, label=KEY[=VALUE], scope=, type=, dangling=).
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
    /// Provide filter values (until=, label=KEY[=VALUE], label!=KEY[=VALUE]).
    #[arg(long = "filter")]
    filter: Vec<String>,
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

/// `--subnet`, `--gateway` and `--ip-range` as IPAM configs: a gateway and a range go with
/// the subnet of their address family.
fn ipam_configs(a: &CreateArgs) -> Result<Vec<IpamConfig>> {
    let v6 = |s: &str| s.contains(':');
    let mut configs: Vec<IpamConfig> = a
        .subnet
        .iter()
        .map(|s| IpamConfig {
            subnet: s.clone(),
            ..Default::default()
        })
        .collect();
    for g in &a.gateway {
        let c = configs
            .iter_mut()
            .find(|c| v6(&c.subnet) == v6(g) && c.gateway.is_empty())
            .ok_or_else(|| {
                anyhow!("invalid --gateway {g:?}: a gateway needs a --subnet of its family")
            })?;
        c.gateway = g.clone();
    }
    if let Some(r) = &a.ip_range {
        let c = configs
            .iter_mut()
            .find(|c| !v6(&c.subnet))
            .ok_or_else(|| anyhow!("invalid --ip-range {r:?}: an ip-range needs a --subnet"))?;
        c.ip_range = r.clone();
    }
    Ok(configs)
}

fn create(ctx: &Context, a: CreateArgs) -> Result<i32> {
    let mut o = CreateOptions {
        name: a.name.clone(),
        driver: a.driver.clone(),
        internal: a.internal,
        attachable: a.attachable,
        ipv6: a.ipv6,
        options: key_values("--opt", &a.opt)?,
        labels: key_values("--label", &a.label)?,
        ..Default::default()
    };
    for (name, ip) in key_values("--aux-address", &a.aux_address)? {
        let ip = ip
            .parse()
            .map_err(|_| anyhow!("invalid --aux-address {name}={ip}: an IPv4 address"))?;
        o.aux_addresses.insert(name, ip);
    }
    o.set_ipam(&ipam_configs(&a)?)?;
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

fn ls(ctx: &Context, a: LsArgs) -> Result<i32> {
    let filter = FilterArgs::from_flags(&a.filter).map_err(|e| anyhow!(e))?;
    let shown = match NetworkFilter::new(filter)
        .and_then(|f| Ok(f.apply(&ctx.paths, networks::list(&ctx.paths)?)))
    {
        Ok(shown) => shown,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    let given = match a.format.as_deref() {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => {
            ebrun::format::docker_config_format("networksFormat").unwrap_or_else(|| "table".into())
        }
    };
    let format = if a.quiet {
        "{{.ID}}".to_string()
    } else if given == "table" {
        contexts::NETWORK_TABLE.to_string()
    } else {
        given
    };
    let rows: Vec<_> = shown
        .iter()
        .map(|n| contexts::network(&network::network_inspect(n, &[]), !a.no_trunc))
        .collect();
    let out =
        ListFormat::from_format(&format).and_then(|f| f.render(&rows, contexts::NETWORK_TITLES));
    match out {
        Ok(text) => {
            super::print_out(&text)?;
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

fn inspect(ctx: &Context, a: InspectArgs) -> Result<i32> {
    let eps = Endpoints::new(&ctx.paths).list();
    let mut out = Vec::new();
    let mut code = 0;
    for key in &a.networks {
        match networks::find(&ctx.paths, key) {
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
    match connect_container(&ctx.paths, &a.network, &a.container, ip, &a.alias) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

fn disconnect(ctx: &Context, a: DisconnectArgs) -> Result<i32> {
    match disconnect_container(&ctx.paths, &a.network, &a.container, a.force) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

fn prune(ctx: &Context, a: PruneArgs) -> Result<i32> {
    let filter = FilterArgs::from_flags(&a.filter).map_err(|e| anyhow!(e))?;
    if !a.force {
        print!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let deleted = match PruneFilter::new(filter).and_then(|f| networks::prune(&ctx.paths, &f)) {
        Ok(deleted) => deleted,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
    };
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for d in deleted {
            println!("{d}");
        }
    }
    Ok(0)
}
