//! Following the journal: the events in a time range (`--since` replays stored ones, in
//! time order) and then new ones as they are appended, until `until` or the receiver stops
//! (`ebrun events` and the Engine API's `/events`).

use std::time::Duration;

use super::{Event, EventJournal, EventsError, Filters};
use crate::Paths;

/// How often the journal is looked at for new events.
const POLL: Duration = Duration::from_millis(100);

/// Gives each event of the range that passes `filters` to `emit`, which returns false to
/// stop. Without `until` it follows forever.
pub fn follow(
    paths: &Paths,
    since: Option<i64>,
    until: Option<i64>,
    filters: &Filters,
    mut emit: impl FnMut(&Event) -> bool,
) -> Result<(), EventsError> {
    let journal = EventJournal::new(paths);
    let (mut stored, mut cursor) = journal.read_all_and_follow()?;
    let in_range = |e: &Event| {
        since.is_none_or(|s| e.time_nano >= s) && until.is_none_or(|u| e.time_nano <= u)
    };
    let mut give = |e: &Event| !(in_range(e) && filters.matches(e)) || emit(e);
    if since.is_some() {
        // Kills recorded late (found in the kernel's ring) keep their own time.
        stored.sort_by_key(|e| e.time_nano);
        for e in &stored {
            if !give(e) {
                return Ok(());
            }
        }
    }
    loop {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let last_look = until.is_some_and(|u| now > u);
        for e in journal.read_new(&mut cursor)? {
            if !give(&e) {
                return Ok(());
            }
        }
        if last_look {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}
