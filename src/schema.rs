//! The JSON Schemas of event payloads (schemas/, draft 2020-12, embedded in the binary) and
//! validation with field-level messages. One schema per event type and version.
//!
//! It validates one payload at a time and knows nothing of storage, keys or rules between
//! entries (those are [`crate::rules`]).

use crate::event::EventType;
use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;

/// The embedded schema text of every (event type, schema version).
pub const SCHEMA_SOURCES: [(EventType, u16, &str); 9] = [
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
        EventType::IncidentCorrected,
        1,
        include_str!("../schemas/incident.corrected.v1.json"),
    ),
    (
        EventType::IncidentRetracted,
        1,
        include_str!("../schemas/incident.retracted.v1.json"),
    ),
    (
        EventType::EvidenceAnchored,
        1,
        include_str!("../schemas/evidence.anchored.v1.json"),
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

/// Compiled validators; built once and shared (validation is thread-safe).
pub struct Schemas {
    validators: HashMap<(EventType, u16), Validator>,
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
            validators.insert((event_type, version), validator);
        }
        Ok(Schemas { validators })
    }

    /// Validates a payload, reporting the first problem found.
    pub fn validate(
        &self,
        event_type: EventType,
        version: u16,
        payload: &Value,
    ) -> Result<(), SchemaError> {
        let validator =
            self.validators
                .get(&(event_type, version))
                .ok_or(SchemaError::UnknownVersion {
                    event_type,
                    version,
                })?;
        match validator.iter_errors(payload).next() {
            None => Ok(()),
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
