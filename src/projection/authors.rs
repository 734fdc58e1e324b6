//! `authors`: every key the ledger ever enrolled, its role, when it was enrolled and revoked (and
//! why), and how many entries it signed.

use super::{Cell, Describe, Fact, Projection, Reread, Rows, Window};
use crate::event::{EventType, Role};
use crate::keys::PublicKey;
use crate::payload::Payload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub struct Authors;

#[derive(Default, Serialize, Deserialize)]
pub struct State {
    /// In order of enrolment.
    keys: Vec<Author>,
    /// Public key -> index in `keys`.
    index: BTreeMap<[u8; 32], usize>,
}

#[derive(Serialize, Deserialize)]
struct Author {
    name: String,
    role: String,
    public_key: String,
    enrolled_seq: u64,
    revoked_seq: Option<u64>,
    entries: u64,
    revocation_reason: Option<String>,
}

impl State {
    fn enrol(&mut self, fact: &Fact, name: &str, role: Role, public_key: &str) {
        if let Ok(key) = PublicKey::parse(public_key) {
            self.index.insert(key.0, self.keys.len());
        }
        self.keys.push(Author {
            name: name.to_string(),
            role: role.name().to_string(),
            public_key: public_key.to_string(),
            enrolled_seq: fact.seq,
            revoked_seq: None,
            entries: 0,
            revocation_reason: None,
        });
    }

    fn author_mut(&mut self, public_key: &PublicKey) -> Option<&mut Author> {
        let index = *self.index.get(&public_key.0)?;
        self.keys.get_mut(index)
    }
}

impl Describe for Authors {
    const NAME: &'static str = "authors";
    const ABOUT: &'static str = "every enrolled key, its role, revocation and why, entries signed";
    const VERSION: u32 = 3;
    /// A contract: columns are only ever added at the end.
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "role",
        "public_key",
        "enrolled_seq",
        "revoked_seq",
        "entries",
        "revocation_reason",
    ];
    const EVENT_TIME: Option<&'static str> = None;
}

impl Projection for Authors {
    type State = State;

    fn apply(state: &mut State, fact: &Fact) {
        let keys = [
            EventType::LedgerGenesis,
            EventType::KeyEnrolled,
            EventType::KeyRevoked,
        ];
        match fact.payload_of(&keys) {
            Some(Payload::Genesis(p)) => {
                state.enrol(fact, &p.admin_name, Role::Admin, &p.admin_public_key);
            }
            Some(Payload::KeyEnrolled(p)) => state.enrol(fact, &p.name, p.role, &p.public_key),
            Some(Payload::KeyRevoked(p)) => {
                let revoked = PublicKey::parse(&p.public_key);
                if let Some(author) = revoked.ok().and_then(|key| state.author_mut(&key)) {
                    author.revoked_seq = Some(fact.seq);
                    author.revocation_reason = Some(p.reason.to_string());
                }
            }
            _ => {}
        }
        if let Some(author) = state.author_mut(&fact.author) {
            author.entries += 1;
        }
    }

    fn rows<'a>(state: &'a State, _: &'a Window, _: &'a Reread<'_>) -> Rows<'a> {
        Box::new(state.keys.iter().map(|a| {
            vec![
                Cell::text(a.name.as_str()),
                Cell::text(a.role.as_str()),
                Cell::text(a.public_key.as_str()),
                Cell::seq(a.enrolled_seq),
                Cell::optional_seq(a.revoked_seq),
                Cell::seq(a.entries),
                Cell::optional_text(a.revocation_reason.as_deref()),
            ]
        }))
    }
}
