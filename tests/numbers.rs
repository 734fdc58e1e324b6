//! Numbers with one meaning, through the real binary: an integer field of a payload is written
//! as a plain JSON integer within its range (FORMAT.md section 4), or the append is refused with
//! a sentence naming the field, and the ledger is left as it was.

use crate::common::*;
use std::collections::BTreeMap;

/// An incident.reported line whose `field` is written as the raw JSON text `number`.
fn reported(id: &str, field: &str, number: &str) -> String {
    let fatalities = if field == "fatalities" { number } else { "3" };
    let extra = if field == "fatalities" {
        String::new()
    } else {
        format!(r#","{field}":{number}"#)
    };
    format!(
        r#"{{"type":"incident.reported","data":{{"incident_id":"{id}","event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","fatalities":{fatalities}{extra}}}}}"#
    )
}

fn append(f: &Fixture, line: &str) -> std::process::Output {
    let key = f.inv_key.to_str().unwrap().to_string();
    f.run(
        &["append", "--key", &key, "-"],
        Some(&ndjson(&[line.to_string()])),
    )
}

#[test]
fn integers_written_with_a_fraction_an_exponent_or_minus_zero_or_out_of_range_are_refused() {
    let f = Fixture::new();
    let bad = [
        ("fatalities", "1.0"),
        ("fatalities", "1e2"),
        ("fatalities", "1E2"),
        ("fatalities", "-0"),
        ("fatalities", "4294967296"),
        ("fatalities", "9223372036854775808"),
        ("fatalities", "18446744073709551616"),
        ("fatalities_low", "2.0"),
        ("fatalities_high", "4294967296"),
        ("date_precision", "1.0"),
        ("geo_precision", "3e0"),
        ("source_timestamp", "1693000000.0"),
    ];
    for (i, (field, number)) in bad.into_iter().enumerate() {
        let before = f.snapshot();
        let out = append(&f, &reported(&format!("n-{i}"), field, number));
        assert_refused(&out, &[&format!("data.{field}")]);
        assert!(
            before == f.snapshot(),
            "{field} {number} changed the ledger"
        );
    }
    let in_range = [
        ("fatalities", "4294967295"),
        ("fatalities_low", "0"),
        ("source_timestamp", "18446744073709551615"),
    ];
    for (i, (field, number)) in in_range.into_iter().enumerate() {
        let out = append(&f, &reported(&format!("ok-{i}"), field, number));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{field} {number}: {}",
            describe(&[], &out)
        );
    }
    let incidents = f.run_ok(&["project", "incidents", "--format", "json"], None);
    assert!(incidents.contains("4294967295"), "{incidents}");
    f.assert_intact();
}

#[test]
fn a_correction_to_a_fraction_is_refused_and_named() {
    let f = Fixture::new();
    f.append_ok(&[incident("c-1", 3)]);
    let line = r#"{"type":"incident.corrected","data":{"incident_id":"c-1","changes":{"fatalities":7.0},"reason":"recount"}}"#;
    let before = f.snapshot();
    assert_refused(
        &append(&f, line),
        &["data.changes.fatalities", "plain JSON integer"],
    );
    assert!(before == f.snapshot());
}

/// Each `(admin1, actor1, month)` of the standing incidents in `incidents`, with their count and
/// fatalities summed, as `regions` should show them.
fn tallies_of_incidents(rows: &[serde_json::Value]) -> Vec<(String, String, String, u64, u64)> {
    let mut tallies = std::collections::BTreeMap::<(String, String, String), (u64, u64)>::new();
    for row in rows.iter().filter(|r| r["status"] == "active") {
        let text = |c: &str| row[c].as_str().unwrap_or_default().to_string();
        let month = text("event_date")[..7].to_string();
        let tally = tallies
            .entry((text("admin1"), text("actor1"), month))
            .or_default();
        tally.0 += 1;
        tally.1 += row["fatalities"].as_u64().expect("a whole fatality count");
    }
    tallies
        .into_iter()
        .map(|((a, b, c), (n, f))| (a, b, c, n, f))
        .collect()
}

fn tallies_of_regions(rows: &[serde_json::Value]) -> Vec<(String, String, String, u64, u64)> {
    let mut tallies: Vec<_> = rows
        .iter()
        .map(|row| {
            let text = |c: &str| row[c].as_str().unwrap_or_default().to_string();
            let whole = |c: &str| row[c].as_u64().expect("a whole number");
            (
                text("admin1"),
                text("actor1"),
                text("month"),
                whole("incidents"),
                whole("fatalities"),
            )
        })
        .collect();
    tallies.sort();
    tallies
}

/// Each incident's fatalities as `incidents` shows them in JSON.
fn fatalities_of_incidents(rows: &[serde_json::Value]) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|row| {
            let id = row["incident_id"].as_str().unwrap().to_string();
            (
                id,
                row["fatalities"].as_u64().expect("a whole fatality count"),
            )
        })
        .collect()
}

/// Each incident's fatalities as its history leaves them: the last value its report or a
/// correction stated, read from each row's `changes` as written.
fn fatalities_of_history(rows: &[serde_json::Value]) -> BTreeMap<String, u64> {
    let mut fatalities = BTreeMap::new();
    for row in rows {
        let changes: serde_json::Value =
            serde_json::from_str(row["changes"].as_str().unwrap_or("{}")).unwrap();
        if let Some(value) = changes.get("fatalities") {
            let id = row["incident_id"].as_str().unwrap().to_string();
            fatalities.insert(id, value.as_u64().expect("a whole fatality count"));
        }
    }
    fatalities
}

/// Each incident's fatalities in a CSV of the incidents view, as the text a spreadsheet reads.
fn fatalities_of_csv(csv: &[u8]) -> BTreeMap<String, u64> {
    csv::Reader::from_reader(csv)
        .deserialize::<BTreeMap<String, String>>()
        .map(|row| {
            let row = row.unwrap();
            let count = &row["fatalities"];
            // Digits only: no fraction, exponent or sign.
            assert!(count.bytes().all(|b| b.is_ascii_digit()), "{count:?}");
            (row["incident_id"].clone(), count.parse().unwrap())
        })
        .collect()
}

fn project(f: &Fixture, view: &str) -> Vec<serde_json::Value> {
    let json = f.run_ok(&["project", view, "--format", "json"], None);
    serde_json::from_str(&json).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Whatever integer counts are written (up to the top of their range) and corrected, every
    /// view that shows a number derived from them shows what `incidents` shows: `regions`' tallies
    /// are the sums of the standing incidents' fatalities, `incident-history`'s last stated count
    /// is the incident's, and the CSV of `project` and of `export` hold the same digits.
    #[test]
    fn every_view_agrees_with_incidents_on_every_number(
        reports in proptest::collection::vec((0usize..3, 0usize..2, 1u32..4, 0u32..=u32::MAX), 1..8),
        corrections in proptest::collection::vec((0usize..8, 0u32..=u32::MAX), 0..4),
    ) {
        let f = Fixture::new();
        let lines: Vec<String> = reports
            .iter()
            .enumerate()
            .map(|(i, (admin, actor, month, fatalities))| {
                format!(
                    r#"{{"type":"incident.reported","data":{{"incident_id":"p-{i}","event_date":"2023-0{month}-05","event_type":"Battles","actor1":"Actor {actor}","admin1":"Region {admin}","fatalities":{fatalities}}}}}"#
                )
            })
            .chain(corrections.iter().map(|(pick, fatalities)| {
                format!(
                    r#"{{"type":"incident.corrected","data":{{"incident_id":"p-{}","changes":{{"fatalities":{fatalities}}},"reason":"recount"}}}}"#,
                    pick % reports.len()
                )
            }))
            .collect();
        f.append_ok(&lines);
        let incidents = project(&f, "incidents");
        proptest::prop_assert_eq!(incidents.len(), reports.len());
        let regions = tallies_of_regions(&project(&f, "regions"));
        // Nothing is retracted, so every report stands and is tallied.
        proptest::prop_assert!(!regions.is_empty());
        proptest::prop_assert_eq!(&regions, &tallies_of_incidents(&incidents));

        // The history's last stated values, the CSV a spreadsheet reads, and an export's files.
        let fatalities = fatalities_of_incidents(&incidents);
        let history = project(&f, "incident-history");
        proptest::prop_assert_eq!(&fatalities_of_history(&history), &fatalities);
        let csv = f.run_ok(&["project", "incidents", "--format", "csv"], None);
        proptest::prop_assert_eq!(&fatalities_of_csv(csv.as_bytes()), &fatalities);
        let export = f.path("export");
        f.run_ok(&["export", "--dir", export.to_str().unwrap()], None);
        let exported = std::fs::read(export.join("incidents.csv")).unwrap();
        proptest::prop_assert_eq!(&fatalities_of_csv(&exported), &fatalities);
        let exported_regions: Vec<serde_json::Value> =
            csv::Reader::from_path(export.join("regions.csv"))
                .unwrap()
                .deserialize::<BTreeMap<String, String>>()
                .map(|row| {
                    let row = row.unwrap();
                    let whole = |c: &str| serde_json::Value::from(row[c].parse::<u64>().unwrap());
                    serde_json::json!({
                        "admin1": row["admin1"], "actor1": row["actor1"], "month": row["month"],
                        "incidents": whole("incidents"), "fatalities": whole("fatalities"),
                    })
                })
                .collect();
        proptest::prop_assert_eq!(tallies_of_regions(&exported_regions), regions);
    }
}

#[test]
fn a_coordinate_is_signed_with_every_digit_the_author_wrote() {
    let f = Fixture::new();
    let written = "90.0000000000000001";
    let line = reported("geo-1", "latitude", written);
    assert_eq!(append(&f, &line).status.code(), Some(0));
    let seq = f
        .run_ok(&["log", "--format", "ndjson"], None)
        .lines()
        .count() as u64
        - 1;
    let entry = f.entry_bytes(seq);
    assert!(
        entry
            .windows(written.len())
            .any(|w| w == written.as_bytes()),
        "the signed entry lost digits of {written}"
    );
    f.assert_intact();
}
