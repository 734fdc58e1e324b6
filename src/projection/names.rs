//! Small folds that several views embed: the names the ledger gives to keys (so that a view can
//! say who stated something) and each incident's current event date (so that a view of things
//! about incidents can honour an event-time window). Roles and revocation are the authors view's.

use super::{Fact, Window};
use crate::event::EventType;
use crate::keys::PublicKey;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// Each incident's event date as its latest report or correction states it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventDates(BTreeMap<String, String>);

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
        self.0.insert(id.to_string(), date.to_string());
    }

    /// Whether the incident's event date falls in `window`.
    pub fn in_window(&self, window: &Window, incident_id: &str) -> bool {
        window.contains(self.0.get(incident_id).map_or("", String::as_str))
    }
}
