//! Who may state what, and what may follow what: key enrolment, roles and revocation as of each
//! seq, and the incident rules (an id is reported once; a correction or retraction names an
//! existing incident that is not retracted; a retraction is final).
//!
//! The rules are one fold, [`RuleState::admit`], shared by append (over the stored state plus
//! the batch so far) and by verify (over nothing but the entries it has read). It never reads
//! storage itself: state it has not seen comes through [`StateLookup`].

use crate::event::{EventType, Role};
use crate::keys::PublicKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    #[error(
        "key {key} is not enrolled in this ledger; an admin must enrol it with `ledger key enroll`"
    )]
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
    #[error("{0}")]
    BadKey(String),
    #[error("incident {id} was already reported at seq {seq}; correct it with incident.corrected instead")]
    DuplicateIncident { id: String, seq: u64 },
    #[error("incident {id} has not been reported")]
    UnknownIncident { id: String },
    #[error("incident {id} was retracted at seq {seq}; a retraction is final")]
    RetractedIncident { id: String, seq: u64 },
    #[error("sub_event_type {sub_event_type:?} does not belong to event_type {event_type:?}")]
    SubEventTypeMismatch {
        event_type: String,
        sub_event_type: String,
    },
}

/// ACLED's event types and their sub-event types (the schemas say the same for a report; a
/// correction can change one without the other, so the pair is checked here too).
pub const SUB_EVENT_TYPES: [(&str, &[&str]); 6] = [
    (
        "Battles",
        &[
            "Government regains territory",
            "Non-state actor overtakes territory",
            "Armed clash",
        ],
    ),
    (
        "Protests",
        &[
            "Excessive force against protesters",
            "Protest with intervention",
            "Peaceful protest",
        ],
    ),
    ("Riots", &["Violent demonstration", "Mob violence"]),
    (
        "Explosions/Remote violence",
        &[
            "Chemical weapon",
            "Air/drone strike",
            "Suicide bomb",
            "Shelling/artillery/missile attack",
            "Remote explosive/landmine/IED",
            "Grenade",
        ],
    ),
    (
        "Violence against civilians",
        &[
            "Sexual violence",
            "Attack",
            "Abduction/forced disappearance",
        ],
    ),
    (
        "Strategic developments",
        &[
            "Agreement",
            "Arrests",
            "Change to group/activity",
            "Disrupted weapons use",
            "Headquarters or base established",
            "Looting/property destruction",
            "Non-violent transfer of territory",
            "Other",
        ],
    ),
];

fn sub_event_type_belongs(event_type: &str, sub_event_type: &str) -> bool {
    SUB_EVENT_TYPES
        .iter()
        .any(|(t, subs)| *t == event_type && subs.contains(&sub_event_type))
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

/// Either a rule was broken or the state could not be read.
#[derive(Debug)]
pub enum AdmitError<E> {
    Violation(RuleViolation),
    Lookup(E),
}

impl<E> From<RuleViolation> for AdmitError<E> {
    fn from(v: RuleViolation) -> Self {
        AdmitError::Violation(v)
    }
}

fn text<'v>(payload: &'v Value, field: &str) -> &'v str {
    // Payloads reach the rules only after schema validation, which requires these fields.
    payload.get(field).and_then(Value::as_str).unwrap_or("")
}

fn payload_key(payload: &Value, field: &str) -> Result<PublicKey, RuleViolation> {
    let key =
        PublicKey::parse(text(payload, field)).map_err(|e| RuleViolation::BadKey(e.to_string()))?;
    key.verifying_key()
        .map_err(|e| RuleViolation::BadKey(e.to_string()))?;
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

    /// Checks that `author` may state `event_type` at `seq` and that the payload keeps the
    /// rules; if so, records its effect. The payload has already passed its schema.
    pub fn admit(
        &mut self,
        seq: u64,
        author: &PublicKey,
        event_type: EventType,
        payload: &Value,
    ) -> Result<(), AdmitError<L::Error>> {
        self.authorize(seq, author, event_type)?;
        match event_type {
            EventType::LedgerGenesis => {
                let admin = payload_key(payload, "admin_public_key")?;
                if admin != *author {
                    return Err(RuleViolation::GenesisNotSelfSigned.into());
                }
                self.enrol(seq, admin, text(payload, "admin_name"), Role::Admin)?;
            }
            EventType::KeyEnrolled => {
                let key = payload_key(payload, "public_key")?;
                let role = Role::parse(text(payload, "role")).unwrap_or(Role::Auditor);
                self.enrol(seq, key, text(payload, "name"), role)?;
            }
            EventType::KeyRevoked => {
                let name = text(payload, "name");
                let stated = payload_key(payload, "public_key")?;
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
                let mut record = self
                    .key(&actual)
                    .map_err(AdmitError::Lookup)?
                    .expect("an active name has a key record");
                record.revoked_seq = Some(seq);
                self.changes.keys.insert(actual, record);
                self.changes.names.insert(name.to_string(), None);
            }
            EventType::IncidentReported => {
                let id = text(payload, "incident_id");
                if let Some(existing) = self.incident(id).map_err(AdmitError::Lookup)? {
                    return Err(RuleViolation::DuplicateIncident {
                        id: id.to_string(),
                        seq: existing.reported_seq,
                    }
                    .into());
                }
                let record = IncidentRecord {
                    event_type: text(payload, "event_type").to_string(),
                    sub_event_type: payload
                        .get("sub_event_type")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    reported_seq: seq,
                    retracted_seq: None,
                };
                self.check_sub_event_type(&record)?;
                self.changes.incidents.insert(id.to_string(), record);
            }
            EventType::IncidentCorrected => {
                let (id, mut record) = self.standing_incident(payload)?;
                let changes = payload.get("changes");
                if let Some(event_type) = changes
                    .and_then(|c| c.get("event_type"))
                    .and_then(Value::as_str)
                {
                    record.event_type = event_type.to_string();
                }
                if let Some(sub) = changes.and_then(|c| c.get("sub_event_type")) {
                    record.sub_event_type = sub.as_str().map(str::to_string);
                }
                self.check_sub_event_type(&record)?;
                self.changes.incidents.insert(id, record);
            }
            EventType::IncidentRetracted => {
                let (id, mut record) = self.standing_incident(payload)?;
                record.retracted_seq = Some(seq);
                self.changes.incidents.insert(id, record);
            }
            EventType::EvidenceAnchored => {
                self.standing_incident(payload)?;
            }
            EventType::AccordStatusChanged | EventType::MandateChanged => {}
        }
        Ok(())
    }

    fn authorize(
        &self,
        seq: u64,
        author: &PublicKey,
        event_type: EventType,
    ) -> Result<(), AdmitError<L::Error>> {
        match (seq, event_type) {
            (0, EventType::LedgerGenesis) => return Ok(()),
            (0, other) => {
                return Err(RuleViolation::MissingGenesis {
                    found: other.to_string(),
                }
                .into())
            }
            (_, EventType::LedgerGenesis) => return Err(RuleViolation::LateGenesis.into()),
            _ => {}
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
        let needed = event_type
            .permitted_role()
            .expect("only the genesis has no role, handled above");
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
    fn standing_incident(
        &self,
        payload: &Value,
    ) -> Result<(String, IncidentRecord), AdmitError<L::Error>> {
        let id = text(payload, "incident_id");
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
        Ok((id.to_string(), record))
    }

    fn check_sub_event_type(&self, record: &IncidentRecord) -> Result<(), RuleViolation> {
        match &record.sub_event_type {
            Some(sub) if !sub_event_type_belongs(&record.event_type, sub) => {
                Err(RuleViolation::SubEventTypeMismatch {
                    event_type: record.event_type.clone(),
                    sub_event_type: sub.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}
