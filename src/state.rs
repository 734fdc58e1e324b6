//! The derived state beside the log: what append needs to check the rules without rereading
//! every entry (the head, each key's record, which key holds each name, each incident's
//! status). This module owns its layout (docs/FORMAT.md, "Storage layout"), its encoding
//! (bincode, fixed-width little-endian integers) and its typed reads and writes.
//!
//! Derived state is never evidence of anything: verify does not read it (except the head, to
//! report a shortened log), and it can always be rebuilt from the log
//! ([`crate::Ledger::reindex`]). A record that does not decode or contradicts another is
//! reported as damaged state, never trusted and never a panic.

use crate::keys::PublicKey;
use crate::merkle::Hash;
use crate::rules::{IncidentRecord, Inconsistency, KeyRecord, StateChanges, StateLookup};
use crate::store::{StateWrite, Store, StoreError};

/// The first byte of every derived-state key in the sled tree (entries start with `e`).
pub const SLED_PREFIX: u8 = b's';

const HEAD: &[u8] = b"head";
const KEY_PREFIX: u8 = b'k';
const NAME_PREFIX: u8 = b'n';
const INCIDENT_PREFIX: u8 = b'i';

/// The last entry: its seq, its hash and the ledger clock when it was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    pub recorded_at: i64,
}

/// One derived-state record's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKey<'a> {
    /// The head record ([`Head`]).
    Head,
    /// A key's [`KeyRecord`], by the public key's 32 bytes.
    Key(&'a PublicKey),
    /// The public key (32 bytes) of the active key with this name; absent when none is.
    Name(&'a str),
    /// An incident's [`IncidentRecord`], by its id.
    Incident(&'a str),
}

impl StateKey<'_> {
    /// The key as the [`Store`] keeps it, within the derived state.
    pub fn bytes(&self) -> Vec<u8> {
        let (prefix, rest): (u8, &[u8]) = match self {
            StateKey::Head => return HEAD.to_vec(),
            StateKey::Key(key) => (KEY_PREFIX, &key.0),
            StateKey::Name(name) => (NAME_PREFIX, name.as_bytes()),
            StateKey::Incident(id) => (INCIDENT_PREFIX, id.as_bytes()),
        };
        let mut bytes = Vec::with_capacity(rest.len() + 1);
        bytes.push(prefix);
        bytes.extend_from_slice(rest);
        bytes
    }

    /// The key in the sled tree: [`SLED_PREFIX`], then [`StateKey::bytes`].
    pub fn sled_key(&self) -> Vec<u8> {
        sled_key(&self.bytes())
    }
}

/// The sled key of a derived-state key.
pub fn sled_key(state_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(state_key.len() + 1);
    key.push(SLED_PREFIX);
    key.extend_from_slice(state_key);
    key
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
    #[error(transparent)]
    Inconsistent(#[from] Inconsistency),
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Damaged(#[from] DamagedState),
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
        HEAD => "head".to_string(),
        [KEY_PREFIX, rest @ ..] => match <[u8; 32]>::try_from(rest) {
            Ok(public) => format!("key {}", PublicKey(public)),
            Err(_) => format!("key {}", hex::encode(rest)),
        },
        [NAME_PREFIX, rest @ ..] => format!("name {}", text(rest)),
        [INCIDENT_PREFIX, rest @ ..] => format!("incident {}", text(rest)),
        other => hex::encode(other),
    }
}

/// Typed reads of a store's derived state.
pub struct StateReader<'a, S: Store>(pub &'a S);

impl<S: Store> StateReader<'_, S> {
    fn get<T: serde::de::DeserializeOwned>(&self, key: StateKey) -> Result<Option<T>, StateError> {
        let key = key.bytes();
        match self.0.state(&key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(&key, &bytes)?)),
        }
    }

    /// The head record append keeps beside the log.
    pub fn head(&self) -> Result<Option<Head>, StateError> {
        self.get(StateKey::Head)
    }

    /// Every key ever enrolled, in order of enrolment.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, StateError> {
        let mut keys = self
            .0
            .state_with_prefix(&[KEY_PREFIX])?
            .into_iter()
            .map(|(key, bytes)| decode::<KeyRecord>(&key, &bytes))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| k.enrolled_seq);
        Ok(keys)
    }
}

impl<S: Store> StateLookup for StateReader<'_, S> {
    type Error = StateError;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, StateError> {
        self.get(StateKey::Key(key))
    }
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, StateError> {
        Ok(self.get::<[u8; 32]>(StateKey::Name(name))?.map(PublicKey))
    }
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StateError> {
        self.get(StateKey::Incident(id))
    }
}

/// The writes that store a fold's changes and the new head.
pub fn writes(changes: StateChanges, head: &Head) -> Vec<StateWrite> {
    let mut writes =
        Vec::with_capacity(changes.incidents.len() + changes.keys.len() + changes.names.len() + 1);
    for (key, record) in changes.keys {
        writes.push((StateKey::Key(&key).bytes(), Some(encode(&record))));
    }
    for (name, key) in changes.names {
        writes.push((StateKey::Name(&name).bytes(), key.map(|k| encode(&k.0))));
    }
    for (id, record) in changes.incidents {
        writes.push((StateKey::Incident(&id).bytes(), Some(encode(&record))));
    }
    writes.push((StateKey::Head.bytes(), Some(encode(head))));
    writes
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
        assert_eq!(StateKey::Head.sled_key(), b"shead");
    }

    #[test]
    fn keys_are_a_prefix_and_the_raw_name() {
        let key = PublicKey([9; 32]);
        let mut expected = b"sk".to_vec();
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(StateKey::Key(&key).sled_key(), expected);
        assert_eq!(StateKey::Name("inv").sled_key(), b"sninv");
        assert_eq!(StateKey::Incident("x-1").sled_key(), b"six-1");
    }

    #[test]
    fn a_record_that_does_not_decode_is_damaged_state_naming_its_key() {
        let err = decode::<Head>(b"head", b"\xff").unwrap_err();
        assert!(err.to_string().contains("head"), "{err}");
    }
}
