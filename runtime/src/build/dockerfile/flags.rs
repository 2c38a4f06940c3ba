//! An instruction's `--flags` (buildkit `instructions/bflag.go`): each instruction declares
//! the flags it takes, then the words are checked against them with Docker's messages.

use super::suggest::suggest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Strings,
}

#[derive(Debug)]
struct Flag {
    name: &'static str,
    kind: Kind,
    value: String,
    values: Vec<String>,
    used: bool,
}

/// The declared flags of one instruction and the words given.
#[derive(Debug)]
pub(super) struct BFlags {
    args: Vec<String>,
    flags: Vec<Flag>,
}

impl BFlags {
    pub fn new(args: &[String]) -> Self {
        BFlags {
            args: args.to_vec(),
            flags: Vec::new(),
        }
    }

    fn add(&mut self, name: &'static str, kind: Kind, value: &str) {
        self.flags.push(Flag {
            name,
            kind,
            value: value.to_string(),
            values: Vec::new(),
            used: false,
        });
    }

    pub fn add_bool(&mut self, name: &'static str) {
        self.add(name, Kind::Bool, "false");
    }

    pub fn add_string(&mut self, name: &'static str, default: &str) {
        self.add(name, Kind::Str, default);
    }

    pub fn add_strings(&mut self, name: &'static str) {
        self.add(name, Kind::Strings, "");
    }

    /// Checks the words against the declared flags (a lone `--` ends them).
    pub fn parse(&mut self) -> Result<(), String> {
        for arg in self.args.clone() {
            if arg == "--" {
                return Ok(());
            }
            if !arg.starts_with("--") {
                return Err(format!("arg should start with -- : {arg}"));
            }
            let (flag_name, value) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (arg.as_str(), None),
            };
            let name = &flag_name[2..];
            let Some(index) = self.flags.iter().position(|f| f.name == name) else {
                let names: Vec<&str> = self.flags.iter().map(|f| f.name).collect();
                let mut message = format!("unknown flag: {flag_name}");
                if let Some(s) = suggest(name, &names, true) {
                    message.push_str(&format!(" (did you mean {s}?)"));
                }
                return Err(message);
            };
            let flag = &mut self.flags[index];
            if flag.used && flag.kind != Kind::Strings {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            flag.used = true;
            let missing = || format!("missing a value on flag: {flag_name}");
            match flag.kind {
                Kind::Bool => {
                    if value == Some("") {
                        return Err(missing());
                    }
                    flag.value = match value.unwrap_or("").to_lowercase().as_str() {
                        "true" | "" => "true".into(),
                        "false" => "false".into(),
                        _ => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {}",
                                value.unwrap_or("")
                            ))
                        }
                    };
                }
                Kind::Str => flag.value = value.ok_or_else(missing)?.to_string(),
                Kind::Strings => flag.values.push(value.ok_or_else(missing)?.to_string()),
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> &Flag {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .expect("flag declared before use")
    }

    pub fn is_used(&self, name: &str) -> bool {
        self.get(name).used
    }

    pub fn string(&self, name: &str) -> String {
        self.get(name).value.clone()
    }

    /// The value, None when empty (not given or given as `--flag=`).
    pub fn non_empty(&self, name: &str) -> Option<String> {
        Some(self.string(name)).filter(|v| !v.is_empty())
    }

    pub fn strings(&self, name: &str) -> Vec<String> {
        self.get(name).values.clone()
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name).value == "true"
    }

    /// The bool's value when the flag was given.
    pub fn bool_if_used(&self, name: &str) -> Option<bool> {
        self.is_used(name).then(|| self.bool(name))
    }

    /// The names of the flags given, in declaration order.
    pub fn used(&self) -> Vec<&'static str> {
        self.flags
            .iter()
            .filter(|f| f.used)
            .map(|f| f.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> BFlags {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut bf = BFlags::new(&args);
        bf.add_bool("link");
        bf.add_string("from", "");
        bf.add_strings("exclude");
        bf
    }

    #[test]
    fn parses_declared_flags() {
        let mut bf = flags(&["--link", "--from=x", "--exclude=a", "--exclude=b"]);
        bf.parse().unwrap();
        assert!(bf.bool("link"));
        assert_eq!(bf.string("from"), "x");
        assert_eq!(bf.strings("exclude"), ["a", "b"]);
        let mut bf = flags(&["--link=FALSE", "--", "--nope"]);
        bf.parse().unwrap();
        assert_eq!(bf.bool_if_used("link"), Some(false));
        assert_eq!(bf.used(), ["link"]);
    }

    #[test]
    fn docker_messages() {
        let cases: &[(&[&str], &str)] = &[
            (&["--xyz"], "unknown flag: --xyz"),
            (&["--form=a"], "unknown flag: --form (did you mean from?)"),
            (
                &["--from=a", "--from=b"],
                "duplicate flag specified: --from",
            ),
            (&["--from"], "missing a value on flag: --from"),
            (&["--exclude"], "missing a value on flag: --exclude"),
            (&["--link="], "missing a value on flag: --link"),
            (
                &["--link=yes"],
                "expecting boolean value for flag --link, not: yes",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(flags(args).parse().unwrap_err(), *want, "{args:?}");
        }
    }
}
