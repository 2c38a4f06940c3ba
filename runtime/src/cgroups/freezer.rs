//! Freezing a container's processes (`pause`/`unpause`): the v1 freezer controller where the
//! host has it, else cgroup2's `cgroup.freeze`.

use std::time::{Duration, Instant};

use super::{CgroupError, ContainerCgroups};

impl ContainerCgroups {
    /// Freezes (`true`) or thaws (`false`) every process of the container, waiting until the
    /// kernel reports it done.
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        let io = |op, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| CgroupError::Io { op, path, source }
        };
        if let Some(dir) = self.v1_dirs.iter().find(|d| {
            d.parent()
                .and_then(|p| p.parent())
                .is_some_and(|root| root.ends_with("freezer"))
        }) {
            let file = dir.join("freezer.state");
            let want = if frozen { "FROZEN" } else { "THAWED" };
            std::fs::write(&file, want).map_err(io("write", &file))?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::read_to_string(&file)
                .map_err(io("read", &file))?
                .trim()
                != want
            {
                if Instant::now() > deadline {
                    return Err(CgroupError::Io {
                        op: "wait for",
                        path: file,
                        source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            return Ok(());
        }
        let Some(dir) = &self.unified_dir else {
            return Err(CgroupError::NoCgroup2("a freezer"));
        };
        let file = dir.join("cgroup.freeze");
        std::fs::write(&file, if frozen { "1" } else { "0" }).map_err(io("write", &file))?;
        let events = dir.join("cgroup.events");
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&events)
            .map_err(io("read", &events))?
            .lines()
            .any(|l| l == want)
        {
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}
