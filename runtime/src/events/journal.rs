//! Append-only JSON-lines files under a lock, with one rotation, and readers that follow
//! them: the events journal (and, with another file, the step timings).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::event::Event;
use super::{io_err, EventsError};
use crate::state::StateLock;
use crate::Paths;

/// A file grows to this size, then becomes `<file>.1` (replacing the older one).
const ROTATE_BYTES: u64 = 16 << 20;

/// Where a reader is in a journal: the file (inode) and the byte after the last full line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalCursor {
    inode: u64,
    offset: u64,
}

/// A JSON-lines file of `T`s.
#[derive(Debug, Clone)]
pub(super) struct JsonLines<T> {
    path: PathBuf,
    lock: PathBuf,
    _kind: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> JsonLines<T> {
    pub(super) fn new(dir: &Path, name: &str) -> Self {
        JsonLines {
            path: dir.join(name),
            lock: dir.join(".lock"),
            _kind: PhantomData,
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn rotated(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Holds the journal's lock (also for read-modify-write of files beside it).
    pub(super) fn lock(&self) -> Result<StateLock, EventsError> {
        Ok(StateLock::exclusive(&self.lock)?)
    }

    /// Appends `items`, one line each, in one write. Takes the lock.
    pub(super) fn append(&self, items: &[T]) -> Result<(), EventsError> {
        let _lock = self.lock()?;
        self.append_locked(items)
    }

    /// [`JsonLines::append`] with the lock already held.
    pub(super) fn append_locked(&self, items: &[T]) -> Result<(), EventsError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for item in items {
            serde_json::to_writer(&mut bytes, item).map_err(|e| EventsError::Io {
                op: "encode an entry of",
                path: self.path.clone(),
                source: e.into(),
            })?;
            bytes.push(b'\n');
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() + bytes.len() as u64 > ROTATE_BYTES)
        {
            std::fs::rename(&self.path, self.rotated()).map_err(io_err("rotate", &self.path))?;
        }
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err("open", &self.path))?;
        file.write_all(&bytes)
            .map_err(io_err("append to", &self.path))
    }

    /// Every entry, oldest first (the rotated file, then the current one). Unreadable lines
    /// are skipped.
    pub(super) fn read_all(&self) -> Result<Vec<T>, EventsError> {
        let mut out = Vec::new();
        for path in [self.rotated(), self.path.clone()] {
            if let Some((mut file, _)) = open_existing(&path)? {
                read_lines(&mut file, 0, &path, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Every entry (as [`JsonLines::read_all`]) and a cursor after the last one, to follow
    /// the journal from there with [`JsonLines::read_new`].
    pub(super) fn read_all_and_follow(&self) -> Result<(Vec<T>, JournalCursor), EventsError> {
        let mut out = Vec::new();
        let rotated = self.rotated();
        if let Some((mut file, _)) = open_existing(&rotated)? {
            read_lines(&mut file, 0, &rotated, &mut out)?;
        }
        let mut cursor = JournalCursor::default();
        if let Some((_, inode)) = open_existing(&self.path)? {
            cursor.inode = inode;
        }
        out.extend(self.read_new(&mut cursor)?);
        Ok((out, cursor))
    }

    /// A cursor at the current end: [`JsonLines::read_new`] returns what is appended later.
    pub(super) fn end(&self) -> JournalCursor {
        match std::fs::metadata(&self.path) {
            Ok(m) => JournalCursor {
                inode: m.ino(),
                offset: m.len(),
            },
            Err(_) => JournalCursor::default(),
        }
    }

    /// Entries appended after `cursor`, which moves past them (across a rotation too).
    pub(super) fn read_new(&self, cursor: &mut JournalCursor) -> Result<Vec<T>, EventsError> {
        let mut out = Vec::new();
        let Some((mut file, inode)) = open_existing(&self.path)? else {
            return Ok(out);
        };
        if inode != cursor.inode {
            // Rotated since: finish the old file if it is the one the cursor was in.
            if cursor.inode != 0 {
                let old = self.rotated();
                if let Some((mut f, old_inode)) = open_existing(&old)? {
                    if old_inode == cursor.inode {
                        read_lines(&mut f, cursor.offset, &old, &mut out)?;
                    }
                }
            }
            *cursor = JournalCursor { inode, offset: 0 };
        }
        cursor.offset = read_lines(&mut file, cursor.offset, &self.path, &mut out)?;
        Ok(out)
    }
}

fn open_existing(path: &Path) -> Result<Option<(File, u64)>, EventsError> {
    match File::open(path) {
        Ok(f) => {
            let inode = f.metadata().map_err(io_err("stat", path))?.ino();
            Ok(Some((f, inode)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("open", path)(e)),
    }
}

/// Parses the complete lines from `offset`; returns the offset after the last one.
fn read_lines<T: DeserializeOwned>(
    file: &mut File,
    offset: u64,
    path: &Path,
    out: &mut Vec<T>,
) -> Result<u64, EventsError> {
    file.seek(SeekFrom::Start(offset))
        .map_err(io_err("seek", path))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err("read", path))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    for line in bytes[..complete].split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(item) => out.push(item),
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "skipping a bad line"),
        }
    }
    Ok(offset + complete as u64)
}

/// The events journal of one instance.
#[derive(Debug, Clone)]
pub struct EventJournal {
    lines: JsonLines<Event>,
}

impl EventJournal {
    pub fn new(paths: &Paths) -> Self {
        EventJournal {
            lines: JsonLines::new(&dir(paths), "events.jsonl"),
        }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        self.lines.path()
    }

    /// Appends events (taking the lock).
    pub fn append(&self, events: &[Event]) -> Result<(), EventsError> {
        self.lines.append(events)
    }

    pub(super) fn lock(&self) -> Result<StateLock, EventsError> {
        self.lines.lock()
    }

    pub(super) fn append_locked(&self, events: &[Event]) -> Result<(), EventsError> {
        self.lines.append_locked(events)
    }

    /// Every stored event in the order written.
    pub fn read_all(&self) -> Result<Vec<Event>, EventsError> {
        self.lines.read_all()
    }

    /// A cursor at the journal's current end.
    pub fn end(&self) -> JournalCursor {
        self.lines.end()
    }

    /// Every stored event, and a cursor to follow the journal after them.
    pub fn read_all_and_follow(&self) -> Result<(Vec<Event>, JournalCursor), EventsError> {
        self.lines.read_all_and_follow()
    }

    /// Events written after `cursor`.
    pub fn read_new(&self, cursor: &mut JournalCursor) -> Result<Vec<Event>, EventsError> {
        self.lines.read_new(cursor)
    }
}

/// `<root>/events`.
pub(super) fn dir(paths: &Paths) -> PathBuf {
    paths.root().join("events")
}

#[cfg(test)]
mod tests {
    use super::super::event::EventType;
    use super::*;
    use std::collections::BTreeMap;

    fn ev(action: &str) -> Event {
        Event::new(EventType::Volume, action, "v", BTreeMap::new())
    }

    #[test]
    fn appends_read_back_and_follow_across_rotation() {
        let tmp = tempfile::tempdir().unwrap();
        let j: JsonLines<Event> = JsonLines::new(tmp.path(), "e.jsonl");
        let mut cursor = j.end();
        j.append(&[ev("create")]).unwrap();
        assert_eq!(j.read_new(&mut cursor).unwrap().len(), 1);
        assert!(j.read_new(&mut cursor).unwrap().is_empty());
        j.append(&[ev("destroy")]).unwrap();
        // Rotate by hand: the cursor finishes the old file, then reads the new one.
        std::fs::rename(j.path(), j.rotated()).unwrap();
        j.append(&[ev("create")]).unwrap();
        let got: Vec<String> = j
            .read_new(&mut cursor)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(got, ["destroy", "create"]);
        assert_eq!(j.read_all().unwrap().len(), 3);
        // A partial last line waits for its end.
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"{\"Type\":")
            .unwrap();
        assert!(j.read_new(&mut cursor).unwrap().is_empty());
    }
}
