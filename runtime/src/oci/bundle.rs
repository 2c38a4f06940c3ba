//! Reading and writing a bundle's `config.json`.

use std::path::Path;

use oci_spec::runtime::Spec;

use super::OciError;

/// The spec's file name in a bundle (and in a container's directory).
pub const CONFIG_FILE: &str = "config.json";

/// Reads `path`: a field of the wrong type, a missing required field or an unknown value
/// (a namespace type, a capability) is refused with its JSON path.
pub fn load_spec(path: &Path) -> Result<Spec, OciError> {
    let text = std::fs::read(path).map_err(|source| OciError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut de = serde_json::Deserializer::from_slice(&text);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        OciError::Invalid {
            file: path.display().to_string(),
            path: if at == "." { "(top level)".into() } else { at },
            message: e.into_inner().to_string(),
        }
    })?;
    if spec.version().is_empty() {
        return Err(OciError::Invalid {
            file: path.display().to_string(),
            path: "ociVersion".into(),
            message: "missing field `ociVersion`".into(),
        });
    }
    Ok(spec)
}

/// Writes `spec` to `path` atomically (a reader never sees half of it).
pub fn write_spec(path: &Path, spec: &Spec) -> Result<(), OciError> {
    let text = serde_json::to_vec_pretty(spec).expect("a spec serializes");
    let tmp = path.with_extension("json.tmp");
    let io = |op| {
        move |source| OciError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    std::fs::write(&tmp, text).map_err(io("write"))?;
    std::fs::rename(&tmp, path).map_err(io("rename"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Spec, OciError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).unwrap();
        load_spec(&path)
    }

    #[test]
    fn errors_name_the_json_path() {
        let err = load(
            r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("linux.namespaces[1].type"), "{err}");
        let err = load(r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":"x"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("process.user.uid"), "{err}");
        let err = load(r#"{"root":{"path":"rootfs"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ociVersion"), "{err}");
        assert!(load(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#).is_ok());
    }
}
