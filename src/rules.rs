//! Who may state what, and what may follow what: key enrolment, roles and revocation as of each
//! seq, and the incident rules (an id is reported once; a correction or retraction names an
//! existing incident that is not retracted; a retraction is final).
//!
//! The rules are one fold, [`RuleState::admit`], shared by append (over the stored state plus
//! the batch so far) and by verify (over nothing but the entries it has read). It never reads
//! storage itself: state it has not seen comes through [`StateLookup`].

use crate::event::{EventType, Role};
use crate::keys::PublicKey;
use crate::payload::Payload;
use crate::taxonomy;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub name: String,
    pub role: Role,
    pub public_key: [u8; 32],
    pub enrolled_seq: u64,
    pub revoked_seq: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub event_type: String,
    pub sub_event_type: Option<String>,
    pub reported_seq: u64,
    pub retracted_seq: Option<u64>,
}

/// State the rules need but have not seen in this fold (for append: what is stored).
pub trait StateLookup {
    type Error;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, Self::Error>;
    fn active_key_named(&self, name: &str) -> Result<Option<PublicKey>, Self::Error>;
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, Self::Error>;
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
    #[error("sub_event_type \"{sub_event_type}\" does not belong to event_type \"{event_type}\"")]
    SubEventTypeMismatch {
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
    pub incidents: HashMap<String, IncidentRecord>,
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
            Some(record) => Ok(Some(record.clone())),
            None => self.base.incident(id),
        }
    }

    /// Checks that `author` may state `payload` at `seq` and that it keeps the rules; if so,
    /// records its effect. The payload has already passed its schema.
    pub fn admit(
        &mut self,
        seq: u64,
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
                let record = IncidentRecord {
                    event_type: report.event_type.to_string(),
                    sub_event_type: report.sub_event_type.as_deref().map(str::to_string),
                    reported_seq: seq,
                    retracted_seq: None,
                };
                check_sub_event_type(&record)?;
                self.changes.incidents.insert(id.to_string(), record);
            }
            Payload::IncidentCorrected(correction) => {
                let mut record = self.standing_incident(&correction.incident_id)?;
                let changes = &correction.changes;
                if let Some(event_type) = &changes.event_type {
                    record.event_type = event_type.to_string();
                }
                if let Some(sub) = &changes.sub_event_type {
                    record.sub_event_type = sub.as_deref().map(str::to_string);
                }
                check_sub_event_type(&record)?;
                self.changes
                    .incidents
                    .insert(correction.incident_id.to_string(), record);
            }
            Payload::IncidentRetracted(retraction) => {
                let mut record = self.standing_incident(&retraction.incident_id)?;
                record.retracted_seq = Some(seq);
                self.changes
                    .incidents
                    .insert(retraction.incident_id.to_string(), record);
            }
            Payload::EvidenceAnchored(evidence) => {
                self.standing_incident(&evidence.incident_id)?;
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
        let record = self
            .key(author)
            .map_err(AdmitError::Lookup)?
            .ok_or(RuleViolation::UnknownKey { key: *author })?;
        if let Some(revoked_seq) = record.revoked_seq {
            return Err(RuleViolation::RevokedKey {
                name: record.name,
                key: *author,
                revoked_seq,
            }
            .into());
        }
        if record.role != needed {
            return Err(RuleViolation::WrongRole {
                name: record.name,
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

    /// The incident a correction, retraction or evidence names, which must exist and stand.
    fn standing_incident(&self, id: &str) -> Result<IncidentRecord, AdmitError<L::Error>> {
        let record = self
            .incident(id)
            .map_err(AdmitError::Lookup)?
            .ok_or_else(|| RuleViolation::UnknownIncident { id: id.to_string() })?;
        if let Some(seq) = record.retracted_seq {
            return Err(RuleViolation::RetractedIncident {
                id: id.to_string(),
                seq,
            }
            .into());
        }
        Ok(record)
    }
}

/// A correction can change the event type without the sub-event type or the other way round,
/// which the schemas cannot see; the pair is checked on the incident as it stands after.
fn check_sub_event_type(record: &IncidentRecord) -> Result<(), RuleViolation> {
    match &record.sub_event_type {
        Some(sub) if !taxonomy::belongs(&record.event_type, sub) => {
            Err(RuleViolation::SubEventTypeMismatch {
                event_type: record.event_type.clone(),
                sub_event_type: sub.clone(),
            })
        }
        _ => Ok(()),
    }
}
