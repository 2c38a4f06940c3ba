//! Managed volumes on disk.
//!
//! ```text
//! <root>/volumes/
//!   .lock                 flock held by every mutation (create, rm, prune, container create)
//!   NAME/_data/           the volume's content: what containers see
//!   NAME/volume.json      VolumeRecord (created, labels, anonymous)
//!   .tmp-*                a volume being created or deleted (swept by the next mutation)
//! ```
//! A volume appears by renaming a complete temporary directory into place and disappears by
//! renaming it away first, so no reader ever sees half a volume. Lock order: the container
//! store's lock, then this one.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::{valid_volume_name, MountType};
use super::{io_err, VolumeError};
use crate::container::{ContainerConfig, ContainerStore};
use crate::state::{self, StateLock};
use crate::Paths;

const LOCK_FILE: &str = ".lock";
const TEMP_PREFIX: &str = ".tmp-";
/// The content directory inside a volume's directory.
pub const DATA_DIR: &str = "_data";
const RECORD_FILE: &str = "volume.json";
/// Docker's label of anonymous volumes (what `volume prune` removes without `--all`).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// `NAME/volume.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// RFC 3339, as Docker's `CreatedAt`.
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for a container (`-v /path`, image `VOLUME`), not named by the user.
    #[serde(default)]
    pub anonymous: bool,
}

impl VolumeRecord {
    /// Its labels as Docker has them: an anonymous volume's include [`ANONYMOUS_LABEL`].
    pub fn docker_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        if self.anonymous {
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        labels
    }
}

/// The managed volumes of one ebrun instance.
pub struct VolumeStore {
    dir: PathBuf,
    paths: Paths,
}

impl VolumeStore {
    pub fn new(paths: &Paths) -> Self {
        VolumeStore {
            dir: paths.root().join("volumes"),
            paths: paths.clone(),
        }
    }

    /// `<root>/volumes`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the store's lock (after the container store's, if both are needed).
    pub fn lock(&self) -> Result<StateLock, VolumeError> {
        Ok(StateLock::exclusive(&self.dir.join(LOCK_FILE))?)
    }

    /// What containers see of volume `name`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(DATA_DIR)
    }

    /// The volume named `name`.
    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        if !valid_volume_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let path = self.dir.join(name).join(RECORD_FILE);
        if !path.exists() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        Ok(state::read_json(&path)?)
    }

    /// Every volume, sorted by name.
    pub fn list(&self) -> Vec<VolumeRecord> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<VolumeRecord> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_volume_name(n))
            .filter_map(|n| match self.get(&n) {
                Ok(v) => Some(v),
                Err(VolumeError::NotFound(_)) => None,
                Err(VolumeError::State(e)) => {
                    crate::state::warn_skipped("volume", &e);
                    None
                }
                Err(e) => {
                    tracing::warn!("skipping volume {n}: {e}");
                    None
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Creates volume `name` (a random 64-hex name when `None`). An existing volume of that
    /// name is returned as it is (Docker's `volume create` is idempotent). Returns the record
    /// and whether it was created now. Call with the lock held.
    pub fn create_locked(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(VolumeRecord, bool), VolumeError> {
        let name = match name {
            Some(n) if !valid_volume_name(n) => return Err(VolumeError::InvalidName(n.into())),
            Some(n) => n.to_string(),
            None => random_name(),
        };
        match self.get(&name) {
            Ok(existing) => return Ok((existing, false)),
            Err(VolumeError::NotFound(_)) => {}
            // A corrupt record: its data must not be replaced by an empty volume.
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&self.dir)
            .map_err(io_err("create temp dir in", &self.dir))?;
        let data = temp.path().join(DATA_DIR);
        std::fs::create_dir(&data).map_err(io_err("create", &data))?;
        std::fs::set_permissions(
            temp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o701),
        )
        .map_err(io_err("chmod", temp.path()))?;
        let record = VolumeRecord {
            name: name.clone(),
            created_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            anonymous,
        };
        state::write_json_atomic(&temp.path().join(RECORD_FILE), &record)?;
        let target = self.dir.join(&name);
        if target.exists() {
            // A directory without a record: a broken leftover; replace it.
            self.discard(&name)?;
        }
        std::fs::rename(temp.path(), &target).map_err(io_err("rename volume into", &target))?;
        let _ = temp.keep();
        crate::events::volume(&self.paths, "create", &name);
        tracing::debug!(volume = %name, "volume created");
        Ok((record, true))
    }

    /// [`VolumeStore::create_locked`], taking the lock.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<VolumeRecord, VolumeError> {
        self.create_with(name, "local", &BTreeMap::new(), labels, false)
    }

    /// Docker's `volume create`: the `local` driver (or none named), no driver options, then
    /// [`VolumeStore::create_locked`] (a random name when `None`; `anonymous` marks it for
    /// plain `volume prune`).
    pub fn create_with(
        &self,
        name: Option<&str>,
        driver: &str,
        options: &BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord, VolumeError> {
        if !matches!(driver, "" | "local") {
            return Err(VolumeError::UnknownDriver(driver.to_string()));
        }
        if let Some(key) = options.keys().next() {
            return Err(VolumeError::UnsupportedOption(key.clone()));
        }
        let _lock = self.lock()?;
        self.sweep();
        Ok(self.create_locked(name, labels, anonymous)?.0)
    }

    /// The containers (ids) whose mounts include volume `name`.
    pub fn users(&self, name: &str, containers: &[ContainerConfig]) -> Vec<String> {
        containers
            .iter()
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == MountType::Volume && m.name.as_deref() == Some(name))
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// Removes volume `name`; refused while a container uses it (even a stopped one), as
    /// Docker does.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        let containers = ContainerStore::new(&self.paths);
        let _clock = containers.lock().map_err(|e| VolumeError::Io {
            op: "lock",
            path: self.paths.containers_dir(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let _lock = self.lock()?;
        self.sweep();
        self.get(name)?;
        let users = self.users(name, &containers.list());
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                users,
            });
        }
        self.discard(name)
    }

    /// Deletes a volume's directory: renamed away first, so it vanishes at once.
    pub(crate) fn discard(&self, name: &str) -> Result<(), VolumeError> {
        let path = self.dir.join(name);
        let doomed = self.dir.join(format!("{TEMP_PREFIX}del-{name}"));
        let _ = std::fs::remove_dir_all(&doomed);
        match std::fs::rename(&path, &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(VolumeError::Io {
                    op: "rename",
                    path,
                    source: e,
                })
            }
        }
        std::fs::remove_dir_all(&doomed).map_err(io_err("remove", &doomed))?;
        crate::events::volume(&self.paths, "destroy", name);
        tracing::debug!(volume = %name, "volume removed");
        Ok(())
    }

    /// Removes what killed creations and deletions left. Call with the lock held.
    pub fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// `volume prune`: removes unused volumes (only anonymous ones unless `all`) for which
    /// `keep` is false. Returns the removed names and the bytes freed.
    pub fn prune(
        &self,
        all: bool,
        keep: impl Fn(&VolumeRecord) -> bool,
    ) -> Result<(Vec<String>, u64), VolumeError> {
        let containers = ContainerStore::new(&self.paths);
        let _clock = containers.lock().map_err(|e| VolumeError::Io {
            op: "lock",
            path: self.paths.containers_dir(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let _lock = self.lock()?;
        self.sweep();
        let configs = containers.list();
        let mut removed = Vec::new();
        let mut freed = 0;
        for v in self.list() {
            if (!all && !v.anonymous) || keep(&v) || !self.users(&v.name, &configs).is_empty() {
                continue;
            }
            freed += disk_usage(&self.data_dir(&v.name));
            self.discard(&v.name)?;
            removed.push(v.name);
        }
        Ok((removed, freed))
    }
}

/// Bytes of regular files under `dir` (hardlinks counted once).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

/// 64 random hex digits, as Docker names anonymous volumes.
fn random_name() -> String {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path());
        let store = VolumeStore::new(&paths);
        let v = store.create(Some("data"), BTreeMap::new()).unwrap();
        assert_eq!(v.name, "data");
        assert!(store.data_dir("data").is_dir());
        assert_eq!(store.create(Some("data"), BTreeMap::new()).unwrap(), v);
        let (anon, created) = store.create_locked(None, BTreeMap::new(), true).unwrap();
        assert!(created && anon.name.len() == 64);
        assert_eq!(store.list().len(), 2);
        store.remove("data").unwrap();
        assert!(matches!(store.get("data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(
            store.create(Some("-x"), BTreeMap::new()),
            Err(VolumeError::InvalidName(_))
        ));
        let (removed, _) = store.prune(false, |_| false).unwrap();
        assert_eq!(removed, vec![anon.name]);
    }
}
