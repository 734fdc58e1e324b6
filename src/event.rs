//! The closed set of event types, their schema versions and the role allowed to state each.
//!
//! Adding an event type means: a schema file in schemas/, a variant here, its rule in
//! [`crate::rules`], and the projections that care. Nothing here parses payloads or reads storage.

use std::fmt;

/// What an enrolled key may do. Roles are assigned by `key.enrolled` statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Investigator,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Investigator, Role::Auditor];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Investigator => "investigator",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    LedgerGenesis,
    KeyEnrolled,
    KeyRevoked,
    IncidentReported,
    IncidentCorrected,
    IncidentRetracted,
    IncidentWithdrawn,
    IncidentReinstated,
    EvidenceAnchored,
    EvidenceCustody,
    AccordStatusChanged,
    MandateChanged,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::LedgerGenesis,
        EventType::KeyEnrolled,
        EventType::KeyRevoked,
        EventType::IncidentReported,
        EventType::IncidentCorrected,
        EventType::IncidentRetracted,
        EventType::IncidentWithdrawn,
        EventType::IncidentReinstated,
        EventType::EvidenceAnchored,
        EventType::EvidenceCustody,
        EventType::AccordStatusChanged,
        EventType::MandateChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventType::LedgerGenesis => "ledger.genesis",
            EventType::KeyEnrolled => "key.enrolled",
            EventType::KeyRevoked => "key.revoked",
            EventType::IncidentReported => "incident.reported",
            EventType::IncidentCorrected => "incident.corrected",
            EventType::IncidentRetracted => "incident.retracted",
            EventType::IncidentWithdrawn => "incident.withdrawn",
            EventType::IncidentReinstated => "incident.reinstated",
            EventType::EvidenceAnchored => "evidence.anchored",
            EventType::EvidenceCustody => "evidence.custody",
            EventType::AccordStatusChanged => "accord.status_changed",
            EventType::MandateChanged => "mandate.changed",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The schema version new statements of this type are written with.
    pub fn current_schema_version(self) -> u16 {
        match self {
            // 2 adds how and where the file was captured; entries of version 1 keep it.
            EventType::EvidenceAnchored => 2,
            // 2 adds the datasets' date range, precision codes, fatality range and row
            // timestamp; entries of version 1 keep it.
            EventType::IncidentReported => 2,
            // 3 adds what a release states of fields a correction in the ledger overrides.
            EventType::IncidentCorrected => 3,
            _ => 1,
        }
    }

    /// The role whose keys may state this type; `None` for the genesis, which only the
    /// ledger's creation writes, at seq 0.
    pub fn permitted_role(self) -> Option<Role> {
        match self {
            EventType::LedgerGenesis => None,
            EventType::KeyEnrolled | EventType::KeyRevoked => Some(Role::Admin),
            EventType::IncidentReported
            | EventType::IncidentCorrected
            | EventType::IncidentRetracted
            | EventType::IncidentWithdrawn
            | EventType::IncidentReinstated
            | EventType::EvidenceAnchored
            | EventType::EvidenceCustody
            | EventType::AccordStatusChanged
            | EventType::MandateChanged => Some(Role::Investigator),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
