//! Moving OOM kills from the eBPF meter's pinned ring into the events journal, each exactly
//! once, whoever does it (a monitor at exit, `rm`, or `serve`).
//!
//! The ring keeps the last 256 kills of the instance, per container until `rm`, so a kill
//! that happens while no one reads is still there later. `oom-seen.json` remembers which
//! kills are already in the journal; it is read and written under the journal's lock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::event::{Event, EventType};
use super::journal::{dir, EventJournal};
use super::EventsError;
use crate::bpf::OomKill;
use crate::container::ContainerConfig;
use crate::state::{read_json, replace_json_atomic};
use crate::Paths;

/// How many recorded kills to remember: more than the ring holds.
const REMEMBERED: usize = 1024;

fn seen_path(paths: &Paths) -> PathBuf {
    dir(paths).join("oom-seen.json")
}

/// Identifies one kill across readers (the sequence number alone restarts when the meters
/// are loaded anew).
fn key(k: &OomKill) -> String {
    format!("{}:{}:{}", k.seq, k.cgroup_id, k.pid)
}

/// The journal event of a kill of `config`'s process.
fn oom_event(config: &ContainerConfig, k: &OomKill) -> Event {
    let time = chrono::DateTime::parse_from_rfc3339(&k.time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or_else(super::event::now_nanos);
    let mut attributes = BTreeMap::from([
        ("image".to_string(), config.image.clone()),
        ("name".to_string(), config.name.clone()),
        ("pid".to_string(), k.pid.to_string()),
        ("command".to_string(), k.command.clone()),
        ("triggerPid".to_string(), k.trigger_pid.to_string()),
    ]);
    let kb = |v: Option<u64>| v.map(|kb| (kb * 1024).to_string());
    if let (Some(a), Some(f), Some(s)) = (k.anon_rss_kb, k.file_rss_kb, k.shmem_rss_kb) {
        attributes.insert("rss".into(), ((a + f + s) * 1024).to_string());
    }
    for (name, value) in [
        ("anonRss", kb(k.anon_rss_kb)),
        ("fileRss", kb(k.file_rss_kb)),
        ("shmemRss", kb(k.shmem_rss_kb)),
        ("totalVm", kb(k.total_vm_kb)),
    ] {
        if let Some(v) = value {
            attributes.insert(name.into(), v);
        }
    }
    Event::at(EventType::Container, "oom", &config.id, attributes, time)
}

/// Records the kills newer than sequence number `after` of the containers in `containers`
/// (cgroup2 id, config) that are not in the journal yet. Returns the events recorded and the
/// newest sequence number of the ring (pass it as `after` next time to read less).
pub fn drain_oom_kills(
    paths: &Paths,
    containers: &[(u64, &ContainerConfig)],
    after: u64,
) -> Result<(Vec<Event>, u64), EventsError> {
    let (kills, newest) = crate::bpf::oom_events_since(&paths.bpffs_dir(), after)?;
    let ours: Vec<(&OomKill, &ContainerConfig)> = kills
        .iter()
        .filter_map(|k| {
            containers
                .iter()
                .find(|(id, _)| *id == k.cgroup_id)
                .map(|(_, c)| (k, *c))
        })
        .collect();
    if ours.is_empty() {
        return Ok((Vec::new(), newest));
    }
    let journal = EventJournal::new(paths);
    let _lock = journal.lock()?;
    let path = seen_path(paths);
    let mut seen: Vec<String> = if path.exists() {
        read_json(&path).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut events = Vec::new();
    for (k, config) in ours {
        let key = key(k);
        if seen.contains(&key) {
            continue;
        }
        events.push(oom_event(config, k));
        seen.push(key);
    }
    if events.is_empty() {
        return Ok((events, newest));
    }
    journal.append_locked(&events)?;
    let excess = seen.len().saturating_sub(REMEMBERED);
    seen.drain(..excess);
    replace_json_atomic(&path, &seen)?;
    Ok((events, newest))
}
