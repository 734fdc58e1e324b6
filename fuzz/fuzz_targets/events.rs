//! Event input (NDJSON or one JSON object) and each event's payload against its schema and
//! type: never a panic, whatever the bytes.
#![no_main]
use ledger::event::EventType;
use ledger::input::parse_events;
use ledger::schema::Schemas;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| Schemas::load().expect("the embedded schemas load"));
    let Ok(events) = parse_events(data) else { return };
    for event in events {
        if let Some(event_type) = EventType::parse(&event.event_type) {
            let _ = schemas.check(event_type, event_type.current_schema_version(), &event.payload);
        }
    }
});
