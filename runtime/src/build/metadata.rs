//! The instructions that only change the image's config (`ENV`, `LABEL`, `CMD`, `WORKDIR`,
//! ...), applied to a stage's state the way the classic builder's dispatchers apply them.
//! `commit -c` applies the same ones to a container's config.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::dockerfile::{HealthcheckInstr, InstructionKind, ShellOrExec};
use super::stage::{go_quoted, string_list, StageState};

/// What a metadata instruction became: the text of its history entry (`ENV A=1`).
pub type Applied = Result<String, String>;

/// Whether `kind` only changes the config (no container, no layer).
pub fn is_metadata(kind: &InstructionKind) -> bool {
    !matches!(
        kind,
        InstructionKind::Run { .. } | InstructionKind::Copy(_) | InstructionKind::Add(_)
    )
}

/// A command in shell form wrapped in the stage's shell, or in exec form as is.
pub fn command_of(state: &StageState, cmd: &ShellOrExec) -> Vec<String> {
    match cmd {
        ShellOrExec::Exec(args) => args.clone(),
        ShellOrExec::Shell(text) => {
            let mut v = state.shell();
            v.push(text.clone());
            v
        }
    }
}

/// Applies a metadata instruction (not `ARG`, which needs the build args: see the executor).
pub fn apply(state: &mut StageState, kind: &InstructionKind) -> Applied {
    let ex = |s: &StageState, w: &str| s.expand(w).map_err(|e| e.to_string());
    match kind {
        InstructionKind::Env(pairs) => {
            let mut shown = Vec::new();
            for (k, v) in pairs {
                let (k, v) = (ex(state, k)?, ex(state, v)?);
                if k.is_empty() {
                    return Err("ENV names can not be blank".into());
                }
                state.set_env(&k, &v);
                shown.push(format!("{k}={v}"));
            }
            Ok(format!("ENV {}", shown.join(" ")))
        }
        InstructionKind::Label(pairs) => {
            let mut labels: Map<String, Value> = state.config["Labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for (k, v) in pairs {
                let (k, v) = (ex(state, k)?, ex(state, v)?);
                if k.is_empty() {
                    return Err("LABEL names can not be blank".into());
                }
                shown.push(format!(
                    "{k}={}",
                    serde_json::to_string(&v).unwrap_or_default()
                ));
                labels.insert(k, json!(v));
            }
            state.config["Labels"] = Value::Object(labels);
            Ok(format!("LABEL {}", shown.join(" ")))
        }
        InstructionKind::Workdir(dir) => {
            let dir = ex(state, dir)?;
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{dir}", state.workdir().trim_end_matches('/'))
            };
            let clean = clean_path(&joined);
            state.config["WorkingDir"] = json!(clean);
            Ok(format!("WORKDIR {clean}"))
        }
        InstructionKind::User(user) => {
            let user = ex(state, user)?;
            state.config["User"] = json!(user);
            Ok(format!("USER {user}"))
        }
        InstructionKind::Expose(ports) => {
            let mut exposed: Map<String, Value> = state.config["ExposedPorts"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for p in ports {
                for word in state.expand_words(p).map_err(|e| e.to_string())? {
                    for port in expose_ports(&word)? {
                        exposed.insert(port.clone(), json!({}));
                        shown.push(port);
                    }
                }
            }
            state.config["ExposedPorts"] = Value::Object(exposed);
            shown.sort();
            Ok(format!("EXPOSE {}", shown.join(" ")))
        }
        InstructionKind::Volume(paths) => {
            let mut volumes: Map<String, Value> = state.config["Volumes"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for p in paths {
                let p = ex(state, p)?;
                if p.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                volumes.insert(p.clone(), json!({}));
                shown.push(p);
            }
            state.config["Volumes"] = Value::Object(volumes);
            Ok(format!("VOLUME {}", go_quoted(&shown)))
        }
        InstructionKind::Cmd(cmd) => {
            let args = command_of(state, cmd);
            state.config["Cmd"] = json!(args);
            state.cmd_set = true;
            Ok(format!("CMD {}", go_quoted(&args)))
        }
        InstructionKind::Entrypoint(cmd) => {
            let args = command_of(state, cmd);
            state.config["Entrypoint"] = json!(args);
            if !state.cmd_set {
                // An ENTRYPOINT drops the CMD inherited from the base image.
                state.config["Cmd"] = Value::Null;
            }
            Ok(format!("ENTRYPOINT {}", go_quoted(&args)))
        }
        InstructionKind::Shell(shell) => {
            if shell.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            state.config["Shell"] = json!(shell);
            Ok(format!("SHELL {}", go_quoted(shell)))
        }
        InstructionKind::StopSignal(sig) => {
            let sig = ex(state, sig)?;
            crate::process::parse_signal(&sig).ok_or_else(|| format!("Invalid signal: {sig}"))?;
            state.config["StopSignal"] = json!(sig);
            Ok(format!("STOPSIGNAL {sig}"))
        }
        InstructionKind::Healthcheck(h) => {
            let (value, shown) = healthcheck(state, h);
            state.config["Healthcheck"] = value;
            Ok(format!("HEALTHCHECK {shown}"))
        }
        InstructionKind::Onbuild(trigger) => {
            let mut triggers = string_list(&state.config["OnBuild"]);
            triggers.push(trigger.clone());
            state.config["OnBuild"] = json!(triggers);
            Ok(format!("ONBUILD {trigger}"))
        }
        InstructionKind::Maintainer(who) => {
            let who = ex(state, who)?;
            state.author = Some(who.clone());
            Ok(format!("MAINTAINER {who}"))
        }
        InstructionKind::Arg(_)
        | InstructionKind::Run { .. }
        | InstructionKind::Copy(_)
        | InstructionKind::Add(_) => Err("not a metadata instruction".into()),
    }
}

fn healthcheck(state: &StageState, h: &HealthcheckInstr) -> (Value, String) {
    match h {
        HealthcheckInstr::None => (json!({"Test": ["NONE"]}), "NONE".into()),
        HealthcheckInstr::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let test_list: Vec<String> = match test {
                ShellOrExec::Exec(args) => {
                    let mut v = vec!["CMD".to_string()];
                    v.extend(args.iter().cloned());
                    v
                }
                ShellOrExec::Shell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
            };
            let _ = state;
            let mut doc = BTreeMap::new();
            doc.insert("Test", json!(test_list));
            let ns = |d: &Option<std::time::Duration>| d.map(|d| d.as_nanos() as i64);
            for (key, value) in [
                ("Interval", ns(interval)),
                ("Timeout", ns(timeout)),
                ("StartPeriod", ns(start_period)),
                ("StartInterval", ns(start_interval)),
                ("Retries", retries.map(i64::from)),
            ] {
                if let Some(v) = value.filter(|v| *v != 0) {
                    doc.insert(key, json!(v));
                }
            }
            let shown = go_quoted(&test_list);
            (json!(doc), shown)
        }
    }
}

/// `EXPOSE` words: `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp`, ...
fn expose_ports(word: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_lowercase();
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Go's `path.Clean` of an absolute path.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_forms() {
        assert_eq!(expose_ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose_ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            expose_ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(expose_ports("x").is_err());
        assert!(expose_ports("80/foo").is_err());
    }

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("/app/../srv/./x/"), "/srv/x");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("/../a"), "/a");
    }

    #[test]
    fn entrypoint_clears_an_inherited_cmd_but_not_one_set_here() {
        let mut s = StageState::new(None, json!({"Cmd": ["sh"]}), '\\');
        apply(
            &mut s,
            &InstructionKind::Entrypoint(ShellOrExec::Exec(vec!["/e".into()])),
        )
        .unwrap();
        assert_eq!(s.config["Cmd"], Value::Null);
        apply(
            &mut s,
            &InstructionKind::Cmd(ShellOrExec::Shell("run x".into())),
        )
        .unwrap();
        let shown = apply(
            &mut s,
            &InstructionKind::Entrypoint(ShellOrExec::Exec(vec!["/f".into()])),
        )
        .unwrap();
        assert_eq!(s.config["Cmd"], json!(["/bin/sh", "-c", "run x"]));
        assert_eq!(shown, r#"ENTRYPOINT ["/f"]"#);
    }
}
