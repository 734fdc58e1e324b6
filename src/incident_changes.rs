//! The incident records a rule fold has changed, by id, in a layout sized for millions: every
//! id in one string, the records in one vector, and a hash table of their places. A B-tree of
//! boxed ids took some 88 bytes an incident (nodes half full, an allocation per id, which also
//! left the allocator's pages part-used among the fold's short-lived buffers); this takes some
//! 60 (a record of 32, its id, and 9 for each of up to twice as many hash table slots), and a
//! million-incident batch or a verify of ten million holds that much less.
//!
//! It owns only the records' keeping; what they mean and when they change is [`crate::rules`]'.

use crate::rules::IncidentRecord;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

#[derive(Default)]
pub struct IncidentChanges {
    /// Every id, one after another, in the order first seen.
    ids: String,
    /// Each incident's id (as its end in `ids`; it starts where the one before ends) and record.
    records: Vec<(usize, IncidentRecord)>,
    /// Places in `records`, by the hash of the id. Randomly seeded, so that ids chosen to
    /// collide cannot slow a fold down.
    places: HashTable<usize>,
    hasher: RandomState,
}

impl std::fmt::Debug for IncidentChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentChanges")
            .field("len", &self.len())
            .finish()
    }
}

impl IncidentChanges {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn id(&self, place: usize) -> &str {
        id_at(&self.ids, &self.records, place)
    }

    fn place(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.places
            .find(hash, |&place| self.id(place) == id)
            .copied()
    }

    pub fn get(&self, id: &str) -> Option<&IncidentRecord> {
        self.place(id).map(|place| &self.records[place].1)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut IncidentRecord> {
        self.place(id).map(|place| &mut self.records[place].1)
    }

    /// Keeps `record` as the record of `id`, replacing the one it had.
    pub fn insert(&mut self, id: &str, record: IncidentRecord) {
        if let Some(kept) = self.get_mut(id) {
            *kept = record;
            return;
        }
        self.ids.push_str(id);
        let place = self.records.len();
        self.records.push((self.ids.len(), record));
        let hash = self.hasher.hash_one(id);
        let Self {
            places,
            hasher,
            ids,
            records,
        } = self;
        places.insert_unique(hash, place, |&place| {
            hasher.hash_one(id_at(ids, records, place))
        });
    }

    /// The records in id order (derived state keeps them in pages by id range), each id given
    /// as its own string.
    pub fn into_sorted(self) -> impl Iterator<Item = (Box<str>, IncidentRecord)> + Send {
        let Self { ids, records, .. } = self;
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_unstable_by(|&a, &b| id_at(&ids, &records, a).cmp(id_at(&ids, &records, b)));
        order
            .into_iter()
            .map(move |place| (id_at(&ids, &records, place).into(), records[place].1))
    }
}

/// The id of the record at `place`: from where the one before ends to where its own ends.
fn id_at<'a>(ids: &'a str, records: &[(usize, IncidentRecord)], place: usize) -> &'a str {
    let start = place.checked_sub(1).map_or(0, |before| records[before].0);
    &ids[start..records[place].0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn record(seq: u64) -> IncidentRecord {
        let stored = ("Battles", None::<&str>, seq, None::<u64>, None::<u64>);
        bincode::deserialize(&bincode::serialize(&stored).unwrap()).unwrap()
    }

    /// Behaves as a map from id to record, and gives its records back in id order.
    #[test]
    fn keeps_each_ids_last_record_and_gives_them_in_id_order() {
        let mut changes = IncidentChanges::default();
        let mut model = BTreeMap::new();
        let ids = ["b", "a", "", "ab", "b", "é", "a-1", "a", "zz", "ab"];
        for (seq, id) in (1..).zip(ids) {
            changes.insert(id, record(seq));
            model.insert(id.to_string(), record(seq));
            assert_eq!(changes.len(), model.len());
            for (id, kept) in &model {
                assert_eq!(changes.get(id), Some(kept), "{id}");
            }
            assert_eq!(changes.get("absent"), None);
        }
        if let Some(kept) = changes.get_mut("zz") {
            *kept = record(99);
        }
        model.insert("zz".into(), record(99));
        let sorted: Vec<(String, IncidentRecord)> = changes
            .into_sorted()
            .map(|(id, record)| (id.into(), record))
            .collect();
        assert_eq!(sorted, model.into_iter().collect::<Vec<_>>());
    }
}
