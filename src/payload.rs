//! The typed model of every payload: one borrowed struct per event type, the [`Payload`] enum
//! over them, the list of incident fields ([`INCIDENT_FIELDS`]) and a one-line summary of each.
//!
//! The schemas ([`crate::schema`]) stay the authority on what is accepted; these structs read
//! every shape a schema accepts (tests check them against schemas/), so that code after
//! validation reads fields by name and type instead of looking strings up and defaulting. They
//! also refuse every wrong shape that typing can see (an unknown or repeated field, a null where
//! the schema has none, an array for an object, text after the payload), so that the schema
//! module can type a payload first and check the rest by hand. Strings borrow from the payload
//! where they can (`Cow`, since JSON text may hold escapes). It never validates ranges or
//! patterns, never decides what may follow what ([`crate::rules`]) and never touches storage.

use crate::event::{EventType, Role};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

mod scan;

type Text<'a> = Cow<'a, str>;

/// `ledger.genesis`: the ledger's origin and its first admin key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub origin: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub admin_name: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub admin_public_key: Text<'a>,
}

/// `key.enrolled`: a public key enrolled under a name and role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnrolled<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub name: Text<'a>,
    pub role: Role,
    #[serde(borrow, deserialize_with = "text")]
    pub public_key: Text<'a>,
}

/// `key.revoked`: the active key of a name revoked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoked<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub name: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub public_key: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub reason: Text<'a>,
}

/// The dataset row an incident was imported from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDataset<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub name: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub release: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub id: Text<'a>,
}

/// `incident.reported`: a conflict incident with ACLED's categories and fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentReported<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub event_date: Text<'a>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_date_end: Option<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_precision: Option<u64>,
    #[serde(borrow, deserialize_with = "text")]
    pub event_type: Text<'a>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_event_type: Option<Text<'a>>,
    #[serde(borrow, deserialize_with = "text")]
    pub actor1: Text<'a>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor2: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub assoc_actor_1: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin1: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin2: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin3: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub latitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub longitude: Option<f64>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub geo_precision: Option<u64>,
    #[serde(deserialize_with = "whole_number")]
    pub fatalities: u64,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fatalities_low: Option<u64>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fatalities_high: Option<u64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub sources: Option<Vec<Text<'a>>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notes: Option<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_timestamp: Option<u64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_dataset: Option<SourceDataset<'a>>,
}

/// A correction of a nullable field: absent (`None`), cleared (`Some(None)`) or set.
pub type Change<T> = Option<Option<T>>;

/// The fields an `incident.corrected` changes; those not named keep their value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentChanges<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_date: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_date_end: Change<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "present_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_precision: Change<u64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_event_type: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor1: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor2: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub assoc_actor_1: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin1: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin2: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub admin3: Change<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Change<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub latitude: Change<f64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub longitude: Change<f64>,
    #[serde(
        default,
        deserialize_with = "present_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub geo_precision: Change<u64>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fatalities: Option<u64>,
    #[serde(
        default,
        deserialize_with = "present_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fatalities_low: Change<u64>,
    #[serde(
        default,
        deserialize_with = "present_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fatalities_high: Change<u64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub sources: Change<Vec<Text<'a>>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub notes: Change<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "present_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_timestamp: Change<u64>,
    #[serde(
        borrow,
        default,
        deserialize_with = "present_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_dataset: Change<SourceDataset<'a>>,
}

/// `incident.corrected`: new values for some fields of a standing incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentCorrected<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "object")]
    pub changes: IncidentChanges<'a>,
    /// What a release states of fields whose correction in the ledger stands (version 3):
    /// recorded, never applied. Boxed: it would double the size of every payload.
    #[serde(
        borrow,
        default,
        deserialize_with = "some_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub contested: Option<Box<IncidentChanges<'a>>>,
    #[serde(borrow, deserialize_with = "text")]
    pub reason: Text<'a>,
}

/// `incident.retracted` (a standing incident taken back, for good), `incident.withdrawn` (one
/// its source no longer has, until it has it again) and `incident.reinstated` (a withdrawn one
/// that stands again): the incident, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentNotice<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub reason: Text<'a>,
}

/// `evidence.anchored`: an evidence file tied to an incident by its hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceAnchored<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub blake3: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub sha256: Text<'a>,
    #[serde(deserialize_with = "whole_number")]
    pub bytes: u64,
    #[serde(borrow, deserialize_with = "text")]
    pub media_type: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub filename: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub custody_note: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_url: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub capture_method: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub capture_tool: Option<Text<'a>>,
    /// The SHA-256 hashes of the files this one was converted or extracted from.
    #[serde(
        borrow,
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub derived_from: Option<Vec<Text<'a>>>,
}

/// `evidence.custody`: one event in an anchored evidence file's chain of custody.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceCustody<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub sha256: Text<'a>,
    pub action: CustodyAction,
    #[serde(borrow, deserialize_with = "text")]
    pub by: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub at: Text<'a>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub to: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Text<'a>>,
    #[serde(
        borrow,
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<Text<'a>>,
}

/// What happened to an evidence file in its chain of custody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustodyAction {
    Transferred,
    Copied,
    Analysed,
    /// The end of the chain: nothing may follow it.
    Disposed,
}

impl CustodyAction {
    pub const ALL: [CustodyAction; 4] = [
        CustodyAction::Transferred,
        CustodyAction::Copied,
        CustodyAction::Analysed,
        CustodyAction::Disposed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CustodyAction::Transferred => "transferred",
            CustodyAction::Copied => "copied",
            CustodyAction::Analysed => "analysed",
            CustodyAction::Disposed => "disposed",
        }
    }
}

/// `accord.status_changed`: a peace accord, or one of its provisions, changed status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccordStatusChanged<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub accord: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub provision: Option<Text<'a>>,
    #[serde(borrow, deserialize_with = "text")]
    pub status: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub effective_date: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text<'a>>,
}

/// `mandate.changed`: a Security Council resolution on a mission's mandate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MandateChanged<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub mission: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub resolution: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub action: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub adopted_date: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub mandate_until: Option<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub troop_ceiling: Option<u64>,
    #[serde(
        default,
        deserialize_with = "some_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub police_ceiling: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text<'a>>,
}

/// A schema-valid payload, typed by its event type. It serializes as its struct alone, with
/// fields in the schema's order and absent ones left out.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload<'a> {
    Genesis(Genesis<'a>),
    KeyEnrolled(KeyEnrolled<'a>),
    KeyRevoked(KeyRevoked<'a>),
    IncidentReported(IncidentReported<'a>),
    IncidentCorrected(IncidentCorrected<'a>),
    IncidentRetracted(IncidentNotice<'a>),
    IncidentWithdrawn(IncidentNotice<'a>),
    IncidentReinstated(IncidentNotice<'a>),
    EvidenceAnchored(EvidenceAnchored<'a>),
    EvidenceCustody(EvidenceCustody<'a>),
    AccordStatusChanged(AccordStatusChanged<'a>),
    MandateChanged(MandateChanged<'a>),
}

/// What a tally of incidents reads of an incident event: the incident, and of a report or a
/// correction the fields it counts by. Each field is read by the same reader as in the full
/// types above, and typed the same; every other field is passed over unread (a report's 360
/// bytes of notes not even checked as UTF-8), which made reading a report for `project regions`
/// cost a fraction of reading it whole. Unlike the full types it does not refuse an unknown
/// field: it is for the log, whose payloads their schemas checked when they were appended.
#[derive(Debug, PartialEq)]
pub enum Counts<'a> {
    Reported(ReportedCounts<'a>),
    Corrected(CorrectedCounts<'a>),
    Retracted(NamedCounts<'a>),
    Withdrawn(NamedCounts<'a>),
    Reinstated(NamedCounts<'a>),
}

/// Of an [`IncidentReported`], what a tally reads.
#[derive(Debug, PartialEq, Deserialize)]
pub struct ReportedCounts<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub event_date: Text<'a>,
    #[serde(borrow, deserialize_with = "text")]
    pub actor1: Text<'a>,
    #[serde(borrow, default, deserialize_with = "some_text")]
    pub admin1: Option<Text<'a>>,
    #[serde(deserialize_with = "whole_number")]
    pub fatalities: u64,
}

/// Of an [`IncidentCorrected`], what a tally reads.
#[derive(Debug, PartialEq, Deserialize)]
pub struct CorrectedCounts<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
    #[serde(borrow, deserialize_with = "object")]
    pub changes: ChangedCounts<'a>,
}

/// Of an [`IncidentChanges`], what a tally reads.
#[derive(Debug, PartialEq, Deserialize)]
pub struct ChangedCounts<'a> {
    #[serde(borrow, default, deserialize_with = "some_text")]
    pub event_date: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "some_text")]
    pub actor1: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present_text")]
    pub admin1: Change<Text<'a>>,
    #[serde(default, deserialize_with = "some_whole_number")]
    pub fatalities: Option<u64>,
}

/// Of an [`IncidentNotice`], what a tally reads.
#[derive(Debug, PartialEq, Deserialize)]
pub struct NamedCounts<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub incident_id: Text<'a>,
}

impl<'a> Counts<'a> {
    /// Reads the payload bytes of an event of `event_type`: `None` for an event that is not
    /// about an incident's standing, or a payload that does not read as its type. The usual
    /// payload is read by hand ([`scan`]); serde_json reads whatever that reader gives up on.
    pub fn parse(event_type: EventType, bytes: &'a [u8]) -> Option<Counts<'a>> {
        scan::counts(event_type, bytes).or_else(|| Self::parse_serde(event_type, bytes))
    }

    fn parse_serde(event_type: EventType, bytes: &'a [u8]) -> Option<Counts<'a>> {
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let counted = match event_type {
            EventType::IncidentReported => object(&mut json).map(Counts::Reported),
            EventType::IncidentCorrected => object(&mut json).map(Counts::Corrected),
            EventType::IncidentRetracted => object(&mut json).map(Counts::Retracted),
            EventType::IncidentWithdrawn => object(&mut json).map(Counts::Withdrawn),
            EventType::IncidentReinstated => object(&mut json).map(Counts::Reinstated),
            _ => return None,
        };
        json.end().ok()?;
        counted.ok()
    }
}

/// A payload that passed its schema but does not fit its type: the schema and the struct
/// disagree (or a whole number is beyond what 64 bits hold).
#[derive(Debug, thiserror::Error)]
#[error("the {event_type} payload does not fit its type")]
pub struct PayloadError {
    pub event_type: EventType,
    #[source]
    pub source: serde_json::Error,
}

impl<'a> Payload<'a> {
    /// Reads the payload bytes of an event of `event_type`.
    pub fn parse(event_type: EventType, bytes: &'a [u8]) -> Result<Payload<'a>, PayloadError> {
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let payload = Self::read(event_type, &mut json)?;
        json.end()
            .map_err(|source| PayloadError { event_type, source })?;
        Ok(payload)
    }

    /// Reads a payload already parsed for its schema, borrowing its strings.
    pub fn from_value(
        event_type: EventType,
        value: &'a Value,
    ) -> Result<Payload<'a>, PayloadError> {
        Self::read(event_type, value)
    }

    fn read<D>(event_type: EventType, from: D) -> Result<Payload<'a>, PayloadError>
    where
        D: Deserializer<'a, Error = serde_json::Error>,
    {
        let typed = match event_type {
            EventType::LedgerGenesis => object(from).map(Payload::Genesis),
            EventType::KeyEnrolled => object(from).map(Payload::KeyEnrolled),
            EventType::KeyRevoked => object(from).map(Payload::KeyRevoked),
            EventType::IncidentReported => object(from).map(Payload::IncidentReported),
            EventType::IncidentCorrected => object(from).map(Payload::IncidentCorrected),
            EventType::IncidentRetracted => object(from).map(Payload::IncidentRetracted),
            EventType::IncidentWithdrawn => object(from).map(Payload::IncidentWithdrawn),
            EventType::IncidentReinstated => object(from).map(Payload::IncidentReinstated),
            EventType::EvidenceAnchored => object(from).map(Payload::EvidenceAnchored),
            EventType::EvidenceCustody => object(from).map(Payload::EvidenceCustody),
            EventType::AccordStatusChanged => object(from).map(Payload::AccordStatusChanged),
            EventType::MandateChanged => object(from).map(Payload::MandateChanged),
        };
        typed.map_err(|source| PayloadError { event_type, source })
    }

    /// The payload's JSON text, as it is signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    pub fn event_type(&self) -> EventType {
        match self {
            Payload::Genesis(_) => EventType::LedgerGenesis,
            Payload::KeyEnrolled(_) => EventType::KeyEnrolled,
            Payload::KeyRevoked(_) => EventType::KeyRevoked,
            Payload::IncidentReported(_) => EventType::IncidentReported,
            Payload::IncidentCorrected(_) => EventType::IncidentCorrected,
            Payload::IncidentRetracted(_) => EventType::IncidentRetracted,
            Payload::IncidentWithdrawn(_) => EventType::IncidentWithdrawn,
            Payload::IncidentReinstated(_) => EventType::IncidentReinstated,
            Payload::EvidenceAnchored(_) => EventType::EvidenceAnchored,
            Payload::EvidenceCustody(_) => EventType::EvidenceCustody,
            Payload::AccordStatusChanged(_) => EventType::AccordStatusChanged,
            Payload::MandateChanged(_) => EventType::MandateChanged,
        }
    }

    /// What the event says, in one line for a listing: `origin X`, `NAME as ROLE`,
    /// `ID DATE TYPE`, `ID: REASON`, ...
    pub fn summary(&self) -> String {
        match self {
            Payload::Genesis(p) => format!("origin {}", p.origin),
            Payload::KeyEnrolled(p) => format!("{} as {}", p.name, p.role),
            Payload::KeyRevoked(p) => format!("{}: {}", p.name, p.reason),
            Payload::IncidentReported(p) => {
                format!("{} {} {}", p.incident_id, p.event_date, p.event_type)
            }
            Payload::IncidentCorrected(p) => format!("{}: {}", p.incident_id, p.reason),
            Payload::IncidentRetracted(p)
            | Payload::IncidentWithdrawn(p)
            | Payload::IncidentReinstated(p) => format!("{}: {}", p.incident_id, p.reason),
            Payload::EvidenceAnchored(p) => format!("{} {}", p.incident_id, p.filename),
            Payload::EvidenceCustody(p) => format!("{} {} by {}", p.sha256, p.action.name(), p.by),
            Payload::AccordStatusChanged(p) => match &p.provision {
                Some(provision) => {
                    format!("{}/{provision} {} {}", p.accord, p.status, p.effective_date)
                }
                None => format!("{} {} {}", p.accord, p.status, p.effective_date),
            },
            Payload::MandateChanged(p) => format!(
                "{} {} {} {}",
                p.mission, p.resolution, p.action, p.adopted_date
            ),
        }
    }
}

/// Whether `c` is a character that acts on a display instead of showing: a control character
/// (C0, DEL, C1) or a bidirectional override or isolate (U+202A to U+202E, U+2066 to U+2069).
/// Identifiers may not hold one (their schema patterns name the same ranges); free text may, and
/// whoever shows it to a person escapes it.
pub fn acts_on_display(c: char) -> bool {
    c.is_control()
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The incident fields a report or a correction sets, as its author wrote them: in their order,
/// with numbers as written and a correction's nulls kept. This is for showing a statement as it
/// was made; code that uses the values reads the typed structs. `None` for other events, and for
/// bytes that do not read as such a payload.
pub fn stated_fields(event_type: EventType, bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut stated: Map<String, Value> = match event_type {
        EventType::IncidentReported | EventType::IncidentCorrected => {
            serde_json::from_slice(bytes).ok()?
        }
        _ => return None,
    };
    if event_type == EventType::IncidentCorrected {
        return object_member(stated, "changes");
    }
    // shift_remove keeps the order the author wrote the others in.
    stated.shift_remove("incident_id");
    Some(stated)
}

/// What an `incident.corrected` records of a release's values without applying them (its
/// `contested`), as written, like [`stated_fields`]; `None` for other events and corrections
/// without it.
pub fn contested_fields(event_type: EventType, bytes: &[u8]) -> Option<Map<String, Value>> {
    if event_type != EventType::IncidentCorrected {
        return None;
    }
    object_member(serde_json::from_slice(bytes).ok()?, "contested")
}

fn object_member(mut object: Map<String, Value>, name: &str) -> Option<Map<String, Value>> {
    match object.remove(name)? {
        Value::Object(member) => Some(member),
        _ => None,
    }
}

/// A JSON Schema `integer` of at least 0 as a `u64`, written as a plain JSON integer: digits
/// only, without fraction, exponent or `-0`, from 0 to 2^64 - 1 (FORMAT.md section 4). The
/// schema counts `5.0` and `5e0` as the integer 5, but readers of the signed text disagree on
/// them (one reads 5, another 5.0, a third refuses), so they are refused here. serde_json calls
/// `visit_f64` exactly for such text (and for `-0`, and digits beyond 2^64 - 1): the kind of
/// number it visits is decided by the written text, never by the value.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Whole;
    impl de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a plain JSON integer from 0 to 2^64 - 1 (digits only: no fraction, exponent or -0)",
            )
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    deserializer.deserialize_any(Whole)
}

fn some_whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    whole_number(deserializer).map(Some)
}

/// [`present`] for a whole number, read as [`whole_number`] reads it.
fn present_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Change<u64>, D::Error> {
    struct Nullable;
    impl<'de> de::Visitor<'de> for Nullable {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            whole_number(d).map(Some)
        }
    }
    deserializer.deserialize_option(Nullable).map(Some)
}

/// An optional field whose schema type is not nullable: absent is `None`, and a null is refused
/// as the schema refuses it (serde's `Option` alone would read it as absent).
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A string, borrowed from the payload when it holds no escapes. serde borrows a `Cow` only
/// for a field of that type, not inside an `Option` read by a function of ours.
fn text<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
    struct TextVisitor;
    impl<'de> de::Visitor<'de> for TextVisitor {
        type Value = Text<'de>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
            Ok(Cow::Owned(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
            Ok(Cow::Owned(v))
        }
    }
    deserializer.deserialize_str(TextVisitor)
}

/// [`some`] for a string, borrowing it as [`text`] does.
fn some_text<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Text<'a>>, D::Error> {
    text(deserializer).map(Some)
}

/// [`present`] for a string, borrowing it as [`text`] does.
fn present_text<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Change<Text<'a>>, D::Error> {
    struct Nullable;
    impl<'de> de::Visitor<'de> for Nullable {
        type Value = Option<Text<'de>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            text(d).map(Some)
        }
    }
    deserializer.deserialize_option(Nullable).map(Some)
}

/// A struct read from a JSON object only: serde's derived structs also read a JSON array, by
/// position, which no schema allows.
fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
}

/// [`some`] for an object, read as [`object`] reads it.
fn some_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    object(deserializer).map(Some)
}

/// [`present`] for an object, read as [`object`] reads it.
fn present_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Change<T>, D::Error> {
    struct Nullable<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Nullable<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            object(d).map(Some)
        }
    }
    deserializer
        .deserialize_option(Nullable(std::marker::PhantomData))
        .map(Some)
}

/// A field that is present, possibly null: serde's `Option` alone cannot tell a null from an
/// absent field, and in a correction they differ (null clears, absent keeps).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    Option<T>: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What an incident field holds, as its schema says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A string.
    Text,
    /// A whole number of at least 0.
    Integer,
    /// A decimal number.
    Number,
    /// A list of strings.
    TextList,
    /// The `{name, release, id}` object of [`SourceDataset`].
    Dataset,
}

/// One field of an incident, as `incident.reported` states it and `incident.corrected` changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncidentField {
    pub name: &'static str,
    pub kind: FieldKind,
}

/// One incident field's value, borrowed from a report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue<'p> {
    Text(&'p str),
    Integer(u64),
    Number(f64),
    TextList(&'p [Text<'p>]),
    Dataset(&'p SourceDataset<'p>),
}

impl FieldValue<'_> {
    /// The value as a report states it in JSON.
    pub fn to_json(self) -> Value {
        // Every variant is a string, a number, a list of strings or an object of strings.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl<'a> IncidentReported<'a> {
    /// Bytes read as a report's payload (an incident's current fields, as views and imports
    /// keep them); `None` when they do not read as one.
    pub fn read(bytes: &'a [u8]) -> Option<IncidentReported<'a>> {
        match Payload::parse(EventType::IncidentReported, bytes) {
            Ok(Payload::IncidentReported(report)) => Some(report),
            _ => None,
        }
    }
}

/// A report's field as a [`FieldValue`], `None` when it is not set.
trait ReportedField {
    fn value(&self) -> Option<FieldValue<'_>>;
}

impl ReportedField for Text<'_> {
    fn value(&self) -> Option<FieldValue<'_>> {
        Some(FieldValue::Text(self))
    }
}

impl ReportedField for Option<Text<'_>> {
    fn value(&self) -> Option<FieldValue<'_>> {
        self.as_deref().map(FieldValue::Text)
    }
}

impl ReportedField for u64 {
    fn value(&self) -> Option<FieldValue<'_>> {
        Some(FieldValue::Integer(*self))
    }
}

impl ReportedField for Option<u64> {
    fn value(&self) -> Option<FieldValue<'_>> {
        self.map(FieldValue::Integer)
    }
}

impl ReportedField for Option<f64> {
    fn value(&self) -> Option<FieldValue<'_>> {
        self.map(FieldValue::Number)
    }
}

impl<'a> ReportedField for Option<Vec<Text<'a>>> {
    fn value(&self) -> Option<FieldValue<'_>> {
        self.as_deref().map(FieldValue::TextList)
    }
}

impl<'a> ReportedField for Option<SourceDataset<'a>> {
    fn value(&self) -> Option<FieldValue<'_>> {
        self.as_ref().map(FieldValue::Dataset)
    }
}

macro_rules! incident_fields {
    ($($constant:ident $name:ident $kind:ident,)*) => {
        /// Each incident field by name, for code that sets or reads one.
        pub mod field {
            use super::{FieldKind, IncidentField};
            $(pub const $constant: IncidentField =
                IncidentField { name: stringify!($name), kind: FieldKind::$kind };)*
        }
        /// Every field of an incident except its id, in the schema's order (which is also the
        /// order importers write them in).
        pub const INCIDENT_FIELDS: &[IncidentField] = &[$(field::$constant),*];

        impl<'a> IncidentReported<'a> {
            /// The value of one of the incident's fields, `None` when it is not set.
            pub fn get(&self, field: IncidentField) -> Option<FieldValue<'_>> {
                match field.name {
                    $(stringify!($name) => self.$name.value(),)*
                    _ => None,
                }
            }

            /// The incident as a correction leaves it: the fields it names take their new
            /// value (or are cleared), the others keep theirs.
            pub fn correct(&mut self, changes: &IncidentChanges<'a>) {
                $(if let Some(value) = &changes.$name {
                    self.$name.clone_from(value);
                })*
            }
        }
    };
}

incident_fields! {
    EVENT_DATE event_date Text,
    EVENT_DATE_END event_date_end Text,
    DATE_PRECISION date_precision Integer,
    EVENT_TYPE event_type Text,
    SUB_EVENT_TYPE sub_event_type Text,
    ACTOR1 actor1 Text,
    ACTOR2 actor2 Text,
    ASSOC_ACTOR_1 assoc_actor_1 Text,
    COUNTRY country Text,
    ADMIN1 admin1 Text,
    ADMIN2 admin2 Text,
    ADMIN3 admin3 Text,
    LOCATION location Text,
    LATITUDE latitude Number,
    LONGITUDE longitude Number,
    GEO_PRECISION geo_precision Integer,
    FATALITIES fatalities Integer,
    FATALITIES_LOW fatalities_low Integer,
    FATALITIES_HIGH fatalities_high Integer,
    SOURCES sources TextList,
    NOTES notes Text,
    SOURCE_TIMESTAMP source_timestamp Integer,
    SOURCE_DATASET source_dataset Dataset,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{schema_json as schema, Schemas};
    use serde_json::json;

    fn kind_of(property: &Value) -> FieldKind {
        let types: Vec<&str> = match &property["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("no type in {other}"),
        };
        match types.iter().find(|t| **t != "null").copied() {
            Some("string") => FieldKind::Text,
            Some("integer") => FieldKind::Integer,
            Some("number") => FieldKind::Number,
            Some("array") => FieldKind::TextList,
            Some("object") => FieldKind::Dataset,
            other => panic!("unexpected type {other:?}"),
        }
    }

    /// serde borrows a field only when its type is spelled `Cow`, not through the `Text` alias;
    /// every text here is read through [`text`], so that reading the log copies no string.
    #[test]
    fn text_without_escapes_is_borrowed_from_the_payload() {
        let bytes = br#"{"incident_id":"MLI1","event_date":"2023-01-02","event_type":"Battles","actor1":"JNIM","admin1":"Gao","fatalities":1}"#;
        let Ok(Payload::IncidentReported(p)) = Payload::parse(EventType::IncidentReported, bytes)
        else {
            panic!("the report parses");
        };
        for text in [&p.incident_id, &p.event_date, &p.event_type, &p.actor1] {
            assert!(matches!(text, Cow::Borrowed(_)), "{text} was copied");
        }
        assert!(matches!(p.admin1, Some(Cow::Borrowed(_))));
        let Some(Counts::Reported(c)) = Counts::parse(EventType::IncidentReported, bytes) else {
            panic!("the counts parse");
        };
        for text in [&c.incident_id, &c.event_date, &c.actor1] {
            assert!(matches!(text, Cow::Borrowed(_)), "{text} was copied");
        }
        let escaped = br#"{"incident_id":"MLI\u0031","event_date":"2023-01-02","event_type":"Battles","actor1":"JNIM","fatalities":1}"#;
        let Ok(Payload::IncidentReported(p)) = Payload::parse(EventType::IncidentReported, escaped)
        else {
            panic!("the escaped report parses");
        };
        assert_eq!(p.incident_id, "MLI1");
    }

    #[test]
    fn incident_fields_are_the_schemas_properties_with_their_kinds() {
        let reported = schema(EventType::IncidentReported);
        let listed: Vec<(&str, FieldKind)> = reported["properties"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| *name != "incident_id")
            .map(|(name, property)| (name.as_str(), kind_of(property)))
            .collect();
        let ours: Vec<(&str, FieldKind)> =
            INCIDENT_FIELDS.iter().map(|f| (f.name, f.kind)).collect();
        assert_eq!(ours, listed);

        let corrected = schema(EventType::IncidentCorrected);
        // Version 3 states the fields once, for `changes` and `contested` alike.
        let changeable: Vec<(&str, FieldKind)> = corrected["$defs"]["fields"]["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, property)| (name.as_str(), kind_of(property)))
            .collect();
        assert_eq!(ours, changeable);
    }

    fn valid(event_type: EventType, payload: &Value) -> bool {
        Schemas::load()
            .unwrap()
            .validate(event_type, event_type.current_schema_version(), payload)
            .is_ok()
    }

    /// Payloads at the edges of what the schemas accept: every one the schema accepts must be
    /// read by its struct, from bytes and from a parsed value alike.
    #[test]
    fn every_payload_the_schemas_accept_is_read() {
        let key = format!("ed25519:{}", "ab".repeat(32));
        let cases = [
            (
                EventType::LedgerGenesis,
                json!({"origin": "a.org/x", "admin_name": "admin", "admin_public_key": key}),
            ),
            (
                EventType::KeyEnrolled,
                json!({"name": "inv", "role": "investigator", "public_key": key}),
            ),
            (
                EventType::KeyRevoked,
                json!({"name": "inv", "public_key": key, "reason": "left \"the\" panel"}),
            ),
            (
                EventType::IncidentReported,
                json!({"incident_id": "x-1", "event_date": "2023-01-05", "event_type": "Battles",
                       "actor1": "A", "fatalities": 3}),
            ),
            (
                EventType::IncidentReported,
                json!({"incident_id": "x-1", "event_date": "2023-01-05", "event_type": "Battles",
                       "sub_event_type": "Armed clash", "actor1": "A", "actor2": "B",
                       "assoc_actor_1": "C", "country": "Mali", "admin1": "Gao", "admin2": "G",
                       "admin3": "H", "location": "L", "latitude": 15, "longitude": -0.5,
                       "fatalities": 0, "sources": [], "notes": "",
                       "source_dataset": {"name": "ACLED", "release": "r", "id": "1"}}),
            ),
            (
                EventType::IncidentCorrected,
                json!({"incident_id": "x-1", "changes": {"sub_event_type": null, "actor2": null,
                       "latitude": null, "sources": null, "source_dataset": null, "notes": null,
                       "fatalities": 4}, "reason": "r"}),
            ),
            (
                EventType::IncidentReported,
                json!({"incident_id": "x-1", "event_date": "2023-01-05",
                       "event_date_end": "2023-02-05", "date_precision": 5,
                       "event_type": "Battles", "actor1": "A", "geo_precision": 7,
                       "fatalities": 3, "fatalities_low": 0, "fatalities_high": 30,
                       "source_timestamp": 0}),
            ),
            (
                EventType::IncidentCorrected,
                json!({"incident_id": "x-1", "changes": {"event_date_end": null,
                       "date_precision": 1, "geo_precision": null, "fatalities_low": 2,
                       "fatalities_high": null, "source_timestamp": 1693000000},
                       "reason": "r"}),
            ),
            (
                EventType::IncidentRetracted,
                json!({"incident_id": "x-1", "reason": "r"}),
            ),
            (
                EventType::EvidenceAnchored,
                json!({"incident_id": "x-1", "blake3": "0".repeat(64), "sha256": "1".repeat(64),
                       "bytes": 10, "media_type": "text/plain", "filename": "f.txt",
                       "captured_at": "2023-01-05T10:00:00Z", "custody_note": "n",
                       "source_url": "https://example.org/v/1", "capture_method": "download",
                       "capture_tool": "wget 1.21", "derived_from": ["2".repeat(64)]}),
            ),
            (
                EventType::EvidenceCustody,
                json!({"sha256": "1".repeat(64), "action": "transferred", "by": "Panel",
                       "at": "2023-01-06", "to": "ICC OTP", "location": "vault 2", "note": "n"}),
            ),
            (
                EventType::AccordStatusChanged,
                json!({"accord": "algiers-2015", "provision": "ddr", "status": "signed",
                       "effective_date": "2015-06-20", "source": "s", "note": ""}),
            ),
            (
                EventType::MandateChanged,
                json!({"mission": "MINUSMA", "resolution": "S/RES/2100 (2013)",
                       "action": "established", "adopted_date": "2013-04-25",
                       "mandate_until": "2014-06-30", "troop_ceiling": 11200,
                       "police_ceiling": 1440, "source": "s", "note": "n"}),
            ),
        ];
        for (event_type, payload) in cases {
            assert!(valid(event_type, &payload), "{event_type}: {payload}");
            let bytes = payload.to_string().into_bytes();
            let from_bytes = Payload::parse(event_type, &bytes).unwrap();
            let from_value = Payload::from_value(event_type, &payload).unwrap();
            assert_eq!(from_bytes, from_value);
            assert_eq!(from_bytes.event_type(), event_type);
            // Written back, it reads the same: nothing added, nothing lost, nulls kept.
            let written = from_value.to_bytes().unwrap();
            assert!(valid(
                event_type,
                &serde_json::from_slice(&written).unwrap()
            ));
            assert_eq!(Payload::parse(event_type, &written).unwrap(), from_value);
        }
    }

    /// The demo's example events, written by people against the schemas, all read as typed.
    #[test]
    fn every_example_event_reads_as_its_type() {
        let schemas = Schemas::load().unwrap();
        for (file, text) in crate::demo::EXAMPLE_BATCHES {
            for event in crate::input::parse_events(text.as_bytes()).unwrap() {
                let event_type = EventType::parse(&event.event_type).unwrap();
                let value = crate::schema::parse_payload(&event.payload).unwrap();
                schemas.validate(event_type, 1, &value).unwrap();
                let typed = Payload::parse(event_type, &event.payload);
                assert!(typed.is_ok(), "{file} line {:?}: {typed:?}", event.line);
            }
        }
    }

    /// A tally's reading of every example incident event, and of corrections that clear or
    /// change each counted field, holds what the whole payload holds.
    #[test]
    fn counts_read_what_the_whole_payload_says() {
        let corrections = [
            r#"{"incident_id":"x","changes":{"admin1":null,"fatalities":3},"reason":"r"}"#,
            r#"{"incident_id":"x","changes":{"admin1":"Gao","actor1":"JNIM","event_date":"2023-02-01"},"reason":"r"}"#,
            r#"{"incident_id":"x\u00e9","changes":{"notes":"n"},"reason":"r"}"#,
        ];
        let examples = crate::demo::EXAMPLE_BATCHES.iter().flat_map(|(_, text)| {
            crate::input::parse_events(text.as_bytes())
                .unwrap()
                .into_iter()
                .map(|e| (EventType::parse(&e.event_type).unwrap(), e.payload))
        });
        let ours = corrections.len();
        let corrections = corrections
            .iter()
            .map(|c| (EventType::IncidentCorrected, c.as_bytes().to_vec()));
        let mut read = 0;
        for (event_type, bytes) in examples.chain(corrections) {
            let counts = Counts::parse(event_type, &bytes);
            match (Payload::parse(event_type, &bytes).unwrap(), counts) {
                (Payload::IncidentReported(p), Some(Counts::Reported(c))) => {
                    assert_eq!(
                        (
                            c.incident_id,
                            c.event_date,
                            c.actor1,
                            c.admin1,
                            c.fatalities
                        ),
                        (
                            p.incident_id,
                            p.event_date,
                            p.actor1,
                            p.admin1,
                            p.fatalities
                        )
                    );
                }
                (Payload::IncidentCorrected(p), Some(Counts::Corrected(c))) => {
                    let (c, p) = (c.changes, p.changes);
                    assert_eq!(
                        (c.event_date, c.actor1, c.admin1, c.fatalities),
                        (p.event_date, p.actor1, p.admin1, p.fatalities)
                    );
                }
                (Payload::IncidentRetracted(p), Some(Counts::Retracted(c)))
                | (Payload::IncidentWithdrawn(p), Some(Counts::Withdrawn(c)))
                | (Payload::IncidentReinstated(p), Some(Counts::Reinstated(c))) => {
                    assert_eq!(c.incident_id, p.incident_id);
                }
                (
                    Payload::IncidentReported(_)
                    | Payload::IncidentCorrected(_)
                    | Payload::IncidentRetracted(_)
                    | Payload::IncidentWithdrawn(_)
                    | Payload::IncidentReinstated(_),
                    counts,
                ) => panic!("read as {counts:?}"),
                (_, counts) => {
                    assert_eq!(counts, None);
                    continue;
                }
            }
            read += 1;
        }
        assert!(read > ours, "the examples hold incident events");
    }

    #[test]
    fn a_correction_tells_a_cleared_field_from_an_absent_one() {
        let payload = json!({"incident_id": "x", "changes": {"actor2": null, "country": "Mali"},
                             "reason": "r"});
        let Payload::IncidentCorrected(c) =
            Payload::from_value(EventType::IncidentCorrected, &payload).unwrap()
        else {
            panic!("not a correction");
        };
        assert_eq!(c.changes.actor2, Some(None));
        assert_eq!(c.changes.country, Some(Some("Mali".into())));
        assert_eq!(c.changes.admin1, None);
    }

    fn report(payload: &Value) -> IncidentReported<'_> {
        match Payload::from_value(EventType::IncidentReported, payload).unwrap() {
            Payload::IncidentReported(p) => p,
            other => panic!("not a report: {other:?}"),
        }
    }

    /// `get` reads each field by its constant, as its kind says, and as the payload states it.
    #[test]
    fn every_incident_field_is_read_by_its_constant() {
        let stated = json!({"incident_id": "x-1", "event_date": "2023-01-05",
            "event_date_end": "2023-01-09", "date_precision": 2,
            "event_type": "Battles", "sub_event_type": "Armed clash", "actor1": "A",
            "actor2": "B", "assoc_actor_1": "C", "country": "Mali", "admin1": "Gao",
            "admin2": "G", "admin3": "H", "location": "L", "latitude": 15.5,
            "longitude": -0.5, "geo_precision": 3, "fatalities": 3, "fatalities_low": 2,
            "fatalities_high": 5, "sources": ["s"], "notes": "n", "source_timestamp": 1693000000,
            "source_dataset": {"name": "ACLED", "release": "r", "id": "1"}});
        let p = report(&stated);
        for &field in INCIDENT_FIELDS {
            let value = p
                .get(field)
                .unwrap_or_else(|| panic!("{} unset", field.name));
            let kind = match value {
                FieldValue::Text(_) => FieldKind::Text,
                FieldValue::Integer(_) => FieldKind::Integer,
                FieldValue::Number(_) => FieldKind::Number,
                FieldValue::TextList(_) => FieldKind::TextList,
                FieldValue::Dataset(_) => FieldKind::Dataset,
            };
            assert_eq!(kind, field.kind, "{}", field.name);
            assert_eq!(serde_json::to_value(value).unwrap(), stated[field.name]);
        }
        let bare = json!({"incident_id": "x-2", "event_date": "2023-01-05",
            "event_type": "Battles", "actor1": "A", "fatalities": 0});
        assert_eq!(report(&bare).get(field::ACTOR2), None);
    }

    #[test]
    fn a_correction_sets_and_clears_what_it_names_and_keeps_the_rest() {
        let stated = json!({"incident_id": "x-1", "event_date": "2023-01-05",
            "event_type": "Battles", "actor1": "A", "actor2": "B", "admin1": "Gao",
            "fatalities": 3});
        let mut p = report(&stated);
        let correction = json!({"incident_id": "x-1", "reason": "r",
            "changes": {"actor2": null, "fatalities": 4, "country": "Mali"}});
        let Payload::IncidentCorrected(c) =
            Payload::from_value(EventType::IncidentCorrected, &correction).unwrap()
        else {
            panic!("not a correction");
        };
        p.correct(&c.changes);
        assert_eq!(p.get(field::ACTOR2), None);
        assert_eq!(p.get(field::FATALITIES), Some(FieldValue::Integer(4)));
        assert_eq!(p.get(field::COUNTRY), Some(FieldValue::Text("Mali")));
        assert_eq!(p.get(field::ADMIN1), Some(FieldValue::Text("Gao")));
        assert_eq!(
            p.get(field::EVENT_DATE),
            Some(FieldValue::Text("2023-01-05"))
        );
    }

    #[test]
    fn stated_fields_keep_the_authors_order_and_a_corrections_nulls() {
        let reported = br#"{"event_type": "Battles", "incident_id": "x", "fatalities": 3.0}"#;
        let fields = stated_fields(EventType::IncidentReported, reported).unwrap();
        assert_eq!(
            Value::Object(fields).to_string(),
            r#"{"event_type":"Battles","fatalities":3.0}"#
        );
        let corrected = br#"{"incident_id": "x", "changes": {"notes": "n", "actor2": null}}"#;
        let changes = stated_fields(EventType::IncidentCorrected, corrected).unwrap();
        assert_eq!(
            Value::Object(changes).to_string(),
            r#"{"notes":"n","actor2":null}"#
        );
        let retracted = br#"{"incident_id": "x", "reason": "r"}"#;
        assert_eq!(stated_fields(EventType::IncidentRetracted, retracted), None);
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_an_error_not_a_default() {
        let payload = json!({"incident_id": "x", "reason": 5});
        let err = Payload::from_value(EventType::IncidentRetracted, &payload).unwrap_err();
        assert_eq!(err.event_type, EventType::IncidentRetracted);
        assert!(Payload::parse(EventType::IncidentReported, b"{\"fatalities\": 1.5}").is_err());
    }

    #[test]
    fn escaped_strings_are_read_unescaped() {
        let bytes = br#"{"incident_id": "x", "reason": "line\nbreak \u00e9"}"#;
        let Payload::IncidentRetracted(p) =
            Payload::parse(EventType::IncidentRetracted, bytes).unwrap()
        else {
            panic!("not a retraction");
        };
        assert_eq!(p.reason, "line\nbreak é");
    }

    #[test]
    fn summaries_name_what_each_event_says() {
        let cases = [
            (
                EventType::KeyEnrolled,
                json!({"name": "inv", "role": "auditor", "public_key": "k"}),
                "inv as auditor",
            ),
            (
                EventType::IncidentReported,
                json!({"incident_id": "x-1", "event_date": "2023-01-05", "event_type": "Riots",
                       "actor1": "A", "fatalities": 0}),
                "x-1 2023-01-05 Riots",
            ),
            (
                EventType::AccordStatusChanged,
                json!({"accord": "a", "provision": "ddr", "status": "signed",
                       "effective_date": "2015-06-20"}),
                "a/ddr signed 2015-06-20",
            ),
            (
                EventType::AccordStatusChanged,
                json!({"accord": "a", "status": "signed", "effective_date": "2015-06-20"}),
                "a signed 2015-06-20",
            ),
        ];
        for (event_type, payload, summary) in cases {
            let typed = Payload::from_value(event_type, &payload).unwrap();
            assert_eq!(typed.summary(), summary);
        }
    }
}
