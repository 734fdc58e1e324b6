//! Incident records kept in pages by id range, rather than one database key per incident: sled
//! 0.34 reads a record of every node of its tree each time it opens, and a tree node holds at
//! most 16 keys, so a key per incident made a writer's open grow with the ledger (benches/scale.sh:
//! one appended event took 57 ms at 1,000,000 entries, 552 ms at 10,000,000). A page holds up to
//! [`PAGE_RECORDS`] records whose ids lie between its lower bound (its key) and the next page's;
//! ids given out in order (UCDP's, ACLED's, most investigators') fill the same few pages, so an
//! append rewrites only those.
//!
//! This module owns the page encoding (docs/FORMAT.md, "Derived state") and the merge of new
//! records into pages; [`super`] owns the keys and [`super::db`] the database.

use super::db::StateWrite;
use super::{DamagedState, StateError, StateKey};
use crate::codec::place_in;
use crate::rules::IncidentRecord;
use std::collections::VecDeque;
use std::iter::Peekable;
use std::ops::Range;

/// A page splits when a write would leave more records than this in it.
pub const PAGE_RECORDS: usize = 64;

/// A page's records in id order: each an id and its record's stored bytes.
type Records<'p> = Vec<(&'p str, &'p [u8])>;

/// Why page bytes do not decode.
const TRUNCATED: &str = "the page ends inside a record";

fn take<'p>(bytes: &mut &'p [u8], n: usize) -> Result<&'p [u8], &'static str> {
    if bytes.len() < n {
        return Err(TRUNCATED);
    }
    let (taken, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(taken)
}

fn take_u16(bytes: &mut &[u8]) -> Result<usize, &'static str> {
    let two = take(bytes, 2)?;
    Ok(usize::from(u16::from_le_bytes([two[0], two[1]])))
}

/// A page's records in order, read one at a time: each an id and its record's stored bytes.
struct PageRecords<'p> {
    rest: &'p [u8],
    left: u32,
}

fn records(page: &[u8]) -> Result<PageRecords<'_>, &'static str> {
    let mut rest = page;
    let count = take(&mut rest, 4)?;
    let left = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
    Ok(PageRecords { rest, left })
}

impl<'p> PageRecords<'p> {
    fn read(&mut self) -> Result<(&'p str, &'p [u8]), &'static str> {
        let id_len = take_u16(&mut self.rest)?;
        let id = std::str::from_utf8(take(&mut self.rest, id_len)?)
            .map_err(|_| "an incident id in the page is not UTF-8")?;
        let record_len = take_u16(&mut self.rest)?;
        Ok((id, take(&mut self.rest, record_len)?))
    }
}

impl<'p> Iterator for PageRecords<'p> {
    type Item = Result<(&'p str, &'p [u8]), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let read = self.read();
        // Nothing after a record that does not read can be found.
        self.left = if read.is_ok() { self.left - 1 } else { 0 };
        Some(read)
    }
}

/// A page's records, checked to be whole and in strictly increasing id order.
fn decode(page: &[u8]) -> Result<Records<'_>, &'static str> {
    let mut reader = records(page)?;
    let mut decoded: Records = Vec::with_capacity((reader.left as usize).min(PAGE_RECORDS));
    for record in reader.by_ref() {
        let (id, record) = record?;
        if decoded.last().is_some_and(|(last, _)| *last >= id) {
            return Err("the page's ids are not in increasing order");
        }
        decoded.push((id, record));
    }
    if !reader.rest.is_empty() {
        return Err("the page has bytes after its last record");
    }
    Ok(decoded)
}

fn encode<'r>(records: impl ExactSizeIterator<Item = (&'r [u8], &'r [u8])> + Clone) -> Vec<u8> {
    let size: usize = records.clone().map(|(id, r)| 4 + id.len() + r.len()).sum();
    let mut page = Vec::with_capacity(4 + size);
    // Ids and records are far below 65,536 bytes (the schemas cap ids at 128 characters), and a
    // page holds at most PAGE_RECORDS records.
    page.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for (id, record) in records {
        page.extend_from_slice(&(id.len() as u16).to_le_bytes());
        page.extend_from_slice(id);
        page.extend_from_slice(&(record.len() as u16).to_le_bytes());
        page.extend_from_slice(record);
    }
    page
}

fn damaged(bound: &str, reason: &'static str) -> DamagedState {
    DamagedState::Page {
        key: super::describe(&StateKey::IncidentPage(bound).bytes()),
        reason,
    }
}

/// The stored bytes of incident `id`'s record in the page whose lower bound is `bound`. Reads
/// the page up to where `id` is or would be, without decoding the rest.
pub fn find<'p>(bound: &str, page: &'p [u8], id: &str) -> Result<Option<&'p [u8]>, DamagedState> {
    let scan = || -> Result<Option<&'p [u8]>, &'static str> {
        for record in records(page)? {
            let (at, record) = record?;
            match at.cmp(id) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(Some(record)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    };
    scan().map_err(|reason| damaged(bound, reason))
}

/// The writes that put `changes` (incident records, sorted by id, each id once) into the pages
/// of `db`, one page at a time: each touched page is read, merged with the changes that fall
/// in its range, and written back, split into pages of at most [`PAGE_RECORDS`] when it
/// outgrows one. Pages are only ever added or rewritten, never removed, so the pages of ids not
/// yet reached are unchanged by the writes made so far and can be read while they are written.
///
/// A range is merged as it is written, holding at most two pages' worth of records: a ledger's
/// first batch puts every new id into the one page there is, and gathering them all before
/// splitting held a copy of the whole batch (about 130 MB for 750,000 incidents, measured with
/// heaptrack).
pub struct PageWrites<'d, I: Iterator<Item = (Box<str>, IncidentRecord)>> {
    db: &'d super::StateDb,
    changes: Peekable<I>,
    /// The page whose range is being merged and written, if one is.
    open: Option<OpenPage>,
    /// Set after a damaged page: nothing more is written, and the caller rebuilds.
    failed: bool,
}

/// A page being rewritten with the changes in its range.
struct OpenPage {
    /// The lower bound of the page, for messages.
    bound: String,
    /// The key the next page written from this range goes under.
    key: Vec<u8>,
    /// The lower bound of the page after this one: changes from it on belong there.
    upper: Option<String>,
    /// The page as stored, and where its records' ids and bytes lie in it, in id order.
    stored: Vec<u8>,
    stored_records: Peekable<std::vec::IntoIter<(Range<usize>, Range<usize>)>>,
    /// Records merged in id order and not yet written.
    merged: VecDeque<Merged>,
}

/// A record merged into a page: one of the stored page's (as ranges of its bytes) or a change.
enum Merged {
    Stored(Range<usize>, Range<usize>),
    Change(Box<str>, Vec<u8>),
}

impl OpenPage {
    fn open(db: &super::StateDb, first: &str) -> Result<Self, StateError> {
        let (bound, page) = super::incident_page(db, first)?;
        let upper = super::next_incident_page(db, &bound)?;
        let stored = page.unwrap_or_default();
        let stored_records = if stored.is_empty() {
            Vec::new()
        } else {
            // What decode reads are slices of the page, so they always have a place in it.
            let place = |part: &[u8]| place_in(&stored, part).unwrap_or_default();
            decode(&stored)
                .map_err(|reason| damaged(&bound, reason))?
                .into_iter()
                .map(|(id, record)| (place(id.as_bytes()), place(record)))
                .collect()
        };
        Ok(OpenPage {
            key: StateKey::IncidentPage(&bound).bytes(),
            bound,
            upper,
            stored,
            stored_records: stored_records.into_iter().peekable(),
            merged: VecDeque::new(),
        })
    }

    fn id<'s>(&'s self, record: &'s Merged) -> &'s [u8] {
        match record {
            Merged::Stored(id, _) => &self.stored[id.clone()],
            Merged::Change(id, _) => id.as_bytes(),
        }
    }

    /// Merges the next record of the range (a stored one or a change, the lower id first; a
    /// change replaces the stored record of its id). Returns false when the range has no more.
    fn merge_next<I: Iterator<Item = (Box<str>, IncidentRecord)>>(
        &mut self,
        changes: &mut Peekable<I>,
    ) -> bool {
        let upper = self.upper.as_deref();
        let change = changes
            .peek()
            .map(|(id, _)| id.as_bytes())
            .filter(|id| upper.is_none_or(|upper| *id < upper.as_bytes()));
        let stored = self
            .stored_records
            .peek()
            .map(|(id, _)| &self.stored[id.clone()]);
        let take_stored = match (stored, change) {
            (None, None) => return false,
            (Some(stored), Some(change)) => stored < change,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if take_stored {
            if let Some((id, record)) = self.stored_records.next() {
                self.merged.push_back(Merged::Stored(id, record));
            }
        } else if let Some((id, record)) = changes.next() {
            if stored == Some(id.as_bytes()) {
                self.stored_records.next();
            }
            self.merged
                .push_back(Merged::Change(id, super::encode(&record)));
        }
        true
    }

    /// Writes the first `count` merged records as one page.
    fn write(&mut self, count: usize) -> Result<StateWrite, StateError> {
        let page: Vec<Merged> = self.merged.drain(..count).collect();
        let bytes = encode(page.iter().map(|record| match record {
            Merged::Stored(id, bytes) => (&self.stored[id.clone()], &self.stored[bytes.clone()]),
            Merged::Change(id, bytes) => (id.as_bytes(), bytes.as_slice()),
        }));
        let next_key = match self.merged.front() {
            // Stored ids were checked to be UTF-8 when the page was decoded.
            Some(next) => StateKey::IncidentPage(
                std::str::from_utf8(self.id(next))
                    .map_err(|_| damaged(&self.bound, "an incident id in the page is not UTF-8"))?,
            )
            .bytes(),
            None => Vec::new(),
        };
        Ok((std::mem::replace(&mut self.key, next_key), Some(bytes)))
    }
}

impl<'d, I: Iterator<Item = (Box<str>, IncidentRecord)>> PageWrites<'d, I> {
    pub fn new(db: &'d super::StateDb, changes: I) -> Self {
        PageWrites {
            db,
            changes: changes.peekable(),
            open: None,
            failed: false,
        }
    }

    /// The next page write: full pages while more than two pages' worth of the range is left
    /// (a large batch of new ids), halves for the last two, so that a page split by a few new
    /// records has room for more.
    fn next_write(&mut self) -> Option<Result<StateWrite, StateError>> {
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let first = &self.changes.peek()?.0;
                match OpenPage::open(self.db, first) {
                    Ok(open) => self.open.insert(open),
                    Err(e) => return Some(Err(e)),
                }
            }
        };
        while open.merged.len() < 2 * PAGE_RECORDS && open.merge_next(&mut self.changes) {}
        let left = open.merged.len();
        let count = if left >= 2 * PAGE_RECORDS {
            PAGE_RECORDS
        } else if left > PAGE_RECORDS {
            left / 2
        } else {
            left
        };
        let write = open.write(count);
        if open.merged.is_empty() {
            self.open = None;
        }
        Some(write)
    }
}

impl<I: Iterator<Item = (Box<str>, IncidentRecord)>> Iterator for PageWrites<'_, I> {
    type Item = Result<StateWrite, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let write = self.next_write()?;
        self.failed = write.is_err();
        Some(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Head;
    use crate::rules::{StateChanges, StateLookup};
    use crate::state::{writes, StateDb, StateReader};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// A record as stored (category names, then the seqs), for a made-up seq.
    fn record(seq: u64) -> IncidentRecord {
        let stored = ("Battles", None::<&str>, seq, None::<u64>, None::<u64>);
        bincode::deserialize(&bincode::serialize(&stored).unwrap()).unwrap()
    }

    /// Every record of `model` is found, ids it lacks are not, and the pages partition the ids
    /// in order with none over [`PAGE_RECORDS`].
    fn check(db: &StateDb, model: &BTreeMap<String, IncidentRecord>) {
        let reader = StateReader(db);
        for (id, record) in model {
            assert_eq!(reader.incident(id).unwrap().as_ref(), Some(record), "{id}");
        }
        for absent in ["", "MLI", "MLI99999999", "r", "zzz"] {
            assert_eq!(reader.incident(absent).unwrap(), None, "{absent}");
        }
        let pages = db.with_prefix(b"i").unwrap();
        assert_eq!(
            pages.first().map(|(key, _)| key.as_slice()),
            Some(&b"i"[..])
        );
        let mut ids = Vec::new();
        for (n, (key, page)) in pages.iter().enumerate() {
            let records = decode(page).unwrap();
            assert!(
                records.len() <= PAGE_RECORDS,
                "page {n} holds {}",
                records.len()
            );
            let upper = pages.get(n + 1).map(|(next, _)| &next[1..]);
            for (id, _) in &records {
                assert!(id.as_bytes() >= &key[1..] && upper.is_none_or(|u| id.as_bytes() < u));
            }
            ids.extend(records.iter().map(|(id, _)| id.to_string()));
        }
        assert_eq!(ids, model.keys().cloned().collect::<Vec<_>>());
    }

    #[test]
    fn pages_hold_every_record_written_in_id_order_and_none_outgrows_a_page() {
        let db = StateDb::temporary().unwrap();
        let mut model = BTreeMap::new();
        let mut rng = StdRng::seed_from_u64(10);
        let head = Head {
            seq: 0,
            hash: [0; 32],
            recorded_at: 0,
        };
        let mut seq = 0;
        // Ids given out in order (as datasets do), at random, and records rewritten in place
        // (a retraction), in batches of one to more than a page.
        for (batch, size) in [1, 700, 300, 1000, 5, 400, 2].into_iter().enumerate() {
            let mut changes = StateChanges::default();
            for i in 0..size {
                let id = match batch % 3 {
                    0 => format!("MLI{}", batch * 1000 + i),
                    1 => format!("r{}", rng.gen::<u32>()),
                    _ => model
                        .keys()
                        .nth(rng.gen_range(0..model.len()))
                        .cloned()
                        .unwrap(),
                };
                seq += 1;
                model.insert(id.clone(), record(seq));
                changes.incidents.insert(&id, record(seq));
            }
            db.write(writes(&db, changes), &head).unwrap();
            check(&db, &model);
        }
    }

    #[test]
    fn a_page_that_does_not_decode_is_damaged_state_naming_it() {
        let db = StateDb::temporary().unwrap();
        let head = Head {
            seq: 0,
            hash: [0; 32],
            recorded_at: 0,
        };
        let record = bincode::serialize(&record(1)).unwrap();
        let mut page = encode([(&b"a-1"[..], &record[..])].into_iter());
        page.pop();
        let damaged = (StateKey::IncidentPage("").bytes(), Some(page));
        db.write([Ok(damaged)], &head).unwrap();
        let err = StateReader(&db).incident("a-1").unwrap_err().to_string();
        assert!(err.contains("incident page from \"\""), "{err}");
        assert!(err.contains(TRUNCATED), "{err}");
    }
}
