//! An I/O error's cause in the words Docker (Go) uses: "no space left on device", without
//! Rust's "(os error 28)" or the temp file's path that `tempfile` appends.

/// The cause of `e` as Go's syscall errors spell it (lower case, no error number).
pub fn describe(e: &std::io::Error) -> String {
    if let Some(code) = e.raw_os_error() {
        return lower_first(nix::errno::Errno::from_raw(code).desc());
    }
    match e.kind() {
        std::io::ErrorKind::StorageFull => "no space left on device".into(),
        std::io::ErrorKind::QuotaExceeded => "disk quota exceeded".into(),
        // `tempfile` wraps the OS error as "<error> (os error N) at path <temp file>".
        _ => {
            let text = e.to_string();
            let text = text.split(" at path ").next().unwrap_or_default();
            let text = match text.rfind(" (os error ") {
                Some(cut) if text.ends_with(')') => &text[..cut],
                _ => text,
            };
            lower_first(text)
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_as_go_prints_them() {
        let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(describe(&e), "no space left on device");
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "no such file or directory");
    }

    #[test]
    fn a_temp_files_wrapped_error_keeps_its_cause_only() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let e = tempfile::Builder::new().tempfile_in(&gone).unwrap_err();
        assert_eq!(describe(&e), "no such file or directory");
    }
}
