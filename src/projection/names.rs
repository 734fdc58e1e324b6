//! The names the ledger gives to keys, folded from the genesis and key enrolments, so that views
//! can say who stated something. Owns nothing else; roles and revocation are the authors view's.

use super::Fact;
use crate::event::EventType;
use crate::keys::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeyNames(BTreeMap<[u8; 32], String>);

impl KeyNames {
    /// Learns the name of a key from a genesis or an enrolment; other facts are ignored.
    pub fn observe(&mut self, fact: &Fact) {
        let (name, key) = match fact.event_type {
            EventType::LedgerGenesis => (fact.text("admin_name"), fact.text("admin_public_key")),
            EventType::KeyEnrolled => (fact.text("name"), fact.text("public_key")),
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
