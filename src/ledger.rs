//! The façade every caller goes through: create and open a ledger, append a batch of events
//! (validate → check rules → sign → chain → store, all or nothing, durable before it returns),
//! and read entries back.
//!
//! It owns the derived state that lets append check rules without rereading the log (bincode
//! values under the store's state keys); verify never uses that state. It never prints or
//! parses command-line arguments.

use crate::entry::{entry_hash, Entry, ZERO_HASH};
use crate::event::{EventType, Role};
use crate::input::EventInput;
use crate::keys::{PublicKey, SecretKey};
use crate::merkle::Hash;
use crate::rules::{
    AdmitError, IncidentRecord, KeyRecord, RuleState, RuleViolation, StateChanges, StateLookup,
};
use crate::schema::{self, SchemaError, Schemas};
use crate::statement::{seal_all, Statement, MAX_PAYLOAD_BYTES};
use crate::store::{SledStore, StateWrite, Store, StoreError};
use crate::time::Timestamp;
use crate::verify::{self, Problem, Report};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// Why one event of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown event type {0:?}; the types are: {types}", types = EventType::ALL.map(|t| t.name()).join(", "))]
    UnknownType(String),
    #[error("data is {0} bytes, over the limit of {MAX_PAYLOAD_BYTES}; anchor large material by hash with `ledger attach`")]
    TooLarge(usize),
    #[error("data is not valid JSON: {0}")]
    Json(String),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error("incident {id} is reported twice in this batch{}", line.map(|l| format!(" (first on line {l})")).unwrap_or_default())]
    DuplicateInBatch { id: String, line: Option<usize> },
}

/// A refused event, named by its input line and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: Option<usize>,
    pub event_type: String,
    pub refusal: Refusal,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if matches!(self.refusal, Refusal::UnknownType(_)) {
            write!(f, "{}", self.refusal)
        } else {
            write!(f, "{}: {}", self.event_type, self.refusal)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}; nothing was written")]
    Rejected(Rejection),
    #[error("the ledger is damaged at seq {seq}: {reason}; run `ledger verify` for a full report")]
    Damaged { seq: u64, reason: String },
    #[error("the ledger's derived state is damaged ({0}); run `ledger verify`")]
    State(String),
    #[error("{0}")]
    Schemas(SchemaError),
    #[error("no active key is named {0}; `ledger key list` shows the enrolled keys")]
    NoSuchKey(String),
    #[error("nothing to append")]
    EmptyBatch,
}

/// Where an appended event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: Hash,
}

/// The last entry: its seq, its hash and the ledger clock when it was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    pub recorded_at: i64,
}

// Derived-state keys (values are bincode; see docs/FORMAT.md, "Storage layout").
const HEAD_KEY: &[u8] = b"head";
const KEY_PREFIX: u8 = b'k';
const NAME_PREFIX: u8 = b'n';
const INCIDENT_PREFIX: u8 = b'i';

fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(rest.len() + 1);
    key.push(prefix);
    key.extend_from_slice(rest);
    key
}

fn encode_state<T: serde::Serialize>(value: &T) -> Vec<u8> {
    bincode::serialize(value).expect("derived state serializes")
}

/// The stored derived state, as the rules see it.
struct StoredState<'a, S: Store>(&'a S);

impl<S: Store> StoredState<'_, S> {
    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, LedgerError> {
        match self.0.state(key)? {
            None => Ok(None),
            Some(bytes) => bincode::deserialize(&bytes)
                .map(Some)
                .map_err(|e| LedgerError::State(e.to_string())),
        }
    }
}

impl<S: Store> StateLookup for StoredState<'_, S> {
    type Error = LedgerError;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, LedgerError> {
        self.get(&prefixed(KEY_PREFIX, &key.0))
    }
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, LedgerError> {
        Ok(self
            .get::<[u8; 32]>(&prefixed(NAME_PREFIX, name.as_bytes()))?
            .map(PublicKey))
    }
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, LedgerError> {
        self.get(&prefixed(INCIDENT_PREFIX, id.as_bytes()))
    }
}

fn state_writes(changes: StateChanges, head: &Head) -> Vec<StateWrite> {
    let mut writes =
        Vec::with_capacity(changes.incidents.len() + changes.keys.len() + changes.names.len() + 1);
    for (key, record) in changes.keys {
        writes.push((prefixed(KEY_PREFIX, &key.0), Some(encode_state(&record))));
    }
    for (name, key) in changes.names {
        writes.push((
            prefixed(NAME_PREFIX, name.as_bytes()),
            key.map(|k| encode_state(&k.0)),
        ));
    }
    for (id, record) in changes.incidents {
        writes.push((
            prefixed(INCIDENT_PREFIX, id.as_bytes()),
            Some(encode_state(&record)),
        ));
    }
    writes.push((HEAD_KEY.to_vec(), Some(encode_state(head))));
    writes
}

/// A parsed, schema-valid event ready for the rules.
struct Checked {
    event_type: EventType,
    payload: Value,
}

pub struct Ledger<S: Store = SledStore> {
    store: S,
    schemas: Schemas,
}

impl Ledger<SledStore> {
    /// Creates a ledger in a new or empty directory and writes its genesis entry (seq 0), signed
    /// by the admin key it names.
    pub fn create(
        dir: &Path,
        admin: &SecretKey,
        admin_name: &str,
        origin: &str,
    ) -> Result<(Self, Appended), LedgerError> {
        let schemas = Schemas::load().map_err(LedgerError::Schemas)?;
        let genesis = EventInput {
            line: None,
            event_type: EventType::LedgerGenesis.name().to_string(),
            payload: serde_json::to_vec(&json!({
                "origin": origin,
                "admin_name": admin_name,
                "admin_public_key": admin.public().to_string(),
            }))
            .expect("JSON serializes"),
        };
        // Check the genesis before creating anything, so that a refused one leaves no directory.
        Self::check(&schemas, &genesis).map_err(|refusal| Self::rejection(&genesis, refusal))?;
        let ledger = Ledger {
            store: SledStore::create(dir)?,
            schemas,
        };
        let appended = ledger.append(admin, &[genesis])?;
        Ok((ledger, appended[0]))
    }

    pub fn open(dir: &Path, wait: Duration) -> Result<Self, LedgerError> {
        let store = SledStore::open(dir, wait)?;
        Ok(Ledger {
            store,
            schemas: Schemas::load().map_err(LedgerError::Schemas)?,
        })
    }
}

impl<S: Store> Ledger<S> {
    pub fn with_store(store: S) -> Result<Self, LedgerError> {
        Ok(Ledger {
            store,
            schemas: Schemas::load().map_err(LedgerError::Schemas)?,
        })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    fn rejection(event: &EventInput, refusal: Refusal) -> LedgerError {
        LedgerError::Rejected(Rejection {
            line: event.line,
            event_type: event.event_type.clone(),
            refusal,
        })
    }

    fn check(schemas: &Schemas, event: &EventInput) -> Result<Checked, Refusal> {
        let event_type = EventType::parse(&event.event_type)
            .ok_or_else(|| Refusal::UnknownType(event.event_type.clone()))?;
        if event.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Refusal::TooLarge(event.payload.len()));
        }
        let payload =
            schema::parse_payload(&event.payload).map_err(|e| Refusal::Json(e.to_string()))?;
        schemas.validate(event_type, event_type.current_schema_version(), &payload)?;
        Ok(Checked {
            event_type,
            payload,
        })
    }

    /// The last entry as stored, checked against the head record append keeps beside it.
    pub fn head(&self) -> Result<Option<Head>, LedgerError> {
        let Some((seq, bytes)) = self.store.last_entry()? else {
            return Ok(None);
        };
        let entry = Entry::decode(&bytes).map_err(|e| LedgerError::Damaged {
            seq,
            reason: format!("its entry does not decode: {e}"),
        })?;
        let head = Head {
            seq,
            hash: entry_hash(&bytes),
            recorded_at: entry.recorded_at.0,
        };
        let recorded: Option<Head> = StoredState(&self.store).get(HEAD_KEY)?;
        if recorded != Some(head) {
            return Err(LedgerError::Damaged {
                seq,
                reason: "the last stored entry is not the one the ledger last appended (entries were removed or changed)".into(),
            });
        }
        Ok(Some(head))
    }

    /// Appends a batch of events stated by `key`: every event or none, durable before it returns.
    pub fn append(
        &self,
        key: &SecretKey,
        events: &[EventInput],
    ) -> Result<Vec<Appended>, LedgerError> {
        if events.is_empty() {
            return Err(LedgerError::EmptyBatch);
        }
        let schemas = &self.schemas;
        let checked: Vec<Result<Checked, Refusal>> =
            events.par_iter().map(|e| Self::check(schemas, e)).collect();
        let checked = checked
            .into_iter()
            .zip(events)
            .map(|(result, event)| result.map_err(|refusal| Self::rejection(event, refusal)))
            .collect::<Result<Vec<Checked>, LedgerError>>()?;

        let head = self.head()?;
        let first_seq = head.map_or(0, |h| h.seq + 1);
        let author = key.public();
        let stored = StoredState(&self.store);
        let mut rules = RuleState::new(&stored);
        for (i, (item, event)) in checked.iter().zip(events).enumerate() {
            rules
                .admit(
                    first_seq + i as u64,
                    &author,
                    item.event_type,
                    &item.payload,
                )
                .map_err(|e| match e {
                    AdmitError::Violation(RuleViolation::DuplicateIncident { id, seq })
                        if seq >= first_seq =>
                    {
                        let earlier = &events[(seq - first_seq) as usize];
                        Self::rejection(
                            event,
                            Refusal::DuplicateInBatch {
                                id,
                                line: earlier.line,
                            },
                        )
                    }
                    AdmitError::Violation(v) => Self::rejection(event, Refusal::Rule(v)),
                    AdmitError::Lookup(e) => e,
                })?;
        }
        let changes = rules.changes;

        let claimed_at = Timestamp::now();
        let statements: Vec<Statement> = checked
            .iter()
            .zip(events)
            .map(|(item, event)| Statement {
                event_type: item.event_type.name().to_string(),
                schema_version: item.event_type.current_schema_version(),
                author,
                claimed_at,
                payload: event.payload.clone(),
            })
            .collect();
        let encoded: Vec<Vec<u8>> = statements.par_iter().map(Statement::encode).collect();
        let seals = seal_all(key, &encoded);

        // The ledger's clock never runs backwards, even if the machine's does.
        let recorded_at = Timestamp(claimed_at.0.max(head.map_or(i64::MIN, |h| h.recorded_at)));
        let mut prev = head.map_or(ZERO_HASH, |h| h.hash);
        let mut stored_entries = Vec::with_capacity(events.len());
        let mut appended = Vec::with_capacity(events.len());
        for (i, ((statement, statement_bytes), seal)) in
            statements.into_iter().zip(encoded).zip(seals).enumerate()
        {
            let seq = first_seq + i as u64;
            let bytes =
                Entry::new(seq, recorded_at, prev, statement, statement_bytes, seal).encode();
            prev = entry_hash(&bytes);
            appended.push(Appended { seq, hash: prev });
            stored_entries.push((seq, bytes));
        }
        let last = appended.last().expect("batch is not empty");
        let new_head = Head {
            seq: last.seq,
            hash: last.hash,
            recorded_at: recorded_at.0,
        };
        self.store
            .commit(&stored_entries, &state_writes(changes, &new_head))?;
        Ok(appended)
    }

    /// Enrols a public key under a name and role (a `key.enrolled` statement by an admin).
    pub fn enroll_key(
        &self,
        admin: &SecretKey,
        public: &PublicKey,
        name: &str,
        role: Role,
    ) -> Result<Appended, LedgerError> {
        let payload = json!({"name": name, "role": role.name(), "public_key": public.to_string()});
        self.append_one(admin, EventType::KeyEnrolled, &payload)
    }

    /// Revokes the active key with this name (a `key.revoked` statement by an admin).
    pub fn revoke_key(
        &self,
        admin: &SecretKey,
        name: &str,
        reason: &str,
    ) -> Result<Appended, LedgerError> {
        let public = StoredState(&self.store)
            .active_key_named(name)?
            .ok_or_else(|| LedgerError::NoSuchKey(name.to_string()))?;
        let payload = json!({"name": name, "public_key": public.to_string(), "reason": reason});
        self.append_one(admin, EventType::KeyRevoked, &payload)
    }

    pub fn append_one(
        &self,
        key: &SecretKey,
        event_type: EventType,
        payload: &Value,
    ) -> Result<Appended, LedgerError> {
        let event = EventInput {
            line: None,
            event_type: event_type.name().to_string(),
            payload: serde_json::to_vec(payload).expect("JSON serializes"),
        };
        Ok(self.append(key, &[event])?[0])
    }

    /// Every key ever enrolled, in order of enrolment.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, LedgerError> {
        let mut keys = self
            .store
            .state_with_prefix(&[KEY_PREFIX])?
            .into_iter()
            .map(|(_, bytes)| {
                bincode::deserialize::<KeyRecord>(&bytes)
                    .map_err(|e| LedgerError::State(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| k.enrolled_seq);
        Ok(keys)
    }

    /// The decoded entry at `seq` and its hash.
    pub fn entry(&self, seq: u64) -> Result<Option<(Entry, Hash)>, LedgerError> {
        match self.store.entry(seq)? {
            None => Ok(None),
            Some(bytes) => decode_stored(seq, &bytes).map(Some),
        }
    }

    /// Decoded entries in seq order from `from`, each with its hash.
    pub fn entries(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(Entry, Hash), LedgerError>> + '_ {
        self.store.entries(from).map(|item| {
            let (seq, bytes) = item?;
            decode_stored(seq, &bytes)
        })
    }

    /// The ledger's origin, from its genesis entry.
    pub fn origin(&self) -> Result<Option<String>, LedgerError> {
        let Some((genesis, _)) = self.entry(0)? else {
            return Ok(None);
        };
        let payload: Value =
            serde_json::from_slice(&genesis.statement.payload).unwrap_or(Value::Null);
        Ok(payload
            .get("origin")
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// The full audit (see [`crate::verify`]); each problem is passed to `on_problem` as found.
    pub fn verify(&self, on_problem: impl FnMut(&Problem)) -> Result<Report, LedgerError> {
        let recorded_head: Option<Head> = StoredState(&self.store).get(HEAD_KEY).unwrap_or(None);
        Ok(verify::verify(
            &self.store,
            &self.schemas,
            recorded_head.map(|h| (h.seq, h.hash)),
            on_problem,
        )?)
    }
}

fn decode_stored(seq: u64, bytes: &[u8]) -> Result<(Entry, Hash), LedgerError> {
    let entry = Entry::decode(bytes).map_err(|e| LedgerError::Damaged {
        seq,
        reason: format!("its entry does not decode: {e}"),
    })?;
    Ok((entry, entry_hash(bytes)))
}
