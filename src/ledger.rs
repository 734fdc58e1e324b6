//! The façade every caller goes through: create and open a ledger, append a batch of events
//! (validate → check rules → sign → chain → store, all or nothing, durable before it returns),
//! and read entries back.
//!
//! It keeps the derived state ([`crate::state`]) in step with the log on every append, and
//! rebuilds it from the log on request ([`Ledger::reindex`]); verify never uses that state. It
//! never prints or parses command-line arguments.

use crate::entry::{entry_hash, Entry, ZERO_HASH};
use crate::event::{EventType, Role};
use crate::input::EventInput;
use crate::keys::{PublicKey, SecretKey};
use crate::merkle::Hash;
use crate::payload::{Genesis, KeyEnrolled, KeyRevoked, Payload, PayloadError};
use crate::rules::{AdmitError, KeyRecord, RuleState, RuleViolation, StateLookup};
use crate::schema::{PayloadRefusal, SchemaError, Schemas};
use crate::state::{self, DamagedState, StateError, StateReader};
use crate::statement::{seal_all, Statement, MAX_PAYLOAD_BYTES};
use crate::store::{SledStore, Store, StoreError};
use crate::time::Timestamp;
use crate::verify::{self, EntryProblem, Problem, Report};
use crate::DecodeError;
use rayon::prelude::*;
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use crate::state::Head;

/// Why one event of a batch was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("unknown event type {0:?}; the types are: {types}", types = EventType::ALL.map(super::event::EventType::name).join(", "))]
    UnknownType(String),
    #[error("data is {0} bytes, over the limit of {MAX_PAYLOAD_BYTES}; large material is anchored by its hash instead")]
    TooLarge(usize),
    #[error("data is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error("incident {id} is reported twice in this batch{}", line.map(|l| format!(" (first on line {l})")).unwrap_or_default())]
    DuplicateInBatch { id: String, line: Option<usize> },
}

/// A refused event, named by its input line and type.
#[derive(Debug)]
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
    Rejected(Box<Rejection>),
    #[error("the ledger is damaged at seq {seq}: {reason}")]
    Damaged { seq: u64, reason: String },
    #[error("the ledger is damaged at seq {seq}: {problem}")]
    DamagedEntry {
        seq: u64,
        problem: Box<EntryProblem>,
    },
    #[error("the ledger's derived state is damaged")]
    DamagedState(#[source] DamagedState),
    #[error("the schemas built into this program do not load")]
    Schemas(#[source] SchemaError),
    #[error("no active key is named {0}")]
    NoSuchKey(String),
    #[error("nothing to append")]
    EmptyBatch,
}

impl LedgerError {
    /// The seq of the entry at which the log itself is damaged, if that is what this is.
    pub fn damaged_seq(&self) -> Option<u64> {
        match self {
            LedgerError::Damaged { seq, .. } | LedgerError::DamagedEntry { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

impl From<StateError> for LedgerError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Store(e) => LedgerError::Store(e),
            StateError::Damaged(e) => LedgerError::DamagedState(e),
        }
    }
}

fn undecodable(seq: u64, e: DecodeError) -> LedgerError {
    LedgerError::DamagedEntry {
        seq,
        problem: Box::new(EntryProblem::Undecodable(e)),
    }
}

/// Where an appended event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: Hash,
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
        let admin_public_key = admin.public().to_string();
        let genesis = Payload::Genesis(Genesis {
            origin: origin.into(),
            admin_name: admin_name.into(),
            admin_public_key: admin_public_key.into(),
        });
        let genesis = event_input(&genesis)?;
        // Check the genesis before creating anything, so that a refused one leaves no directory.
        Self::check(&schemas, &genesis).map_err(|refusal| Self::rejection(&genesis, refusal))?;
        let ledger = Ledger {
            store: SledStore::create(dir)?,
            schemas,
        };
        let genesis = ledger.append(admin, &[genesis])?;
        let genesis = genesis.into_iter().next().ok_or(LedgerError::EmptyBatch)?;
        Ok((ledger, genesis))
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
        LedgerError::Rejected(Box::new(Rejection {
            line: event.line,
            event_type: event.event_type.clone(),
            refusal,
        }))
    }

    fn check<'e>(schemas: &Schemas, event: &'e EventInput) -> Result<Payload<'e>, Refusal> {
        let event_type = EventType::parse(&event.event_type)
            .ok_or_else(|| Refusal::UnknownType(event.event_type.clone()))?;
        if event.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Refusal::TooLarge(event.payload.len()));
        }
        schemas
            .check(
                event_type,
                event_type.current_schema_version(),
                &event.payload,
            )
            .map_err(|refusal| match refusal {
                PayloadRefusal::Json(e) => Refusal::Json(e),
                PayloadRefusal::Schema(e) => Refusal::Schema(e),
                PayloadRefusal::Payload(e) => Refusal::Payload(e),
            })
    }

    /// The last entry as stored, checked against the head record append keeps beside it.
    pub fn head(&self) -> Result<Option<Head>, LedgerError> {
        let Some((seq, bytes)) = self.store.last_entry()? else {
            return Ok(None);
        };
        let head = stored_head(seq, &bytes)?;
        let recorded = StateReader(&self.store).head()?;
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
        let mut checked: Vec<Result<Payload, Refusal>> =
            events.par_iter().map(|e| Self::check(schemas, e)).collect();
        // A payload that keeps its schema but not its type is named only when no event of the
        // batch breaks a schema, as when the whole batch was validated before any was typed.
        let refused = checked
            .iter()
            .position(|r| matches!(r, Err(refusal) if !matches!(refusal, Refusal::Payload(_))))
            .or_else(|| checked.iter().position(Result::is_err));
        if let Some(i) = refused {
            if let Err(refusal) = checked.swap_remove(i) {
                return Err(Self::rejection(&events[i], refusal));
            }
        }
        let payloads: Vec<Payload> = checked.into_iter().flatten().collect();

        let head = self.head()?;
        let first_seq = match head {
            None => 0,
            Some(head) => head.seq.checked_add(1).ok_or(LedgerError::Damaged {
                seq: head.seq,
                reason: "the last entry has the highest seq there can be".into(),
            })?,
        };
        let author = key.public();
        let stored = StateReader(&self.store);
        let mut rules = RuleState::new(&stored);
        for (i, (payload, event)) in payloads.iter().zip(events).enumerate() {
            rules
                .admit(first_seq + i as u64, &author, payload)
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
                    AdmitError::Lookup(e) => e.into(),
                    AdmitError::Inconsistent(e) => LedgerError::DamagedState(e.into()),
                })?;
        }
        let changes = rules.changes;

        let claimed_at = Timestamp::now();
        let statements: Vec<Statement> = payloads
            .iter()
            .zip(events)
            .map(|(payload, event)| Statement {
                event_type: payload.event_type().name().to_string(),
                schema_version: payload.event_type().current_schema_version(),
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
        let new_head = Head {
            seq: first_seq + events.len() as u64 - 1,
            hash: prev,
            recorded_at: recorded_at.0,
        };
        self.store
            .commit(&stored_entries, &state::writes(changes, &new_head))?;
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
        let public_key = public.to_string();
        let payload = Payload::KeyEnrolled(KeyEnrolled {
            name: name.into(),
            role,
            public_key: public_key.into(),
        });
        self.append_one(admin, &payload)
    }

    /// Revokes the active key with this name (a `key.revoked` statement by an admin).
    pub fn revoke_key(
        &self,
        admin: &SecretKey,
        name: &str,
        reason: &str,
    ) -> Result<Appended, LedgerError> {
        let public = StateReader(&self.store)
            .active_key_named(name)?
            .ok_or_else(|| LedgerError::NoSuchKey(name.to_string()))?;
        let public_key = public.to_string();
        let payload = Payload::KeyRevoked(KeyRevoked {
            name: name.into(),
            public_key: public_key.into(),
            reason: reason.into(),
        });
        self.append_one(admin, &payload)
    }

    /// Appends one event the caller has built as a typed payload.
    pub fn append_one(&self, key: &SecretKey, payload: &Payload) -> Result<Appended, LedgerError> {
        let appended = self.append(key, &[event_input(payload)?])?;
        appended.into_iter().next().ok_or(LedgerError::EmptyBatch)
    }

    /// Every key ever enrolled, in order of enrolment.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, LedgerError> {
        Ok(StateReader(&self.store).keys()?)
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
        match Payload::parse(EventType::LedgerGenesis, &genesis.statement.payload) {
            Ok(Payload::Genesis(genesis)) => Ok(Some(genesis.origin.into_owned())),
            Ok(_) => Ok(None),
            Err(e) => Err(LedgerError::DamagedEntry {
                seq: 0,
                problem: Box::new(EntryProblem::Payload(e)),
            }),
        }
    }

    /// The full audit (see [`crate::verify`]); each problem is passed to `on_problem` as found,
    /// and the audit stops early when it answers `Break`.
    pub fn verify(
        &self,
        on_problem: impl FnMut(&Problem) -> std::ops::ControlFlow<()>,
    ) -> Result<Report, LedgerError> {
        // The head record only adds problems (a shortened log); one that does not read is none.
        let recorded_head = StateReader(&self.store).head().ok().flatten();
        Ok(verify::verify(
            &self.store,
            &self.schemas,
            recorded_head.map(|h| (h.seq, h.hash)),
            on_problem,
        )?)
    }

    /// Rebuilds all derived state from the log: audits it from seq 0 as `verify` does and, if
    /// it finds no problem, replaces the stored state (and the head record) with the rule state
    /// the audit folded, in one write. A log with any problem is refused with the first one,
    /// among them a log that no longer ends where the head record says, so that a rebuild never
    /// hides entries removed or changed at the end.
    pub fn reindex(&self) -> Result<Reindexed, LedgerError> {
        let recorded_head = StateReader(&self.store).head().ok().flatten();
        let mut first_problem = None;
        let (report, changes) = verify::audit(
            &self.store,
            &self.schemas,
            recorded_head.map(|h| (h.seq, h.hash)),
            |problem| {
                first_problem = Some(problem.clone());
                std::ops::ControlFlow::Break(())
            },
        )?;
        if let Some(Problem { seq, reason }) = first_problem {
            return Err(LedgerError::Damaged { seq, reason });
        }
        // A log that audits clean has its genesis at least.
        let Some((last_seq, last_bytes)) = self.store.last_entry()? else {
            return Err(LedgerError::Damaged {
                seq: 0,
                reason: "the log is empty: there is no genesis entry".into(),
            });
        };
        let head = stored_head(last_seq, &last_bytes)?;
        self.store.replace_state(&state::writes(changes, &head))?;
        Ok(Reindexed {
            entries: report.entries,
            keys: report.keys,
            incidents: report.incidents,
        })
    }
}

/// The input of an event built as a typed payload.
fn event_input(payload: &Payload) -> Result<EventInput, LedgerError> {
    let event_type = payload.event_type().name().to_string();
    match payload.to_bytes() {
        Ok(payload) => Ok(EventInput {
            line: None,
            event_type,
            payload,
        }),
        Err(e) => Err(LedgerError::Rejected(Box::new(Rejection {
            line: None,
            event_type,
            refusal: Refusal::Json(e),
        }))),
    }
}

/// What [`Ledger::reindex`] rebuilt its state from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reindexed {
    pub entries: u64,
    pub keys: usize,
    pub incidents: usize,
}

/// The head as the stored entry `bytes` at `seq` make it.
fn stored_head(seq: u64, bytes: &[u8]) -> Result<Head, LedgerError> {
    let entry = Entry::decode(bytes).map_err(|e| undecodable(seq, e))?;
    Ok(Head {
        seq,
        hash: entry_hash(bytes),
        recorded_at: entry.recorded_at.0,
    })
}

fn decode_stored(seq: u64, bytes: &[u8]) -> Result<(Entry, Hash), LedgerError> {
    let entry = Entry::decode(bytes).map_err(|e| undecodable(seq, e))?;
    Ok((entry, entry_hash(bytes)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::StateKey;
    use serde_json::json;

    /// A new ledger in `dir/ledger` with its admin and an investigator enrolled as `inv`.
    pub(crate) fn with_investigator(dir: &Path) -> (Ledger, SecretKey, SecretKey) {
        let admin = SecretKey::from_seed([1; 32], None);
        let investigator = SecretKey::from_seed([2; 32], None);
        let (ledger, _) = Ledger::create(&dir.join("ledger"), &admin, "admin", "test").unwrap();
        ledger
            .enroll_key(&admin, &investigator.public(), "inv", Role::Investigator)
            .unwrap();
        (ledger, admin, investigator)
    }

    /// [`with_investigator`], and one incident reported.
    fn ledger_with_incident(dir: &Path) -> (Ledger, SecretKey, SecretKey) {
        let (ledger, admin, investigator) = with_investigator(dir);
        let report = json!({"incident_id": "x-1", "event_date": "2023-01-05",
                            "event_type": "Battles", "actor1": "A", "fatalities": 1});
        ledger
            .append_one(
                &investigator,
                &Payload::from_value(EventType::IncidentReported, &report).unwrap(),
            )
            .unwrap();
        (ledger, admin, investigator)
    }

    fn all_state(ledger: &Ledger) -> Vec<(Vec<u8>, Vec<u8>)> {
        ledger.store().state_with_prefix(b"").unwrap()
    }

    #[test]
    fn a_name_whose_key_record_is_lost_is_damaged_state_and_reindex_repairs_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, admin, investigator) = ledger_with_incident(tmp.path());
        let key = investigator.public();
        ledger
            .store()
            .commit(&[], &[(StateKey::Key(&key).bytes(), None)])
            .unwrap();

        let err = ledger.revoke_key(&admin, "inv", "left").unwrap_err();
        assert!(matches!(err, LedgerError::DamagedState(_)), "{err}");

        let reindexed = ledger.reindex().unwrap();
        assert_eq!(
            (reindexed.entries, reindexed.keys, reindexed.incidents),
            (3, 2, 1)
        );
        ledger.revoke_key(&admin, "inv", "left").unwrap();
    }

    #[test]
    fn reindex_rebuilds_exactly_what_appends_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, ..) = ledger_with_incident(tmp.path());
        let before = all_state(&ledger);
        let garbage = (StateKey::Incident("x-1").bytes(), Some(b"\xff".to_vec()));
        let stray = (StateKey::Incident("never-reported").bytes(), Some(vec![0]));
        ledger.store().commit(&[], &[garbage, stray]).unwrap();
        assert_ne!(all_state(&ledger), before);

        ledger.reindex().unwrap();
        assert_eq!(all_state(&ledger), before);
    }

    #[test]
    fn reindex_refuses_a_log_that_no_longer_ends_at_the_head() {
        let tmp = tempfile::tempdir().unwrap();
        let (ledger, ..) = ledger_with_incident(tmp.path());
        let head = ledger.head().unwrap().unwrap();
        let moved = Head {
            seq: head.seq + 1,
            ..head
        };
        let head_write = (StateKey::Head.bytes(), Some(state::encode(&moved)));
        ledger.store().commit(&[], &[head_write]).unwrap();

        let err = ledger.reindex().unwrap_err();
        assert_eq!(err.damaged_seq(), Some(moved.seq), "{err}");
    }
}
