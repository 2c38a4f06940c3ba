//! Container names: validation with Docker's rule, and Docker-style random names.

use super::ContainerError;

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate(name: &str) -> Result<(), ContainerError> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidName(name.to_string()))
    }
}

const ADJECTIVES: [&str; 24] = [
    "admiring", "bold", "brave", "busy", "clever", "cool", "eager", "elastic", "focused",
    "gallant", "happy", "jolly", "keen", "kind", "lucid", "modest", "nifty", "quirky", "relaxed",
    "serene", "sharp", "stoic", "vibrant", "zen",
];

const SURNAMES: [&str; 24] = [
    "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermi", "galileo",
    "hopper", "hypatia", "kepler", "knuth", "lamport", "lovelace", "meitner", "newton", "noether",
    "pascal", "ritchie", "shannon", "thompson", "torvalds", "turing",
];

/// A random `adjective_surname`, with a number appended when `taken` says it is in use.
pub fn random(seed: &str, taken: impl Fn(&str) -> bool) -> String {
    let bytes = hex::decode(&seed[..8.min(seed.len())]).unwrap_or_default();
    let a = bytes.first().copied().unwrap_or(0) as usize % ADJECTIVES.len();
    let s = bytes.get(1).copied().unwrap_or(0) as usize % SURNAMES.len();
    let base = format!("{}_{}", ADJECTIVES[a], SURNAMES[s]);
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}{n}"))
        .find(|n| !taken(n))
        .expect("an unused name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rule() {
        assert!(validate("web-1.a_b").is_ok());
        assert!(validate("/web").is_ok());
        assert!(validate("-web").is_err());
        assert!(validate("a").is_err());
        assert!(validate("we b").is_err());
    }

    #[test]
    fn random_names_avoid_taken_ones() {
        let first = random("00000000", |_| false);
        assert_eq!(first, "admiring_babbage");
        assert_eq!(random("00000000", |n| n == first), "admiring_babbage1");
    }
}
