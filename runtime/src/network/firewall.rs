//! The firewall: nftables, in a table of ebrun's own (ARCHITECTURE.md point 8).
//!
//! Table `inet <prefix>` (e.g. `inet ebrun`), built with the `nftables` crate (typed JSON, no
//! quoting of names by hand) and applied by `nft -j -f -`, one atomic transaction per change:
//!
//! - base chains `prerouting`/`output` (nat, dstnat) jump to `published` for local
//!   destinations: one DNAT rule per published port, added and deleted by handle, so a
//!   container's start or exit never touches another container's rules;
//! - base chain `postrouting` (nat, srcnat) jumps to `masquerade`: outbound masquerade per
//!   network, hairpin (a container reaching a published port of its own network) and
//!   127.0.0.1 (with `route_localnet` on ebrun's bridges);
//! - base chain `forward` (filter) jumps to `isolation`: networks cannot reach each other
//!   (published ports excepted) and `--internal` networks have no way out;
//! - base chain `loopback6` (filter, prerouting) and the table `netdev <prefix>`: ports
//!   published on `::1` without a proxy process (see [`Firewall::render_loopback6`]).
//!
//! Per-network chains are re-rendered (flushed and refilled) when networks change; the
//! rendering last applied is cached so unchanged networks cost nothing. Nobody else's rules
//! are touched; the accept rules ebrun adds to iptables' FORWARD chain, as Docker does, are in
//! [`super::iptables_compat`].

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use nftables::expr::{self, Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField};
use nftables::schema::{self, Chain, NfCmd, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{self, Match, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::Value;

use super::spec::Proto;
use super::store::NetworkRecord;
use super::NetworkError;
use crate::Paths;

/// The chain holding one DNAT rule per published port.
pub const PUBLISHED: &str = "published";
const MASQUERADE: &str = "masquerade";
const ISOLATION: &str = "isolation";
/// Replies to connections from the host's `::1` (see [`Firewall::render_loopback6`]).
const LOOPBACK6: &str = "loopback6";

/// A published port as the firewall needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnat {
    /// `None`: any local address of the family of `to`.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub proto: Proto,
    pub to: IpAddr,
    pub to_port: u16,
}

fn s(v: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(v.to_string()))
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn payload(protocol: &str, field: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Owned(protocol.to_string()),
            field: Cow::Owned(field.to_string()),
        },
    )))
}

fn matches(
    left: Expression<'static>,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    matches(left, Operator::EQ, right)
}

fn prefix(net: ipnet::IpNet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(expr::Prefix {
        addr: Box::new(s(&net.network().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

fn ct(key: &str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(expr::CT {
        key: Cow::Owned(key.to_string()),
        family: None,
        dir: None,
    }))
}

fn masquerade() -> Statement<'static> {
    Statement::Masquerade(None)
}

/// The table of one instance.
#[derive(Debug, Clone)]
pub struct Firewall {
    table: String,
    cache: std::path::PathBuf,
}

fn cmd(c: NfCmd<'static>) -> NfObject<'static> {
    NfObject::CmdObject(c)
}

impl Firewall {
    pub fn new(paths: &Paths) -> Self {
        Firewall {
            table: paths.prefix().to_string(),
            cache: paths.root().join("network").join("firewall.json"),
        }
    }

    /// `inet <prefix>`.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn rule(
        &self,
        chain: &str,
        expr: Vec<Statement<'static>>,
        comment: Option<String>,
    ) -> Rule<'static> {
        Rule {
            family: NfFamily::INet,
            table: Cow::Owned(self.table.clone()),
            chain: Cow::Owned(chain.to_string()),
            expr: Cow::Owned(expr),
            handle: None,
            index: None,
            comment: comment.map(Cow::Owned),
        }
    }

    fn chain(&self, name: &str, base: Option<(NfChainType, NfHook, i32)>) -> Chain<'static> {
        Chain {
            family: NfFamily::INet,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            newname: None,
            handle: None,
            _type: base.map(|b| b.0),
            hook: base.map(|b| b.1),
            prio: base.map(|b| b.2),
            dev: None,
            policy: base.map(|_| NfChainPolicy::Accept),
        }
    }

    /// The batch that (re)creates the table's chains and the per-network rules.
    fn render_networks(&self, networks: &[NetworkRecord]) -> Vec<NfObject<'static>> {
        let mut out = vec![cmd(NfCmd::Add(NfListObject::Table(Table {
            family: NfFamily::INet,
            name: Cow::Owned(self.table.clone()),
            handle: None,
        })))];
        let local = Statement::Match(Match {
            left: Expression::Named(NamedExpression::Fib(expr::Fib {
                result: expr::FibResult::Type,
                flags: HashSet::from([expr::FibFlag::Daddr]),
            })),
            right: s("local"),
            op: Operator::EQ,
        });
        let jump = |target: &str| {
            Statement::Jump(stmt::JumpTarget {
                target: Cow::Owned(target.to_string()),
            })
        };
        // Replies to connections from the host's `::1` to a published port arrive on a
        // bridge with `::1` as destination once conntrack has undone the NAT (see
        // [`Firewall::render_loopback6`]); anything else from outside `lo` to `::1` is
        // dropped, as the kernel would.
        let not_lo = || matches(meta(MetaKey::Iifname), Operator::NEQ, s("lo"));
        let to_loopback6 = || eq(payload("ip6", "daddr"), s("::1"));
        let loopback6_guard = vec![
            vec![
                not_lo(),
                to_loopback6(),
                eq(ct("direction"), s("reply")),
                Statement::Return(None),
            ],
            vec![not_lo(), to_loopback6(), Statement::Drop(None)],
        ];
        let bases = [
            (
                "prerouting",
                NfChainType::NAT,
                NfHook::Prerouting,
                -100,
                vec![vec![local.clone(), jump(PUBLISHED)]],
            ),
            (
                "output",
                NfChainType::NAT,
                NfHook::Output,
                -100,
                vec![vec![local, jump(PUBLISHED)]],
            ),
            (
                "postrouting",
                NfChainType::NAT,
                NfHook::Postrouting,
                100,
                vec![vec![jump(MASQUERADE)]],
            ),
            (
                "forward",
                NfChainType::Filter,
                NfHook::Forward,
                0,
                vec![vec![jump(ISOLATION)]],
            ),
            (
                LOOPBACK6,
                NfChainType::Filter,
                NfHook::Prerouting,
                0,
                loopback6_guard,
            ),
        ];
        for name in [PUBLISHED, MASQUERADE, ISOLATION] {
            out.push(cmd(NfCmd::Add(NfListObject::Chain(self.chain(name, None)))));
        }
        for (name, ty, hook, prio, rules) in bases {
            out.push(cmd(NfCmd::Add(NfListObject::Chain(
                self.chain(name, Some((ty, hook, prio))),
            ))));
            out.push(cmd(NfCmd::Flush(schema::FlushObject::Chain(
                self.chain(name, None),
            ))));
            for rule in rules {
                out.push(cmd(NfCmd::Add(NfListObject::Rule(
                    self.rule(name, rule, None),
                ))));
            }
        }
        for name in [MASQUERADE, ISOLATION] {
            out.push(cmd(NfCmd::Flush(schema::FlushObject::Chain(
                self.chain(name, None),
            ))));
        }
        let add = |out: &mut Vec<NfObject<'static>>, chain: &str, e: Vec<Statement<'static>>| {
            out.push(cmd(NfCmd::Add(NfListObject::Rule(
                self.rule(chain, e, None),
            ))));
        };
        // Published ports are reachable from every network (Docker's behaviour with proxies).
        add(
            &mut out,
            ISOLATION,
            vec![
                matches(ct("status"), Operator::IN, s("dnat")),
                Statement::Accept(None),
            ],
        );
        let bridges: Vec<&NetworkRecord> = networks.iter().filter(|n| n.is_bridge()).collect();
        for n in &bridges {
            let br = || s(&n.bridge);
            if n.internal {
                add(
                    &mut out,
                    ISOLATION,
                    vec![
                        eq(meta(MetaKey::Iifname), br()),
                        matches(meta(MetaKey::Oifname), Operator::NEQ, br()),
                        Statement::Drop(None),
                    ],
                );
                add(
                    &mut out,
                    ISOLATION,
                    vec![
                        eq(meta(MetaKey::Oifname), br()),
                        matches(meta(MetaKey::Iifname), Operator::NEQ, br()),
                        Statement::Drop(None),
                    ],
                );
            }
            let others: Vec<&str> = bridges
                .iter()
                .filter(|o| o.bridge != n.bridge)
                .map(|o| o.bridge.as_str())
                .collect();
            if !others.is_empty() {
                let set = Expression::Named(NamedExpression::Set(
                    others
                        .iter()
                        .map(|b| expr::SetItem::Element(s(b)))
                        .collect(),
                ));
                add(
                    &mut out,
                    ISOLATION,
                    vec![
                        eq(meta(MetaKey::Iifname), br()),
                        eq(meta(MetaKey::Oifname), set),
                        Statement::Drop(None),
                    ],
                );
            }
            let subnets: Vec<ipnet::IpNet> = n
                .subnet
                .map(ipnet::IpNet::V4)
                .into_iter()
                .chain(n.subnet_v6.filter(|_| n.ipv6).map(ipnet::IpNet::V6))
                .collect();
            for net in &subnets {
                let family = if matches!(net, ipnet::IpNet::V4(_)) {
                    "ip"
                } else {
                    "ip6"
                };
                // Hairpin: a container reaching a published port of its own network.
                add(
                    &mut out,
                    MASQUERADE,
                    vec![
                        eq(meta(MetaKey::Oifname), br()),
                        eq(payload(family, "saddr"), prefix(*net)),
                        matches(ct("status"), Operator::IN, s("dnat")),
                        masquerade(),
                    ],
                );
                if !n.internal && n.masquerade() {
                    add(
                        &mut out,
                        MASQUERADE,
                        vec![
                            eq(payload(family, "saddr"), prefix(*net)),
                            matches(meta(MetaKey::Oifname), Operator::NEQ, br()),
                            masquerade(),
                        ],
                    );
                }
            }
            if !n.existing_bridge && n.ipv6 && n.subnet_v6.is_some() {
                // The host reaching a published port on ::1 (see `render_loopback6`).
                add(
                    &mut out,
                    MASQUERADE,
                    vec![
                        eq(meta(MetaKey::Oifname), br()),
                        eq(payload("ip6", "saddr"), s("::1")),
                        masquerade(),
                    ],
                );
            }
            if !n.existing_bridge {
                // The host reaching a port published on 127.0.0.1 (route_localnet).
                let lo: ipnet::IpNet = "127.0.0.0/8".parse().expect("valid prefix");
                add(
                    &mut out,
                    MASQUERADE,
                    vec![
                        eq(meta(MetaKey::Oifname), br()),
                        eq(payload("ip", "saddr"), prefix(lo)),
                        masquerade(),
                    ],
                );
            }
        }
        out.extend(self.render_loopback6(&bridges));
        out
    }

    /// The `netdev <prefix>` table, for ports published on `::1` (Docker needs a userland
    /// proxy for them): the host's connection from `::1` is DNATed to the container and
    /// masqueraded to the bridge's address; the container's reply, turned back to `::1` by
    /// conntrack, would be dropped on the bridge (RFC 4291 2.5.3: `::1` never arrives on
    /// another device). So it is handed to `lo` at the bridge's ingress, where the
    /// connection's socket gets it. The bridge's `local ::1` route (see
    /// [`super::netlink::Netlink::ensure_bridge`]) lets it through br_netfilter's routing,
    /// and the `loopback6` chain drops anything to `::1` that is not such a reply (a
    /// container forging one reaches no loopback service). One chain per existing bridge
    /// of ebrun's own with IPv6; the table is rebuilt whole.
    fn render_loopback6(&self, bridges: &[&NetworkRecord]) -> Vec<NfObject<'static>> {
        let table = || Table {
            family: NfFamily::NetDev,
            name: Cow::Owned(self.table.clone()),
            handle: None,
        };
        let mut out = vec![
            cmd(NfCmd::Add(NfListObject::Table(table()))),
            cmd(NfCmd::Delete(NfListObject::Table(table()))),
        ];
        let ours: Vec<&&NetworkRecord> = bridges
            .iter()
            .filter(|n| !n.existing_bridge && n.ipv6 && n.subnet_v6.is_some())
            .filter(|n| {
                std::path::Path::new("/sys/class/net")
                    .join(&n.bridge)
                    .exists()
            })
            .collect();
        if ours.is_empty() {
            return out;
        }
        out.push(cmd(NfCmd::Add(NfListObject::Table(table()))));
        for n in ours {
            let name = format!("{LOOPBACK6}-{}", n.bridge);
            out.push(cmd(NfCmd::Add(NfListObject::Chain(Chain {
                family: NfFamily::NetDev,
                table: Cow::Owned(self.table.clone()),
                name: Cow::Owned(name.clone()),
                newname: None,
                handle: None,
                _type: Some(NfChainType::Filter),
                hook: Some(NfHook::Ingress),
                prio: Some(0),
                dev: Some(Cow::Owned(n.bridge.clone())),
                policy: Some(NfChainPolicy::Accept),
            }))));
            out.push(cmd(NfCmd::Add(NfListObject::Rule(Rule {
                family: NfFamily::NetDev,
                table: Cow::Owned(self.table.clone()),
                chain: Cow::Owned(name),
                expr: Cow::Owned(vec![
                    eq(payload("ip6", "daddr"), s("::1")),
                    Statement::Mangle(stmt::Mangle {
                        key: payload("ether", "daddr"),
                        value: s("00:00:00:00:00:00"),
                    }),
                    Statement::FWD(Some(stmt::FWD {
                        dev: Some(s("lo")),
                        family: None,
                        addr: None,
                    })),
                ]),
                handle: None,
                index: None,
                comment: None,
            }))));
        }
        out
    }

    /// Brings the table's chains and per-network rules up to date with `networks`. Skipped
    /// when the same rendering was applied last, unless `force` (a bridge was just created,
    /// or the table may have been removed).
    pub fn sync_networks(
        &self,
        networks: &[NetworkRecord],
        force: bool,
    ) -> Result<(), NetworkError> {
        let batch = Nftables {
            objects: Cow::Owned(self.render_networks(networks)),
        };
        let json = serde_json::to_vec(&batch).map_err(|e| NetworkError::Firewall(e.to_string()))?;
        if !force && std::fs::read(&self.cache).is_ok_and(|c| c == json) {
            return Ok(());
        }
        run_nft(&json, false)?;
        crate::state::write_atomic(&self.cache, &json)?;
        Ok(())
    }

    /// Adds one DNAT rule per entry, marked with `owner` (the container id); returns their
    /// handles.
    pub fn add_dnat(&self, rules: &[Dnat], owner: &str) -> Result<Vec<u64>, NetworkError> {
        super::nft_netlink::add_dnat(&self.table, PUBLISHED, rules, owner)
    }

    /// Deletes the `published` rules with these handles (already gone: not an error).
    pub fn delete_rules(&self, handles: &[u64]) -> Result<(), NetworkError> {
        super::nft_netlink::delete_rules(&self.table, PUBLISHED, handles)
    }

    /// Deletes every `published` rule marked with `owner` (clean-up after a crash).
    pub fn delete_owned(&self, owner: &str) -> Result<(), NetworkError> {
        let handles: Vec<u64> = list_chain(NfFamily::INet, &self.table, PUBLISHED)?
            .into_iter()
            .filter(|(_, comment)| comment.as_deref() == Some(owner))
            .map(|(h, _)| h)
            .collect();
        self.delete_rules(&handles)
    }

    /// Removes the whole table (`ebrun system teardown`).
    pub fn remove_table(&self) -> Result<(), NetworkError> {
        let objects = vec![
            cmd(NfCmd::Add(NfListObject::Table(Table {
                family: NfFamily::INet,
                name: Cow::Owned(self.table.clone()),
                handle: None,
            }))),
            cmd(NfCmd::Delete(NfListObject::Table(Table {
                family: NfFamily::INet,
                name: Cow::Owned(self.table.clone()),
                handle: None,
            }))),
            cmd(NfCmd::Add(NfListObject::Table(Table {
                family: NfFamily::NetDev,
                name: Cow::Owned(self.table.clone()),
                handle: None,
            }))),
            cmd(NfCmd::Delete(NfListObject::Table(Table {
                family: NfFamily::NetDev,
                name: Cow::Owned(self.table.clone()),
                handle: None,
            }))),
        ];
        let json = serde_json::to_vec(&Nftables {
            objects: Cow::Owned(objects),
        })
        .map_err(|e| NetworkError::Firewall(e.to_string()))?;
        run_nft(&json, false)?;
        let _ = std::fs::remove_file(&self.cache);
        Ok(())
    }
}

/// Deletes `published` rules by handle (over netlink: see `nft_netlink` for why the caller
/// does not wait for the kernel's clean-up).
pub fn delete_rules_deferred(table: &str, handles: &[u64]) -> Result<(), NetworkError> {
    super::nft_netlink::delete_rules(table, PUBLISHED, handles)
}

/// (handle, comment) of every rule of a chain; a missing chain has none.
fn list_chain(
    family: NfFamily,
    table: &str,
    chain: &str,
) -> Result<Vec<(u64, Option<String>)>, NetworkError> {
    let fam = serde_json::to_value(family)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let out = Command::new("nft")
        .args(["-j", "-a", "list", "chain", &fam, table, chain])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetworkError::Io {
            op: "run nft",
            source: e,
        })?;
    if !out.status.success() {
        return Ok(Vec::new());
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| NetworkError::Firewall(e.to_string()))?;
    Ok(v.get("nftables")
        .and_then(Value::as_array)
        .map(|objs| {
            objs.iter()
                .filter_map(|o| o.get("rule"))
                .filter_map(|r| {
                    Some((
                        r.get("handle")?.as_u64()?,
                        r.get("comment").and_then(Value::as_str).map(str::to_string),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Starts `nft -j -f -` (with `-e -a`: it echoes what was added, with handles) and feeds it
/// `json`; stdin is closed when this returns.
fn spawn_nft(json: &[u8], echo: bool, stdout: Stdio) -> Result<std::process::Child, NetworkError> {
    let mut c = Command::new("nft");
    if echo {
        c.args(["-e", "-a"]);
    }
    let mut child = c
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetworkError::Io {
            op: "run nft (is nftables installed?)",
            source: e,
        })?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(json)
        .map_err(|e| NetworkError::Io {
            op: "write to nft",
            source: e,
        })?;
    Ok(child)
}

/// Runs `nft -j -f -` on `json` (with `-e -a`: returns what was added, with handles).
fn run_nft(json: &[u8], echo: bool) -> Result<Value, NetworkError> {
    let child = spawn_nft(json, echo, Stdio::piped())?;
    let out = child.wait_with_output().map_err(|e| NetworkError::Io {
        op: "run nft",
        source: e,
    })?;
    if !out.status.success() {
        return Err(NetworkError::Firewall(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| NetworkError::Firewall(format!("nft output: {e}")))
}
