//! Living next to iptables the way Docker does: when the host's iptables `FORWARD` chain
//! (iptables-nft or legacy, whichever `iptables` is) drops by policy or has rules of its
//! own, ebrun inserts accept rules for its bridges at the top of it, through the iptables
//! binaries themselves so that iptables can still read its table:
//!
//! ```text
//! -I FORWARD -i BRIDGE -j ACCEPT
//! -I FORWARD -o BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! -I FORWARD -o BRIDGE -m conntrack --ctstate DNAT -j ACCEPT
//! ```
//!
//! each with `-m comment --comment ebrun:<prefix>`, and deletes exactly those when the
//! bridges go (network rm, teardown). Isolation and `--internal` drops stay in ebrun's own
//! nft table, where a drop is final whatever other tables accept. Drops in other nft tables
//! are the host administrator's to open for ebrun's bridges: an accept in one table cannot
//! override a drop in another.
//!
//! The rules are synced when a bridge is created and when networks are removed, so a FORWARD
//! policy set after ebrun's bridge exists takes effect for ebrun at its next network change.

use std::process::{Command, Stdio};

use super::NetworkError;

/// The comment marking this instance's rules.
fn comment(prefix: &str) -> String {
    format!("ebrun:{prefix}")
}

/// `iptables -w -S FORWARD`, or None if the binary or the chain is not there.
fn list(bin: &str) -> Option<String> {
    let out = Command::new(bin)
        .args(["-w", "-S", "FORWARD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(bin: &str, args: &[String]) -> Result<(), NetworkError> {
    let out = Command::new(bin)
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetworkError::Io {
            op: "run iptables",
            source: e,
        })?;
    if !out.status.success() {
        return Err(NetworkError::Firewall(format!(
            "{bin} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The rules wanted for `bridges`, as `-I FORWARD ...` argument lists.
fn wanted(prefix: &str, bridges: &[String]) -> Vec<Vec<String>> {
    let c = comment(prefix);
    let mut out = Vec::new();
    for br in bridges {
        for spec in [
            format!("-i {br} -j ACCEPT"),
            format!("-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            format!("-o {br} -m conntrack --ctstate DNAT -j ACCEPT"),
        ] {
            let mut args: Vec<String> = vec!["-I".into(), "FORWARD".into()];
            args.extend(spec.split(' ').map(str::to_string));
            args.extend(["-m", "comment", "--comment", &c].map(str::to_string));
            out.push(args);
        }
    }
    out
}

/// Makes this instance's accept rules in the iptables and ip6tables FORWARD chains exactly
/// the ones for `bridges` (none: removes them).
pub fn sync_forward_accepts(prefix: &str, bridges: &[String]) -> Result<(), NetworkError> {
    let c = comment(prefix);
    for bin in ["iptables", "ip6tables"] {
        let Some(listing) = list(bin) else {
            continue;
        };
        let ours: Vec<&str> = listing
            .lines()
            .filter(|l| l.starts_with("-A FORWARD") && l.contains(&c))
            .collect();
        let others = listing
            .lines()
            .any(|l| l.starts_with("-A FORWARD") && !l.contains("--comment ebrun:"));
        let drops = listing.lines().any(|l| l == "-P FORWARD DROP");
        // Nothing of ours, and nothing that could drop our traffic: leave iptables alone.
        if ours.is_empty() && !(drops || others) {
            continue;
        }
        let wanted = if drops || others {
            wanted(prefix, bridges)
        } else {
            Vec::new()
        };
        // Same bridges, three rules each: nothing to do.
        let mut current: Vec<&str> = ours
            .iter()
            .filter_map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                w.iter()
                    .position(|x| *x == "-i" || *x == "-o")
                    .and_then(|i| w.get(i + 1).copied())
            })
            .collect();
        current.sort();
        current.dedup();
        let mut goal: Vec<&str> = if wanted.is_empty() {
            Vec::new()
        } else {
            bridges.iter().map(String::as_str).collect()
        };
        goal.sort();
        if current == goal && ours.len() == wanted.len() {
            continue;
        }
        for l in &ours {
            // `-S` prints rules in the syntax `-D` takes (quotes only around spaces).
            let args: Vec<String> = std::iter::once("-D".to_string())
                .chain(
                    l.trim_start_matches("-A ")
                        .split(' ')
                        .map(|w| w.trim_matches('"').to_string()),
                )
                .collect();
            run(bin, &args)?;
        }
        for args in &wanted {
            run(bin, args)?;
        }
    }
    Ok(())
}
