//! Text that cannot fight the terminal, through the real binary: control characters and bidi
//! overrides are refused in identifiers, kept as signed in free text, shown escaped wherever a
//! person reads them, and kept raw in JSON and CSV.

use crate::common::*;

const FORGED: &str = "x\u{1b}[2K\u{1b}[1Gseq-99-FORGED \u{202e}gnp.exe";

fn with_notes(id: &str, notes: &str) -> String {
    serde_json::json!({"type": "incident.reported", "data": {
        "incident_id": id, "event_date": "2023-08-01", "event_type": "Battles",
        "actor1": "JNIM", "fatalities": 3, "notes": notes}})
    .to_string()
}

#[test]
fn an_escape_sequence_in_notes_is_shown_escaped_to_a_person_and_kept_raw_as_data() {
    let f = Fixture::new();
    f.append_ok(&[with_notes("e-1", FORGED)]);
    let escaped = "x\\u{1b}[2K\\u{1b}[1Gseq-99-FORGED \\u{202e}gnp.exe";

    let table = f.run_ok(&["project", "incidents"], None);
    assert!(table.contains(escaped), "{table}");
    assert!(!table.contains('\u{1b}'), "{table}");

    let log = f.run_ok(&["log", "--format", "ndjson"], None);
    let seq = json_lines(&log)
        .iter()
        .find(|e| e.to_string().contains("e-1"))
        .and_then(|e| e["seq"].as_u64())
        .unwrap();
    // `show` prints the payload as JSON text, which escapes C0 itself; a bidi override it
    // would leave raw is escaped for the person.
    let shown = f.run_ok(&["show", &seq.to_string()], None);
    assert!(
        shown.contains("x\\u001b[2K") && shown.contains("\\u{202e}gnp.exe"),
        "{shown}"
    );
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{202e}'),
        "{shown}"
    );

    // JSON carries the text as signed: parsed back, the cell is the notes exactly.
    let json = f.run_ok(&["project", "incidents", "--format", "json"], None);
    assert!(
        json.contains(&serde_json::to_string(FORGED).unwrap()),
        "{json}"
    );
    let csv = f.run_ok(&["project", "incidents", "--format", "csv"], None);
    assert!(csv.contains(FORGED), "{csv}");
}

#[test]
fn an_incident_id_with_a_control_character_or_bidi_override_is_refused_naming_the_field() {
    let f = Fixture::new();
    let key = f.inv_key.to_str().unwrap().to_string();
    for id in [
        "x\u{1b}[2K",
        "a\u{0}b",
        "a\u{85}b",
        "a\u{7f}",
        "ab\u{202e}cd",
        "a\u{2067}b",
    ] {
        let before = f.snapshot();
        let out = f.run(
            &["append", "--key", &key, "-"],
            Some(&ndjson(&[with_notes(id, "n")])),
        );
        let line = assert_refused(&out, &["data.incident_id"]);
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{202e}'),
            "{line}"
        );
        assert!(before == f.snapshot(), "{id:?} changed the ledger");
    }
}

#[test]
fn a_release_label_with_a_control_character_is_refused_and_shown_escaped() {
    let f = Fixture::new();
    let release = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ucdp-ged-23.1-car/GEDEvent_v23_1_CAF.csv");
    let before = f.snapshot();
    let out = f.run(
        &[
            "import",
            "ucdp",
            release.to_str().unwrap(),
            "--key",
            f.inv_key.to_str().unwrap(),
            "--release",
            "23.1\u{1b}[2K",
        ],
        None,
    );
    let line = assert_refused(
        &out,
        &["release label", "23.1\\u{1b}[2K", "control character"],
    );
    assert!(!line.contains('\u{1b}'), "{line}");
    assert!(before == f.snapshot());
}
