//! The OOM meter's maps: kills per container and the ring of recent kill events.
//!
//! Events are kept in pinned slots with sequence numbers, so they survive while no ebrun
//! process runs, and any number of readers read them without consuming: a reader remembers
//! the last sequence number it saw and asks for newer ones with [`oom_events_since`].

use std::path::Path;
use std::time::{Duration, SystemTime};

use aya::maps::{Array, HashMap, Map, MapData};
use ebrun_common::oom::{
    OomEvent, OOM_EVENTS_MAP, OOM_EVENT_SLOTS, OOM_FLAG_RSS, OOM_FLAG_VICTIM_CGROUP, OOM_KILLS_MAP,
    OOM_SEQ_MAP,
};
use serde::Serialize;

use super::pins::{ignore_missing, map_err, open_map};
use super::BpfError;

/// A container's OOM kills.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OomMeters {
    /// Kills of the container's processes since it started.
    pub kills: u64,
    /// The most recent of them still in the event ring, oldest first.
    pub events: Vec<OomKill>,
}

/// One OOM kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OomKill {
    /// Sequence number, per instance, from 1.
    pub seq: u64,
    /// When, RFC 3339.
    pub time: String,
    /// The cgroup2 id of the container the victim belonged to.
    pub cgroup_id: u64,
    /// The victim's pid (host pid namespace) and command.
    pub pid: u32,
    pub command: String,
    /// Memory of the victim when killed (kB); `None` on kernels whose tracepoint does not
    /// give the victim's task (before 6.8).
    pub total_vm_kb: Option<u64>,
    pub anon_rss_kb: Option<u64>,
    pub file_rss_kb: Option<u64>,
    pub shmem_rss_kb: Option<u64>,
    /// The task whose allocation triggered the kill.
    pub trigger_pid: u32,
    /// Whether the container was read from the victim's own task (exact) rather than
    /// inferred from the triggering task.
    pub victim_cgroup_exact: bool,
}

fn kills_map(pin_dir: &Path) -> Result<Option<HashMap<MapData, u64, u64>>, BpfError> {
    let Some(data) = open_map(pin_dir, OOM_KILLS_MAP)? else {
        return Ok(None);
    };
    HashMap::try_from(Map::HashMap(data))
        .map(Some)
        .map_err(map_err(OOM_KILLS_MAP))
}

fn events_map(pin_dir: &Path) -> Result<Option<Array<MapData, OomEvent>>, BpfError> {
    let Some(data) = open_map(pin_dir, OOM_EVENTS_MAP)? else {
        return Ok(None);
    };
    Array::try_from(Map::Array(data))
        .map(Some)
        .map_err(map_err(OOM_EVENTS_MAP))
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut map) = kills_map(pin_dir)? else {
        return Ok(());
    };
    map.insert(cgroup_id, 0, 0).map_err(map_err(OOM_KILLS_MAP))
}

/// Drops the container's counter and blanks its events in the ring.
pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    if let Some(mut map) = kills_map(pin_dir)? {
        ignore_missing(map.remove(&cgroup_id)).map_err(map_err(OOM_KILLS_MAP))?;
    }
    let (Some(mut events), Some(seq_data)) =
        (events_map(pin_dir)?, open_map(pin_dir, OOM_SEQ_MAP)?)
    else {
        return Ok(());
    };
    // Only the slots written so far (none on a host that never had an OOM kill): a scan of
    // every slot was 256 syscalls per rm.
    let seq_map: Array<MapData, u64> =
        Array::try_from(Map::Array(seq_data)).map_err(map_err(OOM_SEQ_MAP))?;
    let newest = seq_map.get(&0, 0).map_err(map_err(OOM_SEQ_MAP))?;
    let oldest = newest.saturating_sub(u64::from(OOM_EVENT_SLOTS) - 1).max(1);
    for seq in oldest..=newest {
        let slot = (seq % u64::from(OOM_EVENT_SLOTS)) as u32;
        if events.get(&slot, 0).is_ok_and(|e| e.cgroup_id == cgroup_id) {
            events
                .set(slot, OomEvent::default(), 0)
                .map_err(map_err(OOM_EVENTS_MAP))?;
        }
    }
    Ok(())
}

/// Kill events newer than sequence number `after`, oldest first, and the newest sequence
/// number (to pass as `after` next time). Events overwritten before they were read are
/// skipped; their count is `newest - after - returned` when nothing else filters them.
pub fn oom_events_since(pin_dir: &Path, after: u64) -> Result<(Vec<OomKill>, u64), BpfError> {
    let (Some(events), Some(seq_data)) = (events_map(pin_dir)?, open_map(pin_dir, OOM_SEQ_MAP)?)
    else {
        return Ok((Vec::new(), after));
    };
    let seq_map: Array<MapData, u64> =
        Array::try_from(Map::Array(seq_data)).map_err(map_err(OOM_SEQ_MAP))?;
    let newest = seq_map.get(&0, 0).map_err(map_err(OOM_SEQ_MAP))?;
    let oldest = newest
        .saturating_sub(u64::from(OOM_EVENT_SLOTS) - 1)
        .max(after + 1);
    let mut out = Vec::new();
    for seq in oldest..=newest {
        let slot = (seq % u64::from(OOM_EVENT_SLOTS)) as u32;
        match events.get(&slot, 0) {
            Ok(e) if e.seq == seq => out.push(to_kill(&e)),
            _ => {}
        }
    }
    Ok((out, newest))
}

pub(super) fn read(pin_dir: &Path, cgroup_id: u64) -> Result<Option<OomMeters>, BpfError> {
    let Some(map) = kills_map(pin_dir)? else {
        return Ok(None);
    };
    let kills = match map.get(&cgroup_id, 0) {
        Ok(v) => v,
        Err(aya::maps::MapError::KeyNotFound) => return Ok(None),
        Err(e) => return Err(map_err(OOM_KILLS_MAP)(e)),
    };
    let (events, _) = oom_events_since(pin_dir, 0)?;
    Ok(Some(OomMeters {
        kills,
        events: events
            .into_iter()
            .filter(|e| e.cgroup_id == cgroup_id)
            .collect(),
    }))
}

/// The container's kills in its current run and when the last one still in the ring
/// happened (Unix seconds); `None` if the meter is not loaded or the container not
/// registered with it.
pub fn oom_kills_of(pin_dir: &Path, cgroup_id: u64) -> Option<(u64, Option<f64>)> {
    let map = kills_map(pin_dir).ok()??;
    let kills = map.get(&cgroup_id, 0).ok()?;
    if kills == 0 {
        return Some((0, None));
    }
    let last = last_kill_times(pin_dir).remove(&cgroup_id);
    Some((kills, last))
}

/// When each container's last kill still in the ring happened, Unix seconds, per cgroup2
/// id (the ring's written slots, one lookup each).
pub fn last_kill_times(pin_dir: &Path) -> std::collections::HashMap<u64, f64> {
    let mut out = std::collections::HashMap::new();
    let (Ok(Some(events)), Ok(Some(seq_data))) =
        (events_map(pin_dir), open_map(pin_dir, OOM_SEQ_MAP))
    else {
        return out;
    };
    let Ok(seq_map) = Array::<MapData, u64>::try_from(Map::Array(seq_data)) else {
        return out;
    };
    let newest = seq_map.get(&0, 0).unwrap_or(0);
    let oldest = newest.saturating_sub(u64::from(OOM_EVENT_SLOTS) - 1).max(1);
    let offset = boot_to_unix_offset();
    for seq in oldest..=newest {
        let slot = (seq % u64::from(OOM_EVENT_SLOTS)) as u32;
        if let Ok(e) = events.get(&slot, 0) {
            if e.seq == seq && e.cgroup_id != 0 {
                let t = offset + e.boot_ns as f64 / 1e9;
                let last = out.entry(e.cgroup_id).or_insert(t);
                *last = last.max(t);
            }
        }
    }
    out
}

/// Unix time minus CLOCK_BOOTTIME, seconds.
fn boot_to_unix_offset() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let boot = if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        0.0
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    now - boot
}

fn to_kill(e: &OomEvent) -> OomKill {
    let page_kb = page_size() / 1024;
    let rss = |pages: u64| (e.flags & OOM_FLAG_RSS != 0).then_some(pages * page_kb);
    let end = e.comm.iter().position(|b| *b == 0).unwrap_or(e.comm.len());
    OomKill {
        seq: e.seq,
        time: boot_ns_to_rfc3339(e.boot_ns),
        cgroup_id: e.cgroup_id,
        pid: e.pid,
        command: String::from_utf8_lossy(&e.comm[..end]).into_owned(),
        total_vm_kb: rss(e.total_vm_pages),
        anon_rss_kb: rss(e.anon_rss_pages),
        file_rss_kb: rss(e.file_rss_pages),
        shmem_rss_kb: rss(e.shmem_rss_pages),
        trigger_pid: e.trigger_pid,
        victim_cgroup_exact: e.flags & OOM_FLAG_VICTIM_CGROUP != 0,
    }
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |v| v as u64)
}

/// Converts a CLOCK_BOOTTIME timestamp to wall-clock time.
fn boot_ns_to_rfc3339(boot_ns: u64) -> String {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let now_boot = if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    };
    let ago = now_boot.saturating_sub(Duration::from_nanos(boot_ns));
    let when = SystemTime::now() - ago;
    chrono::DateTime::<chrono::Utc>::from(when).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
