//! The JSON Schemas of event payloads (schemas/, draft 2020-12, embedded in the binary) and
//! validation with field-level messages. One schema per event type and version.
//!
//! It validates one payload at a time and knows nothing of storage, keys or rules between
//! entries (those are [`crate::rules`]). The incident event types, nearly every entry of a large
//! log, are checked by hand on their typed payload first ([`Schemas::check`]); the compiled
//! validator decides, and words the message, whenever the hand check is not sure.

use crate::event::EventType;
use crate::payload::{
    Change, IncidentChanges, IncidentCorrected, IncidentNotice, IncidentReported, Payload,
    PayloadError, SourceDataset,
};
use crate::taxonomy;
use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;

/// The embedded schema text of every (event type, schema version).
pub const SCHEMA_SOURCES: [(EventType, u16, &str); 16] = [
    (
        EventType::LedgerGenesis,
        1,
        include_str!("../schemas/ledger.genesis.v1.json"),
    ),
    (
        EventType::KeyEnrolled,
        1,
        include_str!("../schemas/key.enrolled.v1.json"),
    ),
    (
        EventType::KeyRevoked,
        1,
        include_str!("../schemas/key.revoked.v1.json"),
    ),
    (
        EventType::IncidentReported,
        1,
        include_str!("../schemas/incident.reported.v1.json"),
    ),
    (
        EventType::IncidentReported,
        2,
        include_str!("../schemas/incident.reported.v2.json"),
    ),
    (
        EventType::IncidentCorrected,
        1,
        include_str!("../schemas/incident.corrected.v1.json"),
    ),
    (
        EventType::IncidentCorrected,
        2,
        include_str!("../schemas/incident.corrected.v2.json"),
    ),
    (
        EventType::IncidentCorrected,
        3,
        include_str!("../schemas/incident.corrected.v3.json"),
    ),
    (
        EventType::IncidentRetracted,
        1,
        include_str!("../schemas/incident.retracted.v1.json"),
    ),
    (
        EventType::IncidentWithdrawn,
        1,
        include_str!("../schemas/incident.withdrawn.v1.json"),
    ),
    (
        EventType::IncidentReinstated,
        1,
        include_str!("../schemas/incident.reinstated.v1.json"),
    ),
    (
        EventType::EvidenceAnchored,
        1,
        include_str!("../schemas/evidence.anchored.v1.json"),
    ),
    (
        EventType::EvidenceAnchored,
        2,
        include_str!("../schemas/evidence.anchored.v2.json"),
    ),
    (
        EventType::EvidenceCustody,
        1,
        include_str!("../schemas/evidence.custody.v1.json"),
    ),
    (
        EventType::AccordStatusChanged,
        1,
        include_str!("../schemas/accord.status_changed.v1.json"),
    ),
    (
        EventType::MandateChanged,
        1,
        include_str!("../schemas/mandate.changed.v1.json"),
    ),
];

/// The schema of `event_type`'s current version, as JSON, for tests that compare it with code.
#[cfg(test)]
pub(crate) fn schema_json(event_type: EventType) -> Value {
    let version = event_type.current_schema_version();
    SCHEMA_SOURCES
        .iter()
        .find(|(t, v, _)| (*t, *v) == (event_type, version))
        .and_then(|(.., source)| serde_json::from_str(source).ok())
        .unwrap_or_else(|| panic!("no schema for {event_type} version {version}"))
}

/// Parses payload bytes as JSON, refusing an object that names the same key twice. The bytes are
/// what is signed, and JSON parsers disagree on which of two equal keys counts (the last, the
/// first, or an error), so such a payload could be read one way by the ledger and another by an
/// independent verifier.
pub fn parse_payload(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(bytes).map(|parsed| parsed.0)
}

/// A JSON value whose objects, at any depth, have no repeated key.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object (each key may appear once, so \
                     that every reader of the signed bytes sees the same value)"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(UniqueKeys(Value::Object(object)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueKeys(Value::Array(items)))
    }

    // Scalars are what serde_json's own `Value` makes of them.
    fn visit_bool<E>(self, v: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(Value::Null))
    }
}

/// Why a payload is not accepted, naming the field (e.g. `data.latitude`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {message}")]
pub struct SchemaViolation {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("there is no schema for {event_type} version {version}")]
    UnknownVersion { event_type: EventType, version: u16 },
    #[error("the embedded schema for {event_type} does not compile")]
    Broken {
        event_type: EventType,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Violation(#[from] SchemaViolation),
}

/// Why payload bytes are not a payload of their event type: each cause as the step that finds
/// it says it ([`parse_payload`], [`Schemas::validate`], [`Payload::from_value`]).
#[derive(Debug, thiserror::Error)]
pub enum PayloadRefusal {
    #[error("the payload is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("the payload breaks its schema")]
    Schema(#[source] SchemaError),
    #[error("the payload does not fit its type")]
    Payload(#[source] PayloadError),
}

/// Compiled validators; built once and shared (validation is thread-safe).
pub struct Schemas {
    validators: HashMap<(EventType, u16), (Validator, Value)>,
}

impl Schemas {
    pub fn load() -> Result<Schemas, SchemaError> {
        let mut validators = HashMap::new();
        for (event_type, version, source) in SCHEMA_SOURCES {
            let broken = |source: Box<dyn std::error::Error + Send + Sync>| SchemaError::Broken {
                event_type,
                source,
            };
            let schema: Value = serde_json::from_str(source).map_err(|e| broken(e.into()))?;
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| broken(e.to_owned().into()))?;
            validators.insert((event_type, version), (validator, schema));
        }
        Ok(Schemas { validators })
    }

    /// Reads payload bytes as a payload of `event_type` that keeps its schema: parsed once, and
    /// typed without building a JSON tree when the hand check accepts it. The verdict and every
    /// message are those of [`parse_payload`], then [`Schemas::validate`], then
    /// [`Payload::from_value`].
    pub fn check<'p>(
        &self,
        event_type: EventType,
        version: u16,
        bytes: &'p [u8],
    ) -> Result<Payload<'p>, PayloadRefusal> {
        if HAND_CHECKED.contains(&(event_type, version)) {
            if let Ok(payload) = Payload::parse(event_type, bytes) {
                if hand_checked(&payload, version) {
                    return Ok(payload);
                }
            }
        }
        let value = parse_payload(bytes).map_err(PayloadRefusal::Json)?;
        self.validate(event_type, version, &value)
            .map_err(PayloadRefusal::Schema)?;
        // Bytes and their parsed tree read alike (payload's tests check it); the tree's error is
        // the one the message has always quoted.
        Payload::parse(event_type, bytes).map_err(|from_bytes| {
            PayloadRefusal::Payload(
                Payload::from_value(event_type, &value)
                    .err()
                    .unwrap_or(from_bytes),
            )
        })
    }

    /// Validates a payload, reporting the first problem found.
    pub fn validate(
        &self,
        event_type: EventType,
        version: u16,
        payload: &Value,
    ) -> Result<(), SchemaError> {
        let (validator, schema) =
            self.validators
                .get(&(event_type, version))
                .ok_or(SchemaError::UnknownVersion {
                    event_type,
                    version,
                })?;
        match validator.iter_errors(payload).next() {
            None => plain_integers(schema, schema, payload, "data").map_err(SchemaError::from),
            Some(error) => {
                let mut field = String::from("data");
                for segment in error
                    .instance_path()
                    .as_str()
                    .split('/')
                    .filter(|s| !s.is_empty())
                {
                    field.push('.');
                    field.push_str(&segment.replace("~1", "/").replace("~0", "~"));
                }
                let message = match error.kind() {
                    ValidationErrorKind::Required { property } => {
                        field.push('.');
                        field.push_str(property.as_str().unwrap_or("?"));
                        "is required but missing".to_string()
                    }
                    ValidationErrorKind::AdditionalProperties { unexpected } => {
                        format!(
                            "unknown field(s) {} (this type allows no other fields)",
                            unexpected.join(", ")
                        )
                    }
                    _ => shorten(&error.to_string()),
                };
                Err(SchemaViolation { field, message }.into())
            }
        }
    }
}

/// Refuses, at any place where `node` (a part of the schema document `root`) allows an
/// `integer`, a number that is not written as a plain JSON integer. JSON Schema counts `1.0` and
/// `1e2` as integers, but readers of the signed text disagree on them, so FORMAT.md section 4
/// asks for digits only. The check reads the kind serde_json gave the number, which the written
/// text decides: `u64` or `i64` only for digits without fraction or exponent, never for `-0`.
fn plain_integers(
    root: &Value,
    node: &Value,
    value: &Value,
    field: &str,
) -> Result<(), SchemaViolation> {
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        plain_integers(root, target, value, field)?;
    }
    let allows_integer = match node.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
        _ => false,
    };
    match value {
        Value::Number(n) if allows_integer && !(n.is_u64() || n.is_i64()) => Err(SchemaViolation {
            field: field.to_string(),
            message: "must be written as a plain JSON integer: digits only, without fraction, \
                      exponent or -0, and at most 2^64 - 1"
                .to_string(),
        }),
        Value::Object(members) => {
            let properties = node.get("properties").and_then(Value::as_object);
            for (name, member) in members {
                if let Some(sub) = properties.and_then(|p| p.get(name)) {
                    plain_integers(root, sub, member, &format!("{field}.{name}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => match node.get("items") {
            Some(sub) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| plain_integers(root, sub, item, &format!("{field}.{i}"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The event types and schema versions that [`hand_checked`] knows.
const HAND_CHECKED: [(EventType, u16); 8] = [
    (EventType::IncidentReported, 1),
    (EventType::IncidentReported, 2),
    (EventType::IncidentCorrected, 1),
    (EventType::IncidentCorrected, 2),
    (EventType::IncidentCorrected, 3),
    (EventType::IncidentRetracted, 1),
    (EventType::IncidentWithdrawn, 1),
    (EventType::IncidentReinstated, 1),
];

/// Whether a typed payload of a [`HAND_CHECKED`] type keeps its schema at `version`, checked
/// field by field with the schema's bounds. It only ever says yes where the compiled validator
/// does: what it cannot be sure of (an id with non-ASCII characters, any other event type or
/// version) is a no, and the validator decides. Typing has already refused unknown and repeated
/// fields, nulls where the schema has none, arrays for objects, and numbers of the wrong kind;
/// the fields version 2 adds are typed at every version, so version 1 refuses them here.
fn hand_checked(payload: &Payload, version: u16) -> bool {
    match (payload, version) {
        (Payload::IncidentReported(report), 1 | 2) => reported_keeps_schema(report, version),
        (Payload::IncidentCorrected(correction), 1..=3) => {
            corrected_keeps_schema(correction, version)
        }
        (
            Payload::IncidentRetracted(IncidentNotice {
                incident_id,
                reason,
            })
            | Payload::IncidentWithdrawn(IncidentNotice {
                incident_id,
                reason,
            })
            | Payload::IncidentReinstated(IncidentNotice {
                incident_id,
                reason,
            }),
            1,
        ) => incident_id_keeps_schema(incident_id) && chars_within(reason, 1, 5000),
        _ => false,
    }
}

fn reported_keeps_schema(p: &IncidentReported, version: u16) -> bool {
    let added = [
        p.date_precision,
        p.geo_precision,
        p.fatalities_low,
        p.fatalities_high,
        p.source_timestamp,
    ];
    let added_keep_schema = if version == 1 {
        p.event_date_end.is_none() && added.iter().all(Option::is_none)
    } else {
        p.event_date_end.as_deref().is_none_or(date_keeps_schema)
            && p.date_precision.is_none_or(date_precision_keeps_schema)
            && p.geo_precision.is_none_or(geo_precision_keeps_schema)
    };
    added_keep_schema
        && [Some(p.fatalities), p.fatalities_low, p.fatalities_high]
            .into_iter()
            .all(|count| count.is_none_or(fatalities_keep_schema))
        && incident_id_keeps_schema(&p.incident_id)
        && date_keeps_schema(&p.event_date)
        && taxonomy::sub_event_types(&p.event_type).is_some()
        // The schema's allOf: a sub-event type must be one of its event type's.
        && p.sub_event_type
            .as_deref()
            .is_none_or(|sub| taxonomy::belongs(&p.event_type, sub))
        && chars_within(&p.actor1, 1, 200)
        && p.actor2.as_deref().is_none_or(short_text)
        && p.assoc_actor_1.as_deref().is_none_or(long_text)
        && [&p.country, &p.admin1, &p.admin2, &p.admin3, &p.location]
            .into_iter()
            .all(|t| t.as_deref().is_none_or(short_text))
        && p.latitude.is_none_or(latitude_keeps_schema)
        && p.longitude.is_none_or(longitude_keeps_schema)
        && p.sources.as_deref().is_none_or(sources_keep_schema)
        && p.notes.as_deref().is_none_or(notes_keep_schema)
        && p.source_dataset.as_ref().is_none_or(dataset_keeps_schema)
}

fn corrected_keeps_schema(p: &IncidentCorrected, version: u16) -> bool {
    let empty = IncidentChanges::default();
    // Version 3 adds `contested`, and then lets `changes` be empty.
    let stated_something = match (&p.contested, version) {
        (None, _) => p.changes != empty,
        (Some(contested), 3) => **contested != empty && changes_keep_schema(contested, version),
        (Some(_), _) => false,
    };
    stated_something
        && changes_keep_schema(&p.changes, version)
        && incident_id_keeps_schema(&p.incident_id)
        && chars_within(&p.reason, 1, 5000)
}

/// Whether each field `c` names keeps its schema at `version` of `incident.corrected`.
fn changes_keep_schema(c: &IncidentChanges, version: u16) -> bool {
    // A nullable field's null always keeps its schema.
    fn cleared_or<T: ?Sized>(value: Option<&T>, keeps: impl Fn(&T) -> bool) -> bool {
        value.is_none_or(keeps)
    }
    let code = |change: &Change<u64>, keeps: fn(u64) -> bool| {
        change.iter().all(|v| cleared_or(v.as_ref(), |v| keeps(*v)))
    };
    let added = [
        &c.date_precision,
        &c.geo_precision,
        &c.fatalities_low,
        &c.fatalities_high,
        &c.source_timestamp,
    ];
    let added_keep_schema = if version == 1 {
        c.event_date_end.is_none() && added.iter().all(|change| change.is_none())
    } else {
        c.event_date_end
            .iter()
            .all(|d| cleared_or(d.as_deref(), date_keeps_schema))
            && code(&c.date_precision, date_precision_keeps_schema)
            && code(&c.geo_precision, geo_precision_keeps_schema)
    };
    added_keep_schema
        && c.fatalities.is_none_or(fatalities_keep_schema)
        && code(&c.fatalities_low, fatalities_keep_schema)
        && code(&c.fatalities_high, fatalities_keep_schema)
        && c.event_date.as_deref().is_none_or(date_keeps_schema)
        && c.event_type
            .as_deref()
            .is_none_or(|t| taxonomy::sub_event_types(t).is_some())
        && c.sub_event_type.iter().all(|sub| {
            cleared_or(sub.as_deref(), |sub| {
                taxonomy::EVENT_TYPES
                    .iter()
                    .any(|(_, subs)| subs.contains(&sub))
            })
        })
        && c.actor1.as_deref().is_none_or(short_text)
        && c.actor2
            .iter()
            .all(|t| cleared_or(t.as_deref(), short_text))
        && c.assoc_actor_1
            .iter()
            .all(|t| cleared_or(t.as_deref(), long_text))
        && [&c.country, &c.admin1, &c.admin2, &c.admin3, &c.location]
            .into_iter()
            .flatten()
            .all(|t| cleared_or(t.as_deref(), short_text))
        && c.latitude
            .iter()
            .all(|v| cleared_or(v.as_ref(), |v| latitude_keeps_schema(*v)))
        && c.longitude
            .iter()
            .all(|v| cleared_or(v.as_ref(), |v| longitude_keeps_schema(*v)))
        && c.sources
            .iter()
            .all(|s| cleared_or(s.as_deref(), sources_keep_schema))
        && c.notes
            .iter()
            .all(|t| cleared_or(t.as_deref(), notes_keep_schema))
        && c.source_dataset
            .iter()
            .all(|d| cleared_or(d.as_ref(), dataset_keeps_schema))
}

/// `^[^\s]{1,128}$`, for ids of printable ASCII (which no regex dialect counts as space).
fn incident_id_keeps_schema(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// `format: date` (RFC 3339 full-date) and the pattern `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`.
fn date_keeps_schema(date: &str) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *date.as_bytes() else {
        return false;
    };
    let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |ds: &[u8]| ds.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (year, month, day) = (
        number(&digits[..4]),
        number(&digits[4..6]),
        number(&digits[6..]),
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `minLength`/`maxLength`, which count code points.
fn chars_within(text: &str, min: usize, max: usize) -> bool {
    // UTF-8 spends 1 to 4 bytes on a code point, so the byte length alone settles most strings.
    (min <= text.len().div_ceil(4) && text.len() <= max)
        || (min..=max).contains(&text.chars().count())
}

/// actor2, country, admin1 to admin3 and location: 1 to 200 characters.
fn short_text(text: &str) -> bool {
    chars_within(text, 1, 200)
}

/// assoc_actor_1: 1 to 1000 characters.
fn long_text(text: &str) -> bool {
    chars_within(text, 1, 1000)
}

fn notes_keep_schema(notes: &str) -> bool {
    chars_within(notes, 0, 20000)
}

fn sources_keep_schema(sources: &[std::borrow::Cow<str>]) -> bool {
    sources.iter().all(|s| chars_within(s, 1, 1000))
}

fn dataset_keeps_schema(d: &SourceDataset) -> bool {
    [&d.name, &d.release, &d.id]
        .into_iter()
        .all(|t| short_text(t))
}

/// date_precision: the widest scale of the datasets', UCDP GED's date_prec, 1 to 5.
fn date_precision_keeps_schema(code: u64) -> bool {
    (1..=5).contains(&code)
}

/// geo_precision: the widest scale of the datasets', UCDP GED's where_prec, 1 to 7.
fn geo_precision_keeps_schema(code: u64) -> bool {
    (1..=7).contains(&code)
}

/// fatalities, fatalities_low and fatalities_high: counts of people, 0 to 2^32 - 1.
fn fatalities_keep_schema(count: u64) -> bool {
    count <= u64::from(u32::MAX)
}

fn latitude_keeps_schema(v: f64) -> bool {
    (-90.0..=90.0).contains(&v)
}

fn longitude_keeps_schema(v: f64) -> bool {
    (-180.0..=180.0).contains(&v)
}

/// Messages quote the offending value; a long value would bury the message itself.
fn shorten(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    match message.char_indices().nth(MAX_CHARS) {
        None => message.to_string(),
        Some((cut, _)) => format!(
            "{}… ({} characters in all)",
            &message[..cut],
            message.chars().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn schemas() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| Schemas::load().unwrap())
    }

    /// What the checks before [`Schemas::check`] said: parse to a tree, validate it, type it.
    fn reference(event_type: EventType, version: u16, bytes: &[u8]) -> Result<(), PayloadRefusal> {
        let value = parse_payload(bytes).map_err(PayloadRefusal::Json)?;
        schemas()
            .validate(event_type, version, &value)
            .map_err(PayloadRefusal::Schema)?;
        Payload::from_value(event_type, &value)
            .map(drop)
            .map_err(PayloadRefusal::Payload)
    }

    /// A refusal as a person reads it: its sentence and every cause.
    fn words(refusal: &PayloadRefusal) -> String {
        let mut text = refusal.to_string();
        let mut cause = std::error::Error::source(refusal);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }

    /// Strings at and around every length bound of the incident schemas, from characters that
    /// regex dialects and length counts disagree on (spaces, NEL, BOM, multibyte).
    fn text() -> impl Strategy<Value = String> {
        let lengths = prop::sample::select(vec![
            0usize, 1, 2, 127, 128, 129, 199, 200, 201, 999, 1000, 1001, 4999, 5000, 5001, 19999,
            20000, 20001,
        ]);
        let fill = prop::sample::select(vec![
            'a', 'é', '€', '𝄞', ' ', '\t', '\u{85}', '\u{a0}', '\u{feff}', '"', '\\', '\n',
        ]);
        let odd = prop::sample::select(vec!['a', 'é', '𝄞', ' ', '\u{85}', '\u{feff}', '\u{2028}']);
        (lengths, fill, odd, 0usize..3, any::<bool>()).prop_map(|(len, fill, odd, at, mostly_a)| {
            let fill = if mostly_a { 'a' } else { fill };
            let mut chars: Vec<char> = vec![fill; len];
            if len > 0 {
                let i = [0, len / 2, len - 1][at];
                chars[i] = odd;
            }
            chars.into_iter().collect()
        })
    }

    fn date() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..10000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
            Just("2023-1-05".to_string()),
            Just("2023-01-05T00:00:00Z".to_string()),
            Just("２０２３-01-05".to_string()),
            Just("2024-02-29".to_string()),
            Just("1900-02-29".to_string()),
            Just("2000-02-29".to_string()),
        ]
    }

    fn event_type() -> impl Strategy<Value = String> {
        let mut names: Vec<&str> = taxonomy::EVENT_TYPES.iter().map(|(t, _)| *t).collect();
        names.push("Fights");
        names.push("battles");
        prop::sample::select(names).prop_map(str::to_string)
    }

    fn sub_event_type() -> impl Strategy<Value = String> {
        let mut names: Vec<&str> = taxonomy::EVENT_TYPES
            .iter()
            .flat_map(|(_, subs)| subs.iter().copied())
            .collect();
        names.push("Armed clash ");
        prop::sample::select(names).prop_map(str::to_string)
    }

    fn number() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "0",
            "3",
            "3.0",
            "-1",
            "-0.0",
            "-0",
            "1.5",
            "90",
            "90.0",
            "90.0000001",
            "-90",
            "-91",
            "180",
            "-180.5",
            "1e19",
            "1e20",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "\"3\"",
            "null",
            "true",
            "[]",
            "{}",
        ])
        .prop_map(str::to_string)
    }

    fn json_string(text: impl AsRef<str>) -> String {
        serde_json::to_string(text.as_ref()).unwrap()
    }

    /// A JSON value for any field: mostly the right kind near its bounds, sometimes not.
    fn value(kind: &'static str) -> BoxedStrategy<String> {
        let right = match kind {
            "id" => prop_oneof![
                "[A-Za-z0-9-]{1,130}",
                "[A-Za-z0-9 é\u{85}\u{feff}\u{2028}\t-]{0,5}",
            ]
            .prop_map(json_string)
            .boxed(),
            "date" => date().prop_map(json_string).boxed(),
            "type" => event_type().prop_map(json_string).boxed(),
            "sub" => sub_event_type().prop_map(json_string).boxed(),
            "number" => number().boxed(),
            "code" => prop::sample::select(vec![
                "0", "1", "3", "5", "6", "7", "8", "5.0", "7.0", "-1", "1.5", "1e20",
            ])
            .prop_map(str::to_string)
            .boxed(),
            "sources" => prop::collection::vec(text(), 0..3)
                .prop_map(|s| serde_json::to_string(&s).unwrap())
                .boxed(),
            "dataset" => (text(), text(), text(), 0..4usize)
                .prop_map(|(name, release, id, shape)| match shape {
                    0 => format!("[{}]", json_string(name)),
                    1 => format!(
                        "{{\"name\":{},\"release\":{}}}",
                        json_string(name),
                        json_string(release)
                    ),
                    _ => format!(
                        "{{\"name\":{},\"release\":{},\"id\":{}}}",
                        json_string(name),
                        json_string(release),
                        json_string(id)
                    ),
                })
                .boxed(),
            _ => text().prop_map(json_string).boxed(),
        };
        prop_oneof![
            8 => right,
            1 => Just("null".to_string()),
            1 => number(),
        ]
        .boxed()
    }

    const INCIDENT_FIELDS: [(&str, &str); 23] = [
        ("event_date", "date"),
        ("event_date_end", "date"),
        ("date_precision", "code"),
        ("event_type", "type"),
        ("sub_event_type", "sub"),
        ("actor1", "text"),
        ("actor2", "text"),
        ("assoc_actor_1", "text"),
        ("country", "text"),
        ("admin1", "text"),
        ("admin2", "text"),
        ("admin3", "text"),
        ("location", "text"),
        ("latitude", "number"),
        ("longitude", "number"),
        ("geo_precision", "code"),
        ("fatalities", "number"),
        ("fatalities_low", "number"),
        ("fatalities_high", "number"),
        ("sources", "sources"),
        ("notes", "text"),
        ("source_timestamp", "number"),
        ("source_dataset", "dataset"),
    ];

    /// The fields version 2 of the incident schemas adds.
    const ADDED_IN_V2: [&str; 6] = [
        "event_date_end",
        "date_precision",
        "geo_precision",
        "fatalities_low",
        "fatalities_high",
        "source_timestamp",
    ];

    /// The incident fields of a schema version.
    fn fields_at(version: u16) -> Vec<(&'static str, &'static str)> {
        INCIDENT_FIELDS
            .into_iter()
            .filter(|(name, _)| version > 1 || !ADDED_IN_V2.contains(name))
            .collect()
    }

    /// An object of some of `fields` (each present with probability `present`), written by hand
    /// so that a key may repeat and an unknown one may appear.
    fn object(
        fields: Vec<(&'static str, &'static str)>,
        present: f64,
    ) -> impl Strategy<Value = String> {
        let members: Vec<_> = fields
            .into_iter()
            .map(|(name, kind)| {
                prop::option::weighted(present, value(kind))
                    .prop_map(move |v| v.map(|v| format!("{}:{v}", json_string(name))))
            })
            .collect();
        (members, 0..12u8).prop_map(|(members, twist)| {
            let mut members: Vec<String> = members.into_iter().flatten().collect();
            match twist {
                0 => members.push("\"extra\":1".into()),
                1 if !members.is_empty() => members.push(members[0].clone()),
                _ => {}
            }
            format!("{{{}}}", members.join(","))
        })
    }

    /// A value of the right kind within its field's bounds (texts of 1 to 200 characters fit
    /// every text field).
    fn fitting(kind: &'static str) -> BoxedStrategy<String> {
        match kind {
            "id" => "[A-Za-z0-9-]{1,128}".prop_map(json_string).boxed(),
            "date" => (1000u32..3000, 1u32..=12, 1u32..=28)
                .prop_map(|(y, m, d)| json_string(format!("{y:04}-{m:02}-{d:02}")))
                .boxed(),
            "number" => prop::sample::select(vec!["0", "3", "3.0", "90", "-90", "0.5e1"])
                .prop_map(str::to_string)
                .boxed(),
            "code" => prop::sample::select(vec!["1", "3", "5", "2.0"])
                .prop_map(str::to_string)
                .boxed(),
            "sources" => prop::collection::vec(fitting_text(), 0..3)
                .prop_map(|s| serde_json::to_string(&s).unwrap())
                .boxed(),
            "dataset" => (fitting_text(), fitting_text(), fitting_text())
                .prop_map(|(name, release, id)| {
                    serde_json::json!({"name": name, "release": release, "id": id}).to_string()
                })
                .boxed(),
            _ => fitting_text().prop_map(json_string).boxed(),
        }
    }

    fn fitting_text() -> impl Strategy<Value = String> {
        let lengths = prop::sample::select(vec![1usize, 2, 127, 128, 199, 200]);
        let fill = prop::sample::select(vec!['a', 'a', 'a', 'é', '𝄞', ' ', '"']);
        (lengths, fill).prop_map(|(len, fill)| std::iter::repeat_n(fill, len).collect())
    }

    /// A report that keeps its schema at `version`, but for at most one field (of any version)
    /// given any value or left out.
    fn near_valid_report(version: u16) -> impl Strategy<Value = String> {
        let optional: Vec<_> = fields_at(version)
            .iter()
            .filter(|(name, _)| {
                ![
                    "event_date",
                    "event_type",
                    "sub_event_type",
                    "actor1",
                    "fatalities",
                ]
                .contains(name)
            })
            .map(|&(name, kind)| prop::option::of(fitting(kind)).prop_map(move |v| (name, v)))
            .collect();
        let category = (
            0..taxonomy::EVENT_TYPES.len(),
            any::<prop::sample::Index>(),
            any::<bool>(),
        );
        let base = (
            fitting("id"),
            fitting("date"),
            category,
            fitting("text"),
            fitting("number"),
            optional,
        );
        let twist = (
            0..INCIDENT_FIELDS.len() + 2,
            prop::option::of(value_of_any_kind()),
        );
        (base, twist).prop_map(
            |((id, date, (t, sub, with_sub), actor1, fatalities, optional), (at, wild))| {
                let (event_type, subs) = taxonomy::EVENT_TYPES[t];
                let mut members: Vec<(&str, Option<String>)> = vec![
                    ("incident_id", Some(id)),
                    ("event_date", Some(date)),
                    ("event_type", Some(json_string(event_type))),
                    (
                        "sub_event_type",
                        with_sub.then(|| json_string(sub.get(subs))),
                    ),
                    ("actor1", Some(actor1)),
                    ("fatalities", Some(fatalities)),
                ];
                members.extend(optional);
                let mut names: Vec<&str> = vec!["incident_id"];
                names.extend(INCIDENT_FIELDS.iter().map(|(name, _)| *name));
                if let Some(name) = names.get(at) {
                    match members.iter_mut().find(|(n, _)| n == name) {
                        Some(member) => member.1 = wild,
                        None => members.push((name, wild)),
                    }
                }
                let members: Vec<String> = members
                    .into_iter()
                    .filter_map(|(name, v)| Some(format!("{}:{}", json_string(name), v?)))
                    .collect();
                format!("{{{}}}", members.join(","))
            },
        )
    }

    fn value_of_any_kind() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "id", "date", "type", "sub", "number", "code", "sources", "dataset", "text",
        ])
        .prop_flat_map(value)
    }

    fn reported(version: u16) -> impl Strategy<Value = String> {
        let mut fields = vec![("incident_id", "id")];
        fields.extend(INCIDENT_FIELDS);
        prop_oneof![object(fields, 0.7), near_valid_report(version)]
    }

    /// An object of one to three fields that fit `changes` at `version`, or null.
    fn near_valid_changes(version: u16) -> impl Strategy<Value = String> {
        let fitting_change =
            prop::sample::select(fields_at(version)).prop_flat_map(|(name, kind)| {
                let value = match kind {
                    "type" => event_type().prop_map(json_string).boxed(),
                    "sub" => sub_event_type().prop_map(json_string).boxed(),
                    _ => fitting(kind),
                };
                prop_oneof![4 => value, 1 => Just("null".to_string())]
                    .prop_map(move |v| format!("{}:{v}", json_string(name)))
            });
        prop::collection::vec(fitting_change, 1..4)
            .prop_map(|members| format!("{{{}}}", members.join(",")))
    }

    fn corrected(version: u16) -> impl Strategy<Value = String> {
        let changes = prop_oneof![
            3 => near_valid_changes(version),
            1 => object(INCIDENT_FIELDS.to_vec(), 0.1),
            1 => object(INCIDENT_FIELDS.to_vec(), 0.01),
            1 => Just("[]".to_string()),
        ];
        // Version 3's `contested`, at every version (where it is refused), often with `changes`
        // empty.
        let contested = prop_oneof![
            3 => Just(None),
            1 => near_valid_changes(version).prop_map(Some),
        ];
        (value("id"), changes, contested, value("text"), 0..8u8).prop_map(
            |(id, changes, contested, reason, shape)| {
                let (changes, contested) = match contested {
                    Some(contested) if shape % 2 == 0 => {
                        ("{}".to_string(), format!(",\"contested\":{contested}"))
                    }
                    Some(contested) => (changes, format!(",\"contested\":{contested}")),
                    None => (changes, String::new()),
                };
                match shape {
                    0 => format!("{{\"incident_id\":{id},\"changes\":{changes}{contested}}}"),
                    1 => format!("[{id},{changes},{reason}]"),
                    _ => format!("{{\"incident_id\":{id},\"changes\":{changes}{contested},\"reason\":{reason}}} "),
                }
            },
        )
    }

    /// A retraction's, withdrawal's or reinstatement's payload.
    fn notice() -> impl Strategy<Value = String> {
        (value("id"), value("text"))
            .prop_map(|(id, reason)| format!("{{\"incident_id\":{id},\"reason\":{reason}}}"))
    }

    /// Payloads of every hand-checked type and version, with the version they are checked at.
    fn payloads() -> impl Strategy<Value = (EventType, u16, String)> {
        prop_oneof![
            reported(1).prop_map(|p| (EventType::IncidentReported, 1, p)),
            reported(2).prop_map(|p| (EventType::IncidentReported, 2, p)),
            corrected(1).prop_map(|p| (EventType::IncidentCorrected, 1, p)),
            corrected(2).prop_map(|p| (EventType::IncidentCorrected, 2, p)),
            corrected(3).prop_map(|p| (EventType::IncidentCorrected, 3, p)),
            notice().prop_map(|p| (EventType::IncidentRetracted, 1, p)),
            notice().prop_map(|p| (EventType::IncidentWithdrawn, 1, p)),
            notice().prop_map(|p| (EventType::IncidentReinstated, 1, p)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 3000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The hand check never accepts what the validator refuses, and `check` gives the
        /// verdict and the words of parse, validate and type, in that order.
        #[test]
        fn check_says_what_the_validator_says((event_type, version, payload) in payloads()) {
            let bytes = payload.as_bytes();
            let expected = reference(event_type, version, bytes);
            if Payload::parse(event_type, bytes).is_ok_and(|p| hand_checked(&p, version)) {
                prop_assert!(expected.is_ok(), "hand-checked, but: {:?}", expected.err().map(|e| words(&e)));
            }
            let checked = schemas().check(event_type, version, bytes);
            match (&checked, &expected) {
                (Ok(_), Ok(())) => {}
                (Err(got), Err(want)) => prop_assert_eq!(words(got), words(want)),
                _ => prop_assert!(false, "check {:?}, reference {:?}",
                    checked.as_ref().map(drop).map_err(words), expected.as_ref().map_err(words)),
            }
        }
    }

    /// The workload of benches/compare.sh, and a report with every field, take the hand check
    /// at every version that has their fields; the fields version 2 adds take it only there.
    #[test]
    fn common_incident_payloads_are_hand_checked() {
        let cases = [
            (
                EventType::IncidentReported,
                &[1, 2][..],
                r#"{"incident_id":"MLI3","event_type":"Battles","actor1":"JNIM","admin1":"Gao","fatalities":3,"event_date":"2023-01-04","notes":"report text"}"#,
            ),
            (
                EventType::IncidentReported,
                &[1, 2],
                r#"{"incident_id":"x-1","event_date":"2024-02-29","event_type":"Battles",
                   "sub_event_type":"Armed clash","actor1":"A","actor2":"B","assoc_actor_1":"C",
                   "country":"Mali","admin1":"Gao","admin2":"G","admin3":"H","location":"L",
                   "latitude":15,"longitude":-0.5,"fatalities":0,"sources":["s"],"notes":"",
                   "source_dataset":{"name":"ACLED","release":"r","id":"1"}}"#,
            ),
            (
                EventType::IncidentReported,
                &[2],
                r#"{"incident_id":"ucdp:36211","event_date":"2009-08-07","event_date_end":"2009-09-10",
                   "date_precision":5,"event_type":"Battles","actor1":"A","latitude":5.4,
                   "longitude":26.5,"geo_precision":7,"fatalities":4,"fatalities_low":4,
                   "fatalities_high":4,"source_timestamp":1693000000,
                   "source_dataset":{"name":"UCDP GED","release":"23.1","id":"36211"}}"#,
            ),
            (
                EventType::IncidentCorrected,
                &[1, 2],
                r#"{"incident_id":"MLI3","changes":{"fatalities":2,"actor2":null},"reason":"revised casualty count"}"#,
            ),
            (
                EventType::IncidentCorrected,
                &[2],
                r#"{"incident_id":"MLI3","changes":{"date_precision":1,"event_date_end":null},"reason":"the day is known"}"#,
            ),
            (
                EventType::IncidentRetracted,
                &[1],
                r#"{"incident_id":"MLI3","reason":"duplicate"}"#,
            ),
        ];
        for (event_type, versions, payload) in cases {
            let typed = Payload::parse(event_type, payload.as_bytes()).unwrap();
            for version in [1, 2] {
                let fits = versions.contains(&version);
                assert_eq!(hand_checked(&typed, version), fits, "v{version} {payload}");
                if event_type != EventType::IncidentRetracted {
                    assert_eq!(
                        reference(event_type, version, payload.as_bytes()).is_ok(),
                        fits,
                        "v{version} {payload}"
                    );
                }
            }
        }
    }
}
