//! `commit -c` / `import -c`: Dockerfile instructions applied to an image config, the ones
//! Docker allows there (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR).

use serde_json::Value;

use super::dockerfile;
use super::error::BuildError;
use super::metadata;
use super::stage::StageState;

const ALLOWED: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Applies each change (`CMD ["sh"]`, `ENV A=1`, ...) to the `config` object.
pub fn apply_changes(config: Value, changes: &[String]) -> Result<Value, BuildError> {
    let mut state = StageState::new(None, config, '\\');
    for change in changes {
        let parsed = dockerfile::parse(&format!("FROM scratch\n{change}\n")).map_err(|e| {
            BuildError::Invalid(format!("invalid change {change:?}: {}", e.message()))
        })?;
        for instr in parsed.stages.iter().flat_map(|s| &s.instructions) {
            let name = instr.kind.name();
            if !ALLOWED.contains(&name) {
                return Err(BuildError::Invalid(format!(
                    "{name} is not a valid change command"
                )));
            }
            metadata::apply(&mut state, &instr.kind)
                .map_err(|m| BuildError::Invalid(format!("invalid change {change:?}: {m}")))?;
        }
    }
    Ok(state.config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_allowed_changes_and_refuses_others() {
        let out = apply_changes(
            json!({"Env": ["PATH=/bin"], "Cmd": ["sh"]}),
            &[
                "ENV A=1".into(),
                r#"CMD ["/app", "--serve"]"#.into(),
                "EXPOSE 8080".into(),
                "WORKDIR /srv".into(),
            ],
        )
        .unwrap();
        assert_eq!(out["Env"], json!(["PATH=/bin", "A=1"]));
        assert_eq!(out["Cmd"], json!(["/app", "--serve"]));
        assert_eq!(out["ExposedPorts"], json!({"8080/tcp": {}}));
        assert_eq!(out["WorkingDir"], json!("/srv"));
        let e = apply_changes(json!({}), &["RUN true".into()]).unwrap_err();
        assert_eq!(e.to_string(), "RUN is not a valid change command");
    }
}
