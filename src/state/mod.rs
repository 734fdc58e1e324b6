//! The derived state beside the log: what append needs to check the rules without rereading
//! every entry (each key's record, which key holds each name, each incident's status), and the
//! seq and hash of the entry it covers up to. This module owns its layout (docs/FORMAT.md,
//! "Derived state"), its encoding (bincode, fixed-width little-endian integers) and its typed
//! reads and writes; [`db`] is where it lives.
//!
//! Derived state is never evidence of anything: verify does not read it, and it can always be
//! rebuilt from the log ([`crate::Ledger::reindex`]). A record that does not decode or
//! contradicts another is reported as damaged state, never trusted and never a panic.

pub mod db;
pub mod pages;

use crate::keys::PublicKey;
use crate::rules::{
    EvidenceRecord, IncidentRecord, Inconsistency, KeyRecord, StateChanges, StateLookup,
};
pub use db::{DbError, StateDb, StateWrite};

pub use crate::log::Head;

const COVERED: &[u8] = b"covered";
/// The layout of derived state written here, stored with `covered`: state of any other layout
/// (1 kept a key per incident, 2 kept them in pages, 3 adds evidence, 4 adds withdrawals to the
/// incident records) is rebuilt from the log.
const LAYOUT: u32 = 4;
const KEY_PREFIX: u8 = b'k';
const NAME_PREFIX: u8 = b'n';
const INCIDENT_PREFIX: u8 = b'i';
/// Not `e`, which held entries in the layout before the log files (`legacy`): an old database's
/// keys and ours never share a prefix.
const EVIDENCE_PREFIX: u8 = b'v';

/// One derived-state record's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKey<'a> {
    /// The seq and hash of the last entry the state covers ([`Head`]).
    Covered,
    /// A key's [`KeyRecord`], by the public key's 32 bytes.
    Key(&'a PublicKey),
    /// The public key (32 bytes) of the active key with this name; absent when none is.
    Name(&'a str),
    /// A page of incidents' [`IncidentRecord`]s ([`pages`]), by the lowest id it may hold.
    IncidentPage(&'a str),
    /// An evidence file's [`EvidenceRecord`], by the 32 bytes of its SHA-256.
    Evidence(&'a [u8; 32]),
}

impl StateKey<'_> {
    /// The key as the database keeps it.
    pub fn bytes(&self) -> Vec<u8> {
        let (prefix, rest): (u8, &[u8]) = match self {
            StateKey::Covered => return COVERED.to_vec(),
            StateKey::Key(key) => (KEY_PREFIX, &key.0),
            StateKey::Name(name) => (NAME_PREFIX, name.as_bytes()),
            StateKey::IncidentPage(bound) => (INCIDENT_PREFIX, bound.as_bytes()),
            StateKey::Evidence(sha256) => (EVIDENCE_PREFIX, &sha256[..]),
        };
        let mut bytes = Vec::with_capacity(rest.len() + 1);
        bytes.push(prefix);
        bytes.extend_from_slice(rest);
        bytes
    }
}

/// A derived-state record that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DamagedState {
    #[error("the derived-state record {key} does not decode")]
    Undecodable {
        key: String,
        #[source]
        source: bincode::Error,
    },
    #[error("the derived-state record {key} is damaged: {reason}")]
    Page { key: String, reason: &'static str },
    #[error(transparent)]
    Inconsistent(#[from] Inconsistency),
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Damaged(#[from] DamagedState),
}

/// The `covered` record naming `head`, with the layout it belongs to.
pub fn covered_record(head: &Head) -> Vec<u8> {
    encode(&(LAYOUT, head))
}

/// The bytes a record is stored as.
pub fn encode<T: serde::Serialize>(record: &T) -> Vec<u8> {
    // bincode fails only for types it cannot size (maps of unknown length, `serialize_with`
    // errors); none of the records here is one.
    bincode::serialize(record).unwrap_or_else(|e| unreachable!("a state record encodes: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, DamagedState> {
    bincode::deserialize(bytes).map_err(|source| DamagedState::Undecodable {
        key: describe(key),
        source,
    })
}

/// A record's key as a person reads it ("key ed25519:…", "name alice", "incident x-1"), with
/// anything that is not printable text escaped: a damaged key may hold any bytes.
fn describe(key: &[u8]) -> String {
    let text = |rest: &[u8]| String::from_utf8_lossy(rest).escape_debug().to_string();
    match key {
        COVERED => "covered".to_string(),
        [KEY_PREFIX, rest @ ..] => match <[u8; 32]>::try_from(rest) {
            Ok(public) => format!("key {}", PublicKey(public)),
            Err(_) => format!("key {}", hex::encode(rest)),
        },
        [NAME_PREFIX, rest @ ..] => format!("name {}", text(rest)),
        [INCIDENT_PREFIX, rest @ ..] => format!("incident page from \"{}\"", text(rest)),
        other => hex::encode(other),
    }
}

/// Typed reads of derived state.
pub struct StateReader<'a>(pub &'a StateDb);

impl StateReader<'_> {
    fn get<T: serde::de::DeserializeOwned>(&self, key: StateKey) -> Result<Option<T>, StateError> {
        let key = key.bytes();
        match self.0.get(&key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(&key, &bytes)?)),
        }
    }

    /// The seq and hash of the last entry the state covers.
    /// `None` for state of another layout than [`LAYOUT`], which is rebuilt.
    pub fn covered(&self) -> Result<Option<Head>, StateError> {
        Ok(match self.get::<(u32, Head)>(StateKey::Covered)? {
            Some((LAYOUT, head)) => Some(head),
            _ => None,
        })
    }

    /// Every key ever enrolled, in order of enrolment.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, StateError> {
        let mut keys = self
            .0
            .with_prefix(&[KEY_PREFIX])?
            .into_iter()
            .map(|(key, bytes)| decode::<KeyRecord>(&key, &bytes))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| k.enrolled_seq);
        Ok(keys)
    }
}

impl StateLookup for StateReader<'_> {
    type Error = StateError;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, StateError> {
        self.get(StateKey::Key(key))
    }
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, StateError> {
        Ok(self.get::<[u8; 32]>(StateKey::Name(name))?.map(PublicKey))
    }
    fn keys(&self) -> Result<Vec<KeyRecord>, StateError> {
        StateReader::keys(self)
    }
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StateError> {
        let (bound, Some(page)) = incident_page(self.0, id)? else {
            return Ok(None);
        };
        match pages::find(&bound, &page, id)? {
            None => Ok(None),
            Some(record) => Ok(Some(decode(
                &StateKey::IncidentPage(&bound).bytes(),
                record,
            )?)),
        }
    }
    fn evidence(&self, sha256: &[u8; 32]) -> Result<Option<EvidenceRecord>, StateError> {
        self.get(StateKey::Evidence(sha256))
    }
}

/// The file in a ledger directory that names its keys for readers, who never open the database:
/// the key records as of the entry it covers (bincode of `(Head, Vec<KeyRecord>)`). Like the rest
/// of derived state it is written by the writer after each append and never trusted: a reader
/// uses it only if the log still has the entry it covers, and reads any later key events from
/// the log itself.
pub const KEYS_FILE: &str = "keys.derived";

/// Saves the readers' copy of the keys, replaced whole (not synced: it is derived).
pub fn save_keys(
    ledger_dir: &std::path::Path,
    covered: &Head,
    keys: &[KeyRecord],
) -> std::io::Result<()> {
    let temp = ledger_dir.join(format!("{KEYS_FILE}.new"));
    crate::inside::replace(
        &ledger_dir.join(KEYS_FILE),
        &temp,
        &encode(&(covered, keys)),
        crate::inside::Durability::Derived,
    )
}

/// The readers' copy of the keys, if there is one that decodes.
pub fn load_keys(ledger_dir: &std::path::Path) -> Option<(Head, Vec<KeyRecord>)> {
    let bytes = std::fs::read(ledger_dir.join(KEYS_FILE)).ok()?;
    bincode::deserialize(&bytes).ok()
}

/// The lower bound and bytes of the page that holds incident `id` if it is stored: the page
/// with the greatest bound not above `id`. With no such page, the first page's bound (`""`) and
/// no bytes.
fn incident_page(db: &StateDb, id: &str) -> Result<(String, Option<Vec<u8>>), StateError> {
    match db.at_or_before(&StateKey::IncidentPage(id).bytes())? {
        Some((key, page)) if key.first() == Some(&INCIDENT_PREFIX) => {
            Ok((page_bound(&key)?, Some(page)))
        }
        _ => Ok((String::new(), None)),
    }
}

/// The lower bound of the page after the page `bound`, if there is one.
fn next_incident_page(db: &StateDb, bound: &str) -> Result<Option<String>, StateError> {
    match db.key_after(&StateKey::IncidentPage(bound).bytes())? {
        Some(key) if key.first() == Some(&INCIDENT_PREFIX) => Ok(Some(page_bound(&key)?)),
        _ => Ok(None),
    }
}

fn page_bound(key: &[u8]) -> Result<String, DamagedState> {
    String::from_utf8(key[1..].to_vec()).map_err(|_| DamagedState::Page {
        key: describe(key),
        reason: "its key is not UTF-8",
    })
}

/// The writes that store a fold's changes, made as they are written; incidents are merged into
/// the pages of `db` in id order. The changes are taken, so that their lookup table is let go
/// before sled starts writing.
pub fn writes(
    db: &StateDb,
    changes: StateChanges,
) -> impl Iterator<Item = Result<StateWrite, StateError>> + Send + '_ {
    let keys = changes
        .keys
        .into_iter()
        .map(|(key, record)| Ok((StateKey::Key(&key).bytes(), Some(encode(&record)))));
    let names = changes.names.into_iter().map(|(name, key)| {
        let key = key.as_ref().map(|k| encode(&k.0));
        Ok((StateKey::Name(&name).bytes(), key))
    });
    let evidence = changes
        .evidence
        .into_iter()
        .map(|(sha256, record)| Ok((StateKey::Evidence(&sha256).bytes(), Some(encode(&record)))));
    keys.chain(names)
        .chain(evidence)
        .chain(pages::PageWrites::new(db, changes.incidents.into_sorted()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_record_is_fixed_width_little_endian() {
        let head = Head {
            seq: 7,
            hash: [3; 32],
            recorded_at: -2,
        };
        let mut expected = 7u64.to_le_bytes().to_vec();
        expected.extend_from_slice(&[3; 32]);
        expected.extend_from_slice(&(-2i64).to_le_bytes());
        assert_eq!(encode(&head), expected);
        assert_eq!(StateKey::Covered.bytes(), b"covered");
    }

    #[test]
    fn keys_are_a_prefix_and_the_raw_name() {
        let key = PublicKey([9; 32]);
        let mut expected = b"k".to_vec();
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(StateKey::Key(&key).bytes(), expected);
        assert_eq!(StateKey::Name("inv").bytes(), b"ninv");
        assert_eq!(StateKey::IncidentPage("x-1").bytes(), b"ix-1");
    }

    #[test]
    fn a_record_that_does_not_decode_is_damaged_state_naming_its_key() {
        let err = decode::<Head>(b"covered", b"\xff").unwrap_err();
        assert!(err.to_string().contains("covered"), "{err}");
    }
}
