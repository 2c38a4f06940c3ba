//! Container ids: 64 random hex digits, shown truncated to 12 like Docker's.

use std::io::Read;

/// A new random container id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    hex::encode(bytes)
}

/// The 12-character form Docker prints.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
