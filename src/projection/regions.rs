//! `regions`: incidents and fatalities by region (admin1), main actor and month of the event,
//! counting standing incidents only, with their corrected values.
//!
//! This is the view that runs over the largest logs, so its digest keeps only the few fields it
//! needs of each payload (read without keeping the payload itself), and its rows come from
//! tallies by (region, actor, day) alone. What it remembers
//! of each incident, to move it between tallies when it is corrected, withdrawn, reinstated or
//! retracted, is a record of
//! a few bytes (the (region, actor) pairs are interned), which a catch-up reads only for the
//! incidents the new entries name.

use super::{Cell, Describe, Fact, KeyedProjection, Records, Rows, Window};
use crate::codec::place_in;
use crate::date::iso_date;
use crate::payload::{field, Counts};
use chrono::{Datelike, NaiveDate};
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

pub struct Regions;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    /// Distinct (admin1, actor1) pairs; incidents refer to them by index.
    pairs: Vec<(Option<String>, String)>,
    /// admin1 ("" when absent, which the schemas rule out as a value) -> actor1 -> index in
    /// `pairs`; rebuilt after loading rather than stored.
    #[serde(skip)]
    pair_index: HashMap<String, HashMap<String, u32>>,
    /// Standing incidents by (pair, event day): tallied by day rather than month so that an
    /// event-time window can cut a month.
    tallies: HashMap<(u32, Option<i32>), Tally>,
}

#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct Tally {
    incidents: u64,
    fatalities: u64,
}

/// What regions remembers of one incident, in 16 bytes: millions of them are held at once. A
/// withdrawn incident is kept out of the tallies but remembered, with the corrections made
/// while it is withdrawn, since a later release may reinstate it. A retracted incident is
/// forgotten, since nothing that can follow its retraction counts it again (a correction of it
/// changes nothing, a second report counts afresh).
#[derive(Clone, Serialize, Deserialize)]
pub struct Counted {
    fatalities: u64,
    /// The index of its (admin1, actor1) pair in `State::pairs`, with [`WITHDRAWN`] set while
    /// the incident is withdrawn: a flag of its own would make the record 24 bytes.
    pair: u32,
    event_day: Day,
}

/// The bit of [`Counted::pair`] that marks a withdrawn incident; pair indexes stay below it.
const WITHDRAWN: u32 = 1 << 31;

impl Counted {
    fn pair(&self) -> u32 {
        self.pair & !WITHDRAWN
    }

    fn is_withdrawn(&self) -> bool {
        self.pair & WITHDRAWN != 0
    }
}

/// An event date as days from the Common Era (chrono's), or none for a date that does not parse
/// (the schemas rule that out), in four bytes: chrono's dates span fewer than 2^28 days, which
/// leaves `i32::MIN` to mean none.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Day(i32);

impl Day {
    fn new(day: Option<i32>) -> Day {
        Day(day.unwrap_or(i32::MIN))
    }

    fn get(self) -> Option<i32> {
        (self.0 != i32::MIN).then_some(self.0)
    }
}

/// What a report states, or a correction changes, of the fields regions reads: `None` for a
/// field a correction leaves alone, `Some(None)` for admin1 cleared or an event date that does
/// not parse (the schemas rule that out). Its text is [`Said`] in a digest, `&str` in the fold.
pub struct Fields<T = Said> {
    admin1: Option<Option<T>>,
    actor1: Option<T>,
    event_day: Option<Option<i32>>,
    fatalities: Option<u64>,
}

/// A string of a payload as a digest keeps it: where it lies in the payload's bytes, so that
/// digesting makes no allocation (three a report made a fifth of a profile's samples, with the
/// memory they took and gave back), or its text when the JSON wrote it with escapes and its
/// bytes do not read as it.
pub enum Said {
    At(Range<usize>),
    Unescaped(String),
}

impl Said {
    fn new(text: &str, payload: &[u8]) -> Said {
        match place_in(payload, text.as_bytes()) {
            Some(at) => Said::At(at),
            None => Said::Unescaped(text.to_string()),
        }
    }

    /// The text, from the payload it was said in. The bytes were a whole `&str` when the digest
    /// was made, so they read as one.
    fn read<'a>(&'a self, payload: &'a [u8]) -> &'a str {
        match self {
            Said::At(at) => payload
                .get(at.clone())
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .unwrap_or_default(),
            Said::Unescaped(text) => text,
        }
    }
}

impl Fields {
    fn read<'a>(&'a self, payload: &'a [u8]) -> Fields<&'a str> {
        Fields {
            admin1: self
                .admin1
                .as_ref()
                .map(|admin1| admin1.as_ref().map(|said| said.read(payload))),
            actor1: self.actor1.as_ref().map(|said| said.read(payload)),
            event_day: self.event_day,
            fatalities: self.fatalities,
        }
    }
}

/// What one incident event does to the counts, worked out ahead of the fold.
pub enum Digest {
    Nothing,
    Reported(Said, Fields),
    Corrected(Said, Fields),
    Withdrawn(Said),
    Reinstated(Said),
    Retracted(Said),
}

/// An ISO 8601 date as days from the Common Era, which keeps the stored state small.
fn day(date: &str) -> Option<i32> {
    iso_date(date).map(|d| d.num_days_from_ce())
}

impl State {
    /// Adds a standing incident to its tally (`Add`) or takes it out again (`Remove`).
    fn tally(&mut self, counted: &Counted, change: Change) {
        let key = (counted.pair(), counted.event_day.get());
        let tally = self.tallies.entry(key).or_default();
        match change {
            Change::Add => {
                tally.incidents += 1;
                tally.fatalities += counted.fatalities;
            }
            Change::Remove => {
                // Saturating: a cache tampered with behind the ledger's back must not crash.
                tally.incidents = tally.incidents.saturating_sub(1);
                tally.fatalities = tally.fatalities.saturating_sub(counted.fatalities);
                if tally.incidents == 0 {
                    self.tallies.remove(&key);
                }
            }
        }
    }

    /// Moves a standing incident from its tally as `before` to its tally as `after`: in place
    /// when it stays in the same one (most corrections change a count, not a place or a date).
    fn retally(&mut self, before: &Counted, after: &Counted) {
        let key = (before.pair(), before.event_day.get());
        match self.tallies.get_mut(&key) {
            Some(tally) if key == (after.pair(), after.event_day.get()) => {
                tally.fatalities =
                    tally.fatalities.saturating_sub(before.fatalities) + after.fatalities;
            }
            _ => {
                self.tally(before, Change::Remove);
                self.tally(after, Change::Add);
            }
        }
    }

    fn pair(&mut self, admin1: Option<&str>, actor1: &str) -> u32 {
        if self.pair_index.is_empty() && !self.pairs.is_empty() {
            for (index, (admin1, actor1)) in (0..).zip(&self.pairs) {
                self.pair_index
                    .entry(admin1.clone().unwrap_or_default())
                    .or_default()
                    .insert(actor1.clone(), index);
            }
        }
        let known = self.pair_index.get(admin1.unwrap_or_default());
        if let Some(&index) = known.and_then(|actors| actors.get(actor1)) {
            return index;
        }
        let index = u32::try_from(self.pairs.len())
            .ok()
            .filter(|&index| index < WITHDRAWN)
            .expect("fewer than 2^31 region/actor pairs");
        self.pairs
            .push((admin1.map(str::to_string), actor1.to_string()));
        self.pair_index
            .entry(admin1.unwrap_or_default().to_string())
            .or_default()
            .insert(actor1.to_string(), index);
        index
    }

    /// The (admin1, actor1) of an incident. A stored state tampered with behind the ledger's
    /// back can name a pair that does not exist: that reads as no region and no actor rather
    /// than a crash (and `--rebuild` recomputes it from the log).
    fn pair_of(&self, pair: u32) -> &(Option<String>, String) {
        static UNKNOWN: (Option<String>, String) = (None, String::new());
        self.pairs.get(pair as usize).unwrap_or(&UNKNOWN)
    }

    fn set(&mut self, counted: &mut Counted, fields: &Fields<&str>) {
        if fields.admin1.is_some() || fields.actor1.is_some() {
            let (admin1, actor1) = self.pair_of(counted.pair()).clone();
            let admin1 = match fields.admin1 {
                Some(stated) => stated,
                None => admin1.as_deref(),
            };
            let actor1 = fields.actor1.unwrap_or(&actor1);
            counted.pair = self.pair(admin1, actor1) | (counted.pair & WITHDRAWN);
        }
        if let Some(day) = fields.event_day {
            counted.event_day = Day::new(day);
        }
        if let Some(fatalities) = fields.fatalities {
            counted.fatalities = fatalities;
        }
    }
}

impl Describe for Regions {
    const NAME: &'static str = "regions";
    const ABOUT: &'static str = "standing incidents and fatalities by region, actor and month";
    // 5: a fatality count written as a whole decimal (3.0) counts, where 4 left the incident out.
    // 6: a record is 16 bytes, and a retracted incident's is removed.
    // 7: a withdrawn incident's record is kept, marked, out of the tallies.
    const VERSION: u32 = 7;
    const COLUMNS: &'static [&'static str] = &[
        field::ADMIN1.name,
        field::ACTOR1.name,
        "month",
        "incidents",
        "fatalities",
    ];
    const EVENT_TIME: Option<&'static str> = Some(field::EVENT_DATE.name);
}

impl KeyedProjection for Regions {
    type State = State;
    type Record = Counted;
    type Digest = Digest;

    fn digest(fact: &Fact) -> Digest {
        let bytes = fact.payload_bytes();
        let said = |text: &str| Said::new(text, bytes);
        match fact.counts() {
            Some(Counts::Reported(p)) => Digest::Reported(
                said(&p.incident_id),
                Fields {
                    admin1: Some(p.admin1.as_deref().map(said)),
                    actor1: Some(said(&p.actor1)),
                    event_day: Some(day(&p.event_date)),
                    fatalities: Some(p.fatalities),
                },
            ),
            Some(Counts::Corrected(p)) => {
                let changes = &p.changes;
                Digest::Corrected(
                    said(&p.incident_id),
                    Fields {
                        admin1: changes
                            .admin1
                            .as_ref()
                            .map(|admin1| admin1.as_deref().map(said)),
                        actor1: changes.actor1.as_deref().map(said),
                        event_day: changes.event_date.as_deref().map(day),
                        fatalities: changes.fatalities,
                    },
                )
            }
            Some(Counts::Withdrawn(p)) => Digest::Withdrawn(said(&p.incident_id)),
            Some(Counts::Reinstated(p)) => Digest::Reinstated(said(&p.incident_id)),
            Some(Counts::Retracted(p)) => Digest::Retracted(said(&p.incident_id)),
            None => Digest::Nothing,
        }
    }

    fn key<'a>(fact: &'a Fact, digest: &'a Digest) -> Option<&'a str> {
        match digest {
            Digest::Nothing => None,
            Digest::Reported(id, _)
            | Digest::Corrected(id, _)
            | Digest::Withdrawn(id)
            | Digest::Reinstated(id)
            | Digest::Retracted(id) => Some(id.read(fact.payload_bytes())),
        }
    }

    fn apply(state: &mut State, records: &mut Records<Counted>, fact: &Fact, digest: Digest) {
        let payload = fact.payload_bytes();
        match digest {
            Digest::Nothing => {}
            Digest::Reported(id, fields) => {
                let fields = fields.read(payload);
                let admin1 = fields.admin1.flatten();
                let actor1 = fields.actor1.unwrap_or_default();
                let counted = Counted {
                    pair: state.pair(admin1, actor1),
                    event_day: Day::new(fields.event_day.flatten()),
                    fatalities: fields.fatalities.unwrap_or(0),
                };
                state.tally(&counted, Change::Add);
                // The rules forbid a second report of an id; if a log has one, it replaces the
                // first, as in the incidents view.
                if let Some(first) = records.insert(id.read(payload), counted) {
                    if !first.is_withdrawn() {
                        state.tally(&first, Change::Remove);
                    }
                }
            }
            Digest::Corrected(id, changes) => {
                let Some(counted) = records.get_mut(id.read(payload)) else {
                    return;
                };
                let before = counted.clone();
                state.set(counted, &changes.read(payload));
                if !counted.is_withdrawn() {
                    state.retally(&before, counted);
                }
            }
            Digest::Withdrawn(id) => {
                if let Some(counted) = records.get_mut(id.read(payload)) {
                    if !counted.is_withdrawn() {
                        state.tally(counted, Change::Remove);
                        counted.pair |= WITHDRAWN;
                    }
                }
            }
            Digest::Reinstated(id) => {
                if let Some(counted) = records.get_mut(id.read(payload)) {
                    if counted.is_withdrawn() {
                        counted.pair &= !WITHDRAWN;
                        state.tally(counted, Change::Add);
                    }
                }
            }
            Digest::Retracted(id) => {
                if let Some(counted) = records.remove(id.read(payload)) {
                    if !counted.is_withdrawn() {
                        state.tally(&counted, Change::Remove);
                    }
                }
            }
        }
    }

    fn rows<'a>(state: &'a State, window: &'a Window) -> Rows<'a> {
        // (admin1, actor1) and (year, month) -> (incidents, fatalities)
        type Group<'a> = (&'a (Option<String>, String), Option<(i32, u32)>);
        let mut groups: BTreeMap<Group, Tally> = BTreeMap::new();
        for (&(pair, day), tally) in &state.tallies {
            let date = day.and_then(NaiveDate::from_num_days_from_ce_opt);
            let in_window = match date {
                Some(date) => window.contains_date(date),
                None => window.is_open(),
            };
            if !in_window {
                continue;
            }
            let month = date.map(|d| (d.year(), d.month()));
            let group = groups.entry((state.pair_of(pair), month)).or_default();
            group.incidents += tally.incidents;
            group.fatalities += tally.fatalities;
        }
        Box::new(
            groups
                .into_iter()
                .map(|(((admin1, actor1), month), tally)| {
                    vec![
                        Cell::optional_text(admin1.as_deref()),
                        Cell::text(actor1.as_str()),
                        month.map_or(Cell::Empty, |(year, month)| {
                            Cell::text(format!("{year:04}-{month:02}"))
                        }),
                        Cell::seq(tally.incidents),
                        Cell::seq(tally.fatalities),
                    ]
                }),
        )
    }
}

#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

#[cfg(test)]
mod tests {
    use super::Said;

    /// A string parsed in place is kept as where it lies; one unescaped by the parser (so not
    /// in the payload as it reads) is kept as its text. Both read back as the string.
    #[test]
    fn said_points_into_the_payload_or_keeps_unescaped_text() {
        let payload = br#"{"id":"MLI1","actor1":"caf\u00e9"}"#;
        let id = std::str::from_utf8(&payload[7..11]).unwrap();
        let said = Said::new(id, payload);
        assert!(matches!(said, Said::At(_)));
        assert_eq!(said.read(payload), "MLI1");

        let unescaped = String::from("café");
        let said = Said::new(&unescaped, payload);
        assert!(matches!(said, Said::Unescaped(_)));
        assert_eq!(said.read(payload), "café");
    }
}
