//! ACLED's event types and the sub-event types of each: the one list the rules and the
//! importers use. The schemas spell the same lists as JSON enums (they must, to validate a
//! payload alone); a test here checks that every one of them agrees with this list.
//!
//! It only names categories; whether an incident's pair is allowed is [`crate::rules`]' call.

/// Each ACLED event type with its sub-event types, in ACLED's order.
pub const EVENT_TYPES: [(&str, &[&str]); 6] = [
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

/// The sub-event types of an event type; `None` when it is not an ACLED event type.
pub fn sub_event_types(event_type: &str) -> Option<&'static [&'static str]> {
    EVENT_TYPES
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, subs)| *subs)
}

/// Whether `sub_event_type` is one of `event_type`'s.
pub fn belongs(event_type: &str, sub_event_type: &str) -> bool {
    sub_event_types(event_type).is_some_and(|subs| subs.contains(&sub_event_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::schema::schema_json as schema;
    use serde_json::Value;

    fn strings(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect()
    }

    fn all_types() -> Vec<&'static str> {
        EVENT_TYPES.iter().map(|(t, _)| *t).collect()
    }

    fn all_sub_types() -> Vec<&'static str> {
        EVENT_TYPES
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect()
    }

    #[test]
    fn the_report_schema_lists_the_same_types_sub_types_and_pairs() {
        let reported = schema(EventType::IncidentReported);
        let properties = &reported["properties"];
        assert_eq!(strings(&properties["event_type"]["enum"]), all_types());
        assert_eq!(
            strings(&properties["sub_event_type"]["enum"]),
            all_sub_types()
        );
        let pairs: Vec<(&str, Vec<&str>)> = reported["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| {
                (
                    rule["if"]["properties"]["event_type"]["const"]
                        .as_str()
                        .unwrap(),
                    strings(&rule["then"]["properties"]["sub_event_type"]["enum"]),
                )
            })
            .collect();
        let ours: Vec<(&str, Vec<&str>)> =
            EVENT_TYPES.iter().map(|(t, s)| (*t, s.to_vec())).collect();
        assert_eq!(pairs, ours);
    }

    #[test]
    fn the_correction_schema_lists_the_same_types_and_sub_types() {
        let corrected = schema(EventType::IncidentCorrected);
        let changes = &corrected["$defs"]["fields"]["properties"];
        assert_eq!(strings(&changes["event_type"]["enum"]), all_types());
        let subs = &changes["sub_event_type"]["enum"];
        assert_eq!(strings(subs), all_sub_types());
        // null clears the field; nothing else may be in the list besides the names.
        let others: Vec<&Value> = subs
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| !v.is_string())
            .collect();
        assert_eq!(others, [&Value::Null]);
    }

    #[test]
    fn a_sub_type_belongs_only_to_its_own_type() {
        assert!(belongs("Battles", "Armed clash"));
        assert!(!belongs("Riots", "Armed clash"));
        assert!(!belongs("Fights", "Armed clash"));
    }
}
