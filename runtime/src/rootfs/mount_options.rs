//! A mount's `options` as the OCI runtime spec (and `mount(8)`) spell them: flags, the
//! propagation, bind/rbind, recursive read-only, and what is left goes to the filesystem
//! as its data string.

use nix::mount::MsFlags;

/// The options of one mount, sorted by what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount(2) call.
    pub flags: MsFlags,
    /// `bind` or `rbind`.
    pub bind: bool,
    /// `rbind`: submounts come along.
    pub recursive: bool,
    /// `private`, `rshared`, ...: applied after the mount.
    pub propagation: MsFlags,
    /// `rro`: read-only all the way down (mount_setattr, Linux 5.12+).
    pub recursive_read_only: bool,
    /// `copyup` (ebrun) / `tmpcopyup` (runc, crun): an empty mount is first filled with what
    /// the root has at the mount point (Docker's volume copy-up).
    pub copy_up: bool,
    /// Everything else, for the filesystem (`size=64m,mode=1777`).
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            bind: false,
            recursive: false,
            propagation: MsFlags::empty(),
            recursive_read_only: false,
            copy_up: false,
            data: String::new(),
        }
    }
}

/// The mount(2) flag an option word sets or clears (`ro`, `nosuid`, `noatime`, ...), as
/// mount(8) spells them.
pub fn flag_option(word: &str) -> Option<(MsFlags, MsFlags)> {
    let none = MsFlags::empty();
    Some(match word {
        "ro" => (MsFlags::MS_RDONLY, none),
        "rw" => (none, MsFlags::MS_RDONLY),
        "suid" => (none, MsFlags::MS_NOSUID),
        "nosuid" => (MsFlags::MS_NOSUID, none),
        "dev" => (none, MsFlags::MS_NODEV),
        "nodev" => (MsFlags::MS_NODEV, none),
        "exec" => (none, MsFlags::MS_NOEXEC),
        "noexec" => (MsFlags::MS_NOEXEC, none),
        "sync" => (MsFlags::MS_SYNCHRONOUS, none),
        "async" => (none, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (MsFlags::MS_DIRSYNC, none),
        "remount" => (MsFlags::MS_REMOUNT, none),
        "mand" => (MsFlags::MS_MANDLOCK, none),
        "nomand" => (none, MsFlags::MS_MANDLOCK),
        "atime" => (none, MsFlags::MS_NOATIME),
        "noatime" => (MsFlags::MS_NOATIME, none),
        "diratime" => (none, MsFlags::MS_NODIRATIME),
        "nodiratime" => (MsFlags::MS_NODIRATIME, none),
        "relatime" => (MsFlags::MS_RELATIME, none),
        "norelatime" => (none, MsFlags::MS_RELATIME),
        "strictatime" => (MsFlags::MS_STRICTATIME, none),
        "nostrictatime" => (none, MsFlags::MS_STRICTATIME),
        _ => return None,
    })
}

/// Parses `options`; the error names the option nothing here understands and the kernel
/// would not either (`idmap` and friends).
pub fn parse_mount_options(options: &[String]) -> Result<MountOptions, String> {
    let mut parsed = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        if let Some((set, clear)) = flag_option(opt) {
            parsed.flags = (parsed.flags | set) & !clear;
            continue;
        }
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "bind" => {
                parsed.bind = true;
                continue;
            }
            "rbind" => {
                parsed.bind = true;
                parsed.recursive = true;
                continue;
            }
            "rro" => {
                parsed.recursive_read_only = true;
                (MsFlags::MS_RDONLY, MsFlags::empty())
            }
            "copyup" | "tmpcopyup" => {
                parsed.copy_up = true;
                continue;
            }
            p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "unbindable" | "runbindable") => {
                parsed.propagation = propagation_flags(p).expect("listed above");
                continue;
            }
            "idmap" | "ridmap" => {
                return Err(format!(
                    "mount option {opt:?}: idmapped mounts need a user namespace, which ebrun does not make yet"
                ))
            }
            // Options of other runtimes that change nothing here.
            "rrw" | "rsuid" | "rdev" | "rexec" | "ratime" | "rnoatime" | "rrelatime" => continue,
            _ => {
                data.push(opt);
                continue;
            }
        };
        parsed.flags = (parsed.flags | set) & !clear;
    }
    parsed.data = data.join(",");
    Ok(parsed)
}

/// The propagation flags of `private`, `rshared`, ...; `None` for another word.
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        parse_mount_options(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_bind() {
        let o = parse(&["nosuid", "noexec", "nodev", "mode=755", "size=65536k"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = parse(&["rbind", "ro", "rprivate"]);
        assert!(o.bind && o.recursive && o.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        // A later option wins, as in mount(8).
        assert!(!parse(&["noexec", "exec"])
            .flags
            .contains(MsFlags::MS_NOEXEC));
        assert!(parse(&["rro"]).recursive_read_only);
        assert!(parse_mount_options(&["idmap".into()]).is_err());
    }
}
