//! Small folds that several views embed: the names the ledger gives to keys (so that a view can
//! say who stated something) and each incident's current event date (so that a view of things
//! about incidents can honour an event-time window). Roles and revocation are the authors view's.

use super::{Fact, Window};
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeyNames(BTreeMap<[u8; 32], String>);

impl KeyNames {
    /// Learns the name of a key from a genesis or an enrolment; other facts are ignored.
    pub fn observe(&mut self, fact: &Fact) {
        let (name, key) = match fact.payload_of(&[EventType::LedgerGenesis, EventType::KeyEnrolled])
        {
            Some(Payload::Genesis(p)) => (&p.admin_name, &p.admin_public_key),
            Some(Payload::KeyEnrolled(p)) => (&p.name, &p.public_key),
            _ => return,
        };
        if let Ok(key) = PublicKey::parse(key) {
            self.0.insert(key.0, name.to_string());
        }
    }

    /// The name of the fact's author (its public key text if never enrolled, which verify rules out).
    pub fn author(&self, fact: &Fact) -> String {
        self.0
            .get(&fact.author.0)
            .cloned()
            .unwrap_or_else(|| fact.author.to_string())
    }
}

/// Each distinct event date, held once: a ledger's incidents share a few thousand dates, so a
/// fold that keeps every incident's date keeps a 4-byte number for it instead of a string.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Dates {
    texts: Vec<Box<str>>,
    /// The number of each date in `texts`; made again from them after a cache is read.
    #[serde(skip)]
    numbers: HashMap<Box<str>, u32>,
}

impl Dates {
    pub fn number(&mut self, date: &str) -> u32 {
        if self.numbers.len() != self.texts.len() {
            self.numbers = (self.texts.iter().cloned()).zip(0..).collect();
        }
        if let Some(&number) = self.numbers.get(date) {
            return number;
        }
        let number = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.texts.push(date.into());
        self.numbers.insert(date.into(), number);
        number
    }

    pub fn text(&self, number: u32) -> &str {
        (self
            .texts
            .get(usize::try_from(number).unwrap_or(usize::MAX)))
        .map_or("", |d| d)
    }
}

/// Each incident's event date as its latest report or correction states it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventDates {
    dates: Dates,
    by_incident: BTreeMap<Box<str>, u32>,
}

impl EventDates {
    pub fn observe(&mut self, fact: &Fact) {
        let incidents = [EventType::IncidentReported, EventType::IncidentCorrected];
        let (id, date) = match fact.payload_of(&incidents) {
            Some(Payload::IncidentReported(p)) => (&p.incident_id, &p.event_date),
            Some(Payload::IncidentCorrected(p)) => match &p.changes.event_date {
                Some(date) => (&p.incident_id, date),
                None => return,
            },
            _ => return,
        };
        let date = self.dates.number(date);
        self.by_incident.insert(id.as_ref().into(), date);
    }

    /// Whether the incident's event date falls in `window`.
    pub fn in_window(&self, window: &Window, incident_id: &str) -> bool {
        let date = self.by_incident.get(incident_id);
        window.contains(date.map_or("", |&date| self.dates.text(date)))
    }
}
