//! [`Lookup`]: entries read by seq in any order, for a reader that keeps where its facts are
//! rather than the facts themselves (the incidents view re-reads each incident's statements as
//! it writes the incident's row, so that its memory does not grow with the text of every report).
//!
//! It finds a record from a table of where each record of a segment starts, made by reading the
//! segment's framing once, with the same checks as [`super::Entries`]; a record read through the
//! table is checked again (its length and entry tag), so a file changed since is reported, never
//! misread. It reads up to the head it saw when it was made, and never writes.

use super::{Durable, Entries, Log, LogError, LogFiles, LogResult, StoredBytes, SEGMENT_ENTRIES};
use crate::entry::ENTRY_TAG;
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Lookup<'a, F: LogFiles> {
    log: &'a Log<F>,
    durable: Option<Durable>,
    /// For each segment read so far, where each of its records starts and, last, where the last
    /// one ends: 4 bytes an entry. (A segment's framed entries fit in a `u32`: 16,384 records of
    /// at most 2 + 65,535 bytes.)
    starts: RefCell<HashMap<u64, Vec<u32>>>,
}

impl<F: LogFiles> Log<F> {
    /// Random access to the entries up to the head as it is now.
    pub fn lookup(&self) -> Lookup<'_, F> {
        Lookup {
            log: self,
            durable: self.durable(),
            starts: RefCell::default(),
        }
    }
}

impl<F: LogFiles> Lookup<'_, F> {
    /// The bytes of the entry at `seq`; `None` past the head.
    pub fn entry(&self, seq: u64) -> LogResult<Option<StoredBytes>> {
        if seq >= self.durable.map_or(0, |d| d.size()) {
            return Ok(None);
        }
        let segment = seq / SEGMENT_ENTRIES;
        let index = usize::try_from(seq % SEGMENT_ENTRIES).unwrap_or(usize::MAX);
        let (at, end) = {
            let mut starts = self.starts.borrow_mut();
            let starts = match starts.entry(segment) {
                Entry::Occupied(found) => found.into_mut(),
                Entry::Vacant(slot) => slot.insert(self.read_starts(segment)?),
            };
            match (starts.get(index), starts.get(index + 1)) {
                (Some(&at), Some(&end)) => (u64::from(at), u64::from(end)),
                _ => return Err(self.changed(segment, seq, "it has fewer records than before")),
            }
        };
        let len = usize::try_from(end - at).unwrap_or(usize::MAX);
        let mut record = vec![0; len];
        let mut filled = 0;
        while filled < len {
            let read = self
                .log
                .files
                .read_at(segment, at + filled as u64, &mut record[filled..])
                .map_err(|source| LogError::Io {
                    file: self.log.files.name(Some(segment)),
                    source,
                })?;
            if read == 0 {
                return Err(self.changed(segment, seq, "it is shorter than before"));
            }
            filled += read;
        }
        let framed = usize::from(u16::from_be_bytes([record[0], record[1]]));
        if framed + 2 != len || !record[2..].starts_with(ENTRY_TAG) {
            return Err(self.changed(segment, seq, "its record there is not the one read before"));
        }
        Ok(Some(StoredBytes {
            chunk: Arc::new(record),
            range: 2..len,
        }))
    }

    /// Where each record of `segment` starts, and where its last one ends, read from its
    /// framing up to the head.
    fn read_starts(&self, segment: u64) -> LogResult<Vec<u32>> {
        let first = segment * SEGMENT_ENTRIES;
        let mut entries: Entries<'_, F> = self.log.entries(first);
        entries.durable = self.durable;
        let last = entries.segment_last(first);
        let mut starts = Vec::with_capacity(usize::try_from(last - first + 2).unwrap_or(0));
        for _ in first..=last {
            starts.push(u32::try_from(entries.offset).unwrap_or(u32::MAX));
            if let Some(read) = entries.next() {
                read?;
            }
        }
        starts.push(u32::try_from(entries.offset).unwrap_or(u32::MAX));
        Ok(starts)
    }

    /// A segment file that no longer holds what it held when its framing was read.
    fn changed(&self, segment: u64, seq: u64, what: &str) -> LogError {
        LogError::Damaged {
            file: self.log.files.name(Some(segment)),
            first: seq,
            last: seq,
            reason: format!("the file changed while it was being read: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::mem::MemFiles;
    use super::super::{Head, Log};
    use super::*;

    fn entry(n: u64) -> Vec<u8> {
        let mut bytes = ENTRY_TAG.to_vec();
        bytes.extend_from_slice(&n.to_be_bytes());
        bytes.resize(bytes.len() + (n % 13) as usize, b'x');
        bytes
    }

    fn log_of(n: u64) -> (MemFiles, Log<MemFiles>) {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        let mut appender = log.appender().unwrap();
        for i in 0..n {
            appender.push(&entry(i)).unwrap();
        }
        let head = Head {
            seq: n - 1,
            hash: [0; 32],
            recorded_at: 0,
        };
        appender.commit(head).unwrap();
        (files, log)
    }

    #[test]
    fn entries_are_found_by_seq_in_any_order_across_segments() {
        let (_, log) = log_of(SEGMENT_ENTRIES + 20);
        let lookup = log.lookup();
        let seqs = [
            SEGMENT_ENTRIES + 19,
            3,
            SEGMENT_ENTRIES,
            0,
            SEGMENT_ENTRIES - 1,
            3,
        ];
        for seq in seqs {
            let bytes = lookup.entry(seq).unwrap().unwrap();
            assert_eq!(&bytes[..], &entry(seq)[..], "seq {seq}");
        }
        assert!(lookup.entry(SEGMENT_ENTRIES + 20).unwrap().is_none());
    }

    #[test]
    fn a_file_changed_after_its_framing_was_read_is_reported_not_misread() {
        let (files, log) = log_of(40);
        let lookup = log.lookup();
        assert_eq!(&lookup.entry(5).unwrap().unwrap()[..], &entry(5)[..]);
        // Entry 20 moved one byte on, as if the file had been rewritten behind the reader.
        let mut bytes = files.segment(0).unwrap();
        let at = (0..20).map(|n| 2 + entry(n).len()).sum::<usize>();
        bytes.insert(at, 0);
        files.set_segment(0, bytes);
        match lookup.entry(20) {
            Err(LogError::Damaged { first, last, .. }) => assert_eq!((first, last), (20, 20)),
            other => panic!(
                "expected the change reported, got {:?}",
                other.map(|b| b.is_some())
            ),
        }
    }
}
