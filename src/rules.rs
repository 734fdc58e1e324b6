//! Who may state what, and what may follow what: key enrolment, roles and revocation as of each
//! seq (the last active admin key is never revoked, or no key could be enrolled again), the
//! incident rules (an id is reported once; a correction, withdrawal, reinstatement or
//! retraction names an existing incident that is not retracted; a retraction is final; only a
//! standing incident is withdrawn and only a withdrawn one reinstated; no event is dated after
//! the day its entry is recorded), and the evidence rules (a custody event or a conversion names evidence
//! anchored before it; disposal ends a file's chain of custody).
//!
//! The rules are one fold, [`RuleState::admit`], shared by append (over the stored state plus
//! the batch so far) and by verify (over nothing but the entries it has read). It never reads
//! storage itself: state it has not seen comes through [`StateLookup`].

use crate::event::{EventType, Role};
use crate::incident_changes::IncidentChanges;
use crate::keys::PublicKey;
use crate::payload::{CustodyAction, Payload};
use crate::taxonomy;
use crate::time::Timestamp;
use chrono::{DateTime, NaiveDate};
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::num::NonZeroU64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub name: String,
    pub role: Role,
    pub public_key: [u8; 32],
    pub enrolled_seq: u64,
    pub revoked_seq: Option<u64>,
}

/// An incident as the rules follow it: its ACLED categories and where it was reported, withdrawn
/// (while it is) and retracted. The categories are kept as their places in [`taxonomy::EVENT_TYPES`] (the names
/// are all a schema-valid payload can state), so that a fold over millions of incidents holds a
/// few machine words for each; it is stored with the names (docs/FORMAT.md, section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncidentRecord {
    category: Category,
    reported_seq: u64,
    /// Never 0: that seq is the genesis, and nothing else may be there.
    retracted_seq: Option<NonZeroU64>,
    /// Where it was last withdrawn, while it is; a reinstatement clears it.
    withdrawn_seq: Option<NonZeroU64>,
}

/// An event type and sub-event type, by their places in [`taxonomy::EVENT_TYPES`]: the event
/// type's index, and the sub-event type's as (its event type's index, its index there). The
/// sub-event type may belong to another event type than the incident's: the rules refuse that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Category {
    event_type: u8,
    sub_event_type: Option<(u8, u8)>,
}

impl Category {
    /// The places of an event type and a sub-event type given by name; `None` for a name that is
    /// not in the taxonomy.
    fn of(event_type: &str, sub_event_type: Option<&str>) -> Option<Category> {
        let event_type = taxonomy::EVENT_TYPES
            .iter()
            .position(|(t, _)| *t == event_type)?;
        let sub_event_type = match sub_event_type {
            None => None,
            Some(sub) => Some(Self::sub_place(sub)?),
        };
        Some(Category {
            event_type: u8::try_from(event_type).ok()?,
            sub_event_type,
        })
    }

    fn sub_place(sub_event_type: &str) -> Option<(u8, u8)> {
        taxonomy::EVENT_TYPES
            .iter()
            .enumerate()
            .find_map(|(t, (_, subs))| {
                let s = subs.iter().position(|s| *s == sub_event_type)?;
                Some((u8::try_from(t).ok()?, u8::try_from(s).ok()?))
            })
    }

    fn event_type(self) -> &'static str {
        taxonomy::EVENT_TYPES[usize::from(self.event_type)].0
    }

    fn sub_event_type(self) -> Option<&'static str> {
        self.sub_event_type
            .map(|(t, s)| taxonomy::EVENT_TYPES[usize::from(t)].1[usize::from(s)])
    }
}

impl IncidentRecord {
    pub fn event_type(&self) -> &'static str {
        self.category.event_type()
    }

    pub fn sub_event_type(&self) -> Option<&'static str> {
        self.category.sub_event_type()
    }

    pub fn reported_seq(&self) -> u64 {
        self.reported_seq
    }

    pub fn retracted_seq(&self) -> Option<u64> {
        self.retracted_seq.map(NonZeroU64::get)
    }

    pub fn withdrawn_seq(&self) -> Option<u64> {
        self.withdrawn_seq.map(NonZeroU64::get)
    }
}

/// An [`IncidentRecord`] as stored: the category names, then the seqs.
#[derive(Serialize, Deserialize)]
struct StoredIncident<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    sub_event_type: Option<Cow<'a, str>>,
    reported_seq: u64,
    retracted_seq: Option<u64>,
    withdrawn_seq: Option<u64>,
}

impl Serialize for IncidentRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredIncident {
            event_type: self.event_type().into(),
            sub_event_type: self.sub_event_type().map(Cow::from),
            reported_seq: self.reported_seq,
            retracted_seq: self.retracted_seq(),
            withdrawn_seq: self.withdrawn_seq(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IncidentRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = StoredIncident::deserialize(deserializer)?;
        let category = Category::of(&stored.event_type, stored.sub_event_type.as_deref())
            .ok_or_else(|| D::Error::custom("an incident category is not in the taxonomy"))?;
        let after_genesis = |seq: Option<u64>, what: &str| match seq {
            None => Ok(None),
            Some(seq) => NonZeroU64::new(seq)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("an incident is {what} at seq 0"))),
        };
        Ok(IncidentRecord {
            category,
            reported_seq: stored.reported_seq,
            retracted_seq: after_genesis(stored.retracted_seq, "retracted")?,
            withdrawn_seq: after_genesis(stored.withdrawn_seq, "withdrawn")?,
        })
    }
}

/// An anchored evidence file as the rules follow it, by its SHA-256: where it was first
/// anchored, and where its chain of custody ended, if it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub anchored_seq: u64,
    pub disposed_seq: Option<u64>,
}

/// State the rules need but have not seen in this fold (for append: what is stored).
pub trait StateLookup {
    type Error;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, Self::Error>;
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, Self::Error>;
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, Self::Error>;
    /// The evidence file whose SHA-256 is `sha256`.
    fn evidence(&self, sha256: &[u8; 32]) -> Result<Option<EvidenceRecord>, Self::Error>;
    /// Every key record (a ledger has tens; read only when an admin key is revoked).
    fn keys(&self) -> Result<Vec<KeyRecord>, Self::Error>;
}

/// Nothing stored: the start of a fold from seq 0.
pub struct Empty;

impl StateLookup for Empty {
    type Error = std::convert::Infallible;
    fn key(&self, _: &PublicKey) -> Result<Option<KeyRecord>, Self::Error> {
        Ok(None)
    }
    fn active_key_named(&self, _: &str) -> Result<Option<PublicKey>, Self::Error> {
        Ok(None)
    }
    fn incident(&self, _: &str) -> Result<Option<IncidentRecord>, Self::Error> {
        Ok(None)
    }
    fn evidence(&self, _: &[u8; 32]) -> Result<Option<EvidenceRecord>, Self::Error> {
        Ok(None)
    }
    fn keys(&self) -> Result<Vec<KeyRecord>, Self::Error> {
        Ok(Vec::new())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    #[error("the first entry (seq 0) must be a ledger.genesis, not {found}")]
    MissingGenesis { found: String },
    #[error("a ledger.genesis may only be the first entry (seq 0)")]
    LateGenesis,
    #[error("the genesis must be signed by the admin key it names")]
    GenesisNotSelfSigned,
    #[error("key {key} is not enrolled in this ledger")]
    UnknownKey { key: PublicKey },
    #[error("key {name} ({key}) was revoked at seq {revoked_seq}")]
    RevokedKey {
        name: String,
        key: PublicKey,
        revoked_seq: u64,
    },
    #[error("key {name} has the role {role}, but {event_type} needs an {needed} key")]
    WrongRole {
        name: String,
        role: Role,
        event_type: EventType,
        needed: Role,
    },
    #[error("key {key} is already enrolled (as {name} at seq {seq}); a key is enrolled once")]
    KeyAlreadyEnrolled {
        key: PublicKey,
        name: String,
        seq: u64,
    },
    #[error(
        "the name {name} is already used by an active key; revoke it first or choose another name"
    )]
    NameInUse { name: String },
    #[error("no active key is named {name}")]
    NoActiveKeyNamed { name: String },
    #[error("key {name} is the last active admin key, and without one no key could ever be enrolled again; enrol another admin key before revoking it")]
    LastAdmin { name: String },
    #[error("the key named {name} is {actual}, not {stated}")]
    RevokedKeyMismatch {
        name: String,
        actual: PublicKey,
        stated: PublicKey,
    },
    #[error(
        "public key {key} is not a usable Ed25519 key (it does not decode, or has small order)"
    )]
    UnusableKey { key: String },
    #[error("incident {id} was already reported at seq {seq}; correct it with incident.corrected instead")]
    DuplicateIncident { id: String, seq: u64 },
    #[error("incident {id} has not been reported")]
    UnknownIncident { id: String },
    #[error("incident {id} was retracted at seq {seq}; a retraction is final")]
    RetractedIncident { id: String, seq: u64 },
    #[error("incident {id} was already withdrawn at seq {seq}; reinstate it before withdrawing it again")]
    WithdrawnIncident { id: String, seq: u64 },
    #[error("incident {id} is not withdrawn, so it cannot be reinstated")]
    NotWithdrawn { id: String },
    #[error("sub_event_type \"{sub_event_type}\" does not belong to event_type \"{event_type}\"")]
    SubEventTypeMismatch {
        event_type: String,
        sub_event_type: String,
    },
    #[error("no evidence file with SHA-256 {sha256} has been anchored in this ledger")]
    UnknownEvidence { sha256: String },
    #[error("the evidence file with SHA-256 {sha256} was disposed of at seq {seq}; its chain of custody has ended")]
    DisposedEvidence { sha256: String, seq: u64 },
    #[error("incident {id} is dated {date}, after the day it was recorded ({recorded_on}, the latest date anywhere on Earth at {recorded_at}); an event cannot be dated in the future")]
    FutureEvent {
        id: String,
        date: String,
        recorded_on: String,
        recorded_at: Timestamp,
    },
    /// Only a payload that skipped its schema can name one.
    #[error("event_type \"{event_type}\" or sub_event_type \"{sub_event_type}\" is not an ACLED category")]
    UnknownCategory {
        event_type: String,
        sub_event_type: String,
    },
}

/// What a fold has changed relative to its [`StateLookup`]; append stores exactly this.
#[derive(Default, Debug)]
pub struct StateChanges {
    pub keys: HashMap<PublicKey, KeyRecord>,
    /// `None`: the name is free again (its key was revoked).
    pub names: HashMap<String, Option<PublicKey>>,
    pub incidents: IncidentChanges,
    pub evidence: HashMap<[u8; 32], EvidenceRecord>,
}

pub struct RuleState<'a, L: StateLookup> {
    base: &'a L,
    pub changes: StateChanges,
}

/// Either a rule was broken, or the state could not be read, or the state read contradicts
/// itself (a stored record is damaged; rebuilding the state from the log repairs it).
#[derive(Debug)]
pub enum AdmitError<E> {
    Violation(RuleViolation),
    Lookup(E),
    Inconsistent(Inconsistency),
}

/// Derived state that contradicts itself, which the fold alone never produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    #[error("the name {name} is held by key {key}, which has no key record")]
    NameWithoutKey { name: String, key: PublicKey },
    #[error(
        "the name {name} is held by key {key}, whose key record names {recorded} or is revoked"
    )]
    NameKeyMismatch {
        name: String,
        key: PublicKey,
        recorded: String,
    },
}

impl<E> From<RuleViolation> for AdmitError<E> {
    fn from(v: RuleViolation) -> Self {
        AdmitError::Violation(v)
    }
}

/// A public key as a payload states it, usable for verifying.
fn payload_key(text: &str) -> Result<PublicKey, RuleViolation> {
    let unusable = || RuleViolation::UnusableKey {
        key: text.to_string(),
    };
    let key = PublicKey::parse(text).map_err(|_| unusable())?;
    key.verifying_key().map_err(|_| unusable())?;
    Ok(key)
}

impl<'a, L: StateLookup> RuleState<'a, L> {
    pub fn new(base: &'a L) -> Self {
        RuleState {
            base,
            changes: StateChanges::default(),
        }
    }

    pub fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, L::Error> {
        match self.changes.keys.get(key) {
            Some(record) => Ok(Some(record.clone())),
            None => self.base.key(key),
        }
    }

    pub fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, L::Error> {
        match self.changes.names.get(name) {
            Some(key) => Ok(*key),
            None => self.base.active_key_named(name),
        }
    }

    pub fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, L::Error> {
        match self.changes.incidents.get(id) {
            Some(record) => Ok(Some(*record)),
            None => self.base.incident(id),
        }
    }

    /// Checks that `author` may state `payload` in the entry at `seq` recorded at `recorded_at`
    /// and that it keeps the rules; if so, records its effect. The payload has already passed
    /// its schema. An event dated in the future has its effect recorded before it is refused:
    /// its date says nothing of what it does to the state, so a fold that reports it (verify)
    /// does not go on to report every later entry about the incident.
    pub fn admit(
        &mut self,
        seq: u64,
        recorded_at: Timestamp,
        author: &PublicKey,
        payload: &Payload,
    ) -> Result<(), AdmitError<L::Error>> {
        self.authorize(seq, author, payload.event_type())?;
        match payload {
            Payload::Genesis(genesis) => {
                let admin = payload_key(&genesis.admin_public_key)?;
                if admin != *author {
                    return Err(RuleViolation::GenesisNotSelfSigned.into());
                }
                self.enrol(seq, admin, &genesis.admin_name, Role::Admin)?;
            }
            Payload::KeyEnrolled(enrolled) => {
                let key = payload_key(&enrolled.public_key)?;
                self.enrol(seq, key, &enrolled.name, enrolled.role)?;
            }
            Payload::KeyRevoked(revoked) => {
                let name = &*revoked.name;
                let stated = payload_key(&revoked.public_key)?;
                let actual = self
                    .active_key_named(name)
                    .map_err(AdmitError::Lookup)?
                    .ok_or_else(|| RuleViolation::NoActiveKeyNamed {
                        name: name.to_string(),
                    })?;
                if actual != stated {
                    return Err(RuleViolation::RevokedKeyMismatch {
                        name: name.to_string(),
                        actual,
                        stated,
                    }
                    .into());
                }
                let mut record =
                    self.key(&actual)
                        .map_err(AdmitError::Lookup)?
                        .ok_or_else(|| {
                            AdmitError::Inconsistent(Inconsistency::NameWithoutKey {
                                name: name.to_string(),
                                key: actual,
                            })
                        })?;
                // The name record and the key record are written together, so a name must
                // lead to an active key of that name; anything else is damage, and acting on it
                // would sign an entry that verify, which folds from the log, refuses.
                if record.name != name || record.revoked_seq.is_some() {
                    return Err(AdmitError::Inconsistent(Inconsistency::NameKeyMismatch {
                        name: name.to_string(),
                        key: actual,
                        recorded: record.name,
                    }));
                }
                if record.role == Role::Admin && !self.another_active_admin(&actual)? {
                    return Err(RuleViolation::LastAdmin {
                        name: name.to_string(),
                    }
                    .into());
                }
                record.revoked_seq = Some(seq);
                self.changes.keys.insert(actual, record);
                self.changes.names.insert(name.to_string(), None);
            }
            Payload::IncidentReported(report) => {
                let id = &*report.incident_id;
                if let Some(existing) = self.incident(id).map_err(AdmitError::Lookup)? {
                    return Err(RuleViolation::DuplicateIncident {
                        id: id.to_string(),
                        seq: existing.reported_seq,
                    }
                    .into());
                }
                let category = category(&report.event_type, report.sub_event_type.as_deref())?;
                let record = IncidentRecord {
                    category,
                    reported_seq: seq,
                    retracted_seq: None,
                    withdrawn_seq: None,
                };
                self.changes.incidents.insert(id, record);
                not_in_the_future(id, &report.event_date, recorded_at)?;
            }
            Payload::IncidentCorrected(correction) => {
                let id = &*correction.incident_id;
                let mut record = self.standing_incident(id)?;
                let changes = &correction.changes;
                let event_type = changes.event_type.as_deref().unwrap_or(record.event_type());
                let sub_event_type = match &changes.sub_event_type {
                    Some(sub) => sub.as_deref(),
                    None => record.sub_event_type(),
                };
                record.category = category(event_type, sub_event_type)?;
                self.changes.incidents.insert(id, record);
                if let Some(date) = &changes.event_date {
                    not_in_the_future(id, date, recorded_at)?;
                }
            }
            Payload::IncidentRetracted(retraction) => {
                let id = &*retraction.incident_id;
                let mut record = self.standing_incident(id)?;
                record.retracted_seq = NonZeroU64::new(seq);
                self.changes.incidents.insert(id, record);
            }
            Payload::IncidentWithdrawn(withdrawal) => {
                let id = &*withdrawal.incident_id;
                let mut record = self.standing_incident(id)?;
                if let Some(seq) = record.withdrawn_seq() {
                    return Err(RuleViolation::WithdrawnIncident {
                        id: id.to_string(),
                        seq,
                    }
                    .into());
                }
                record.withdrawn_seq = NonZeroU64::new(seq);
                self.changes.incidents.insert(id, record);
            }
            Payload::IncidentReinstated(reinstatement) => {
                let id = &*reinstatement.incident_id;
                let mut record = self.standing_incident(id)?;
                if record.withdrawn_seq.take().is_none() {
                    return Err(RuleViolation::NotWithdrawn { id: id.to_string() }.into());
                }
                self.changes.incidents.insert(id, record);
            }
            Payload::EvidenceAnchored(evidence) => {
                self.standing_incident(&evidence.incident_id)?;
                for original in evidence.derived_from.iter().flatten() {
                    self.held_evidence(original)?;
                }
                let sha256 = evidence_hash(&evidence.sha256)?;
                match self.evidence(&sha256).map_err(AdmitError::Lookup)? {
                    // Anchored again (to another incident, say): its chain goes on.
                    Some(record) => not_disposed(&evidence.sha256, record)?,
                    None => {
                        let record = EvidenceRecord {
                            anchored_seq: seq,
                            disposed_seq: None,
                        };
                        self.changes.evidence.insert(sha256, record);
                    }
                }
            }
            Payload::EvidenceCustody(custody) => {
                let (sha256, mut record) = self.held_evidence(&custody.sha256)?;
                if custody.action == CustodyAction::Disposed {
                    record.disposed_seq = Some(seq);
                    self.changes.evidence.insert(sha256, record);
                }
            }
            Payload::AccordStatusChanged(_) | Payload::MandateChanged(_) => {}
        }
        Ok(())
    }

    fn authorize(
        &self,
        seq: u64,
        author: &PublicKey,
        event_type: EventType,
    ) -> Result<(), AdmitError<L::Error>> {
        // Only the genesis has no role: it alone is the first entry, and nothing else is.
        let Some(needed) = event_type.permitted_role() else {
            return if seq == 0 {
                Ok(())
            } else {
                Err(RuleViolation::LateGenesis.into())
            };
        };
        if seq == 0 {
            return Err(RuleViolation::MissingGenesis {
                found: event_type.to_string(),
            }
            .into());
        }
        // Every entry is authorized: the fold's own record is read in place, not copied.
        let stored;
        let record = match self.changes.keys.get(author) {
            Some(record) => record,
            None => {
                stored = self.base.key(author).map_err(AdmitError::Lookup)?;
                stored
                    .as_ref()
                    .ok_or(RuleViolation::UnknownKey { key: *author })?
            }
        };
        if let Some(revoked_seq) = record.revoked_seq {
            return Err(RuleViolation::RevokedKey {
                name: record.name.clone(),
                key: *author,
                revoked_seq,
            }
            .into());
        }
        if record.role != needed {
            return Err(RuleViolation::WrongRole {
                name: record.name.clone(),
                role: record.role,
                event_type,
                needed,
            }
            .into());
        }
        Ok(())
    }

    fn enrol(
        &mut self,
        seq: u64,
        key: PublicKey,
        name: &str,
        role: Role,
    ) -> Result<(), AdmitError<L::Error>> {
        if let Some(existing) = self.key(&key).map_err(AdmitError::Lookup)? {
            return Err(RuleViolation::KeyAlreadyEnrolled {
                key,
                name: existing.name,
                seq: existing.enrolled_seq,
            }
            .into());
        }
        if self
            .active_key_named(name)
            .map_err(AdmitError::Lookup)?
            .is_some()
        {
            return Err(RuleViolation::NameInUse {
                name: name.to_string(),
            }
            .into());
        }
        let record = KeyRecord {
            name: name.to_string(),
            role,
            public_key: key.0,
            enrolled_seq: seq,
            revoked_seq: None,
        };
        self.changes.keys.insert(key, record);
        self.changes.names.insert(name.to_string(), Some(key));
        Ok(())
    }

    pub fn evidence(&self, sha256: &[u8; 32]) -> Result<Option<EvidenceRecord>, L::Error> {
        match self.changes.evidence.get(sha256) {
            Some(record) => Ok(Some(*record)),
            None => self.base.evidence(sha256),
        }
    }

    /// The evidence file a custody event or a conversion names, which must be anchored and not
    /// disposed of.
    fn held_evidence(
        &self,
        sha256_hex: &str,
    ) -> Result<([u8; 32], EvidenceRecord), AdmitError<L::Error>> {
        let sha256 = evidence_hash(sha256_hex)?;
        let record = self
            .evidence(&sha256)
            .map_err(AdmitError::Lookup)?
            .ok_or_else(|| RuleViolation::UnknownEvidence {
                sha256: sha256_hex.to_string(),
            })?;
        not_disposed(sha256_hex, record)?;
        Ok((sha256, record))
    }
    /// Whether an admin key other than `key` is active.
    fn another_active_admin(&self, key: &PublicKey) -> Result<bool, AdmitError<L::Error>> {
        let other_admin = |k: &KeyRecord| {
            k.role == Role::Admin && k.revoked_seq.is_none() && k.public_key != key.0
        };
        if self.changes.keys.values().any(other_admin) {
            return Ok(true);
        }
        // A stored record the fold has changed is as the fold left it, which was looked at above.
        let stored = self.base.keys().map_err(AdmitError::Lookup)?;
        Ok(stored
            .iter()
            .any(|k| other_admin(k) && !self.changes.keys.contains_key(&PublicKey(k.public_key))))
    }

    /// The incident a correction, withdrawal, reinstatement, retraction or evidence names, which
    /// must exist and not be retracted (a withdrawn one may still be corrected, retracted, or
    /// have evidence: its source may have it again).
    fn standing_incident(&self, id: &str) -> Result<IncidentRecord, AdmitError<L::Error>> {
        let record = self
            .incident(id)
            .map_err(AdmitError::Lookup)?
            .ok_or_else(|| RuleViolation::UnknownIncident { id: id.to_string() })?;
        if let Some(seq) = record.retracted_seq() {
            return Err(RuleViolation::RetractedIncident {
                id: id.to_string(),
                seq,
            }
            .into());
        }
        Ok(record)
    }
}

/// Refuses evidence whose chain of custody has ended.
fn not_disposed(sha256_hex: &str, record: EvidenceRecord) -> Result<(), RuleViolation> {
    match record.disposed_seq {
        Some(seq) => Err(RuleViolation::DisposedEvidence {
            sha256: sha256_hex.to_string(),
            seq,
        }),
        None => Ok(()),
    }
}

/// A SHA-256 as a payload states it (64 hex digits, which its schema requires); one that is not
/// names no evidence.
fn evidence_hash(hex_text: &str) -> Result<[u8; 32], RuleViolation> {
    let mut sha256 = [0; 32];
    hex::decode_to_slice(hex_text, &mut sha256).map_err(|_| RuleViolation::UnknownEvidence {
        sha256: hex_text.to_string(),
    })?;
    Ok(sha256)
}

/// The widest gap between UTC and a place's date: UTC+14 (Kiribati's Line Islands).
const EASTMOST_OFFSET_MICROS: i64 = 14 * 3600 * 1_000_000;

/// The day an entry is recorded, for dating events: the latest date anywhere on Earth at
/// `recorded_at`, since an event is dated where it happened and its day may have begun east of
/// UTC; `None` for an instant chrono cannot place.
fn recording_day(recorded_at: Timestamp) -> Option<NaiveDate> {
    let eastmost = recorded_at.0.checked_add(EASTMOST_OFFSET_MICROS)?;
    DateTime::from_timestamp_micros(eastmost).map(|t| t.date_naive())
}

/// An incident may not be dated after the day its entry is recorded. A date that does not read
/// is its schema's to refuse.
pub fn not_in_the_future(
    id: &str,
    date: &str,
    recorded_at: Timestamp,
) -> Result<(), RuleViolation> {
    match (crate::date::iso_date(date), recording_day(recorded_at)) {
        (Some(dated), Some(day)) if dated > day => Err(RuleViolation::FutureEvent {
            id: id.to_string(),
            date: date.to_string(),
            recorded_on: crate::date::iso_text(day),
            recorded_at,
        }),
        _ => Ok(()),
    }
}

/// The category an incident stands in after a report or a correction. A correction can change
/// the event type without the sub-event type or the other way round, which the schemas cannot
/// see; the pair is checked as the incident stands after.
fn category(event_type: &str, sub_event_type: Option<&str>) -> Result<Category, RuleViolation> {
    match sub_event_type {
        Some(sub) if !taxonomy::belongs(event_type, sub) => {
            Err(RuleViolation::SubEventTypeMismatch {
                event_type: event_type.to_string(),
                sub_event_type: sub.to_string(),
            })
        }
        _ => {
            Category::of(event_type, sub_event_type).ok_or_else(|| RuleViolation::UnknownCategory {
                event_type: event_type.to_string(),
                sub_event_type: sub_event_type.unwrap_or_default().to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microseconds of a UTC instant.
    fn at(rfc3339: &str) -> Timestamp {
        Timestamp(
            DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .timestamp_micros(),
        )
    }

    #[test]
    fn an_event_may_be_dated_as_late_as_the_latest_date_on_earth_when_it_is_recorded() {
        // At 10:00 UTC, 15 November has begun at UTC+14.
        let ten = at("2023-11-14T10:00:00Z");
        assert_eq!(not_in_the_future("x", "2023-11-15", ten), Ok(()));
        let Err(RuleViolation::FutureEvent { recorded_on, .. }) =
            not_in_the_future("x", "2023-11-16", ten)
        else {
            panic!("2023-11-16 is in the future at {ten}");
        };
        assert_eq!(recorded_on, "2023-11-15");
        // A microsecond earlier it has not.
        let before = Timestamp(ten.0 - 1);
        assert_eq!(not_in_the_future("x", "2023-11-14", before), Ok(()));
        assert!(not_in_the_future("x", "2023-11-15", before).is_err());
        // A date that does not read is the schema's to refuse.
        assert_eq!(not_in_the_future("x", "someday", ten), Ok(()));
    }
}
