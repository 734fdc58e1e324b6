//! Projections, time travel and export through the real binary, on a small ledger whose every
//! view is computed by hand below.
//!
//! | seq  | by    | event                                                                      |
//! |------|-------|----------------------------------------------------------------------------|
//! | 0    | admin | genesis                                                                    |
//! | 1    | admin | inv enrolled as investigator                                               |
//! | 2-4  | inv   | reported t-1 (Gao, JNIM, 3), t-2 (Mopti, Wagner Group, 10), t-3 (Gao, JNIM, 7) |
//! | 5-7  | inv   | corrected t-1 (fatalities 4, actor2 cleared); reported t-4; accord signed  |
//! | 8-12 | inv   | retracted t-2; 2 mandate changes; accord in force; ddr stalled             |
//! | 13   | inv   | accord initialled (recorded late, effective earliest)                      |
//! | 14   | inv   | evidence anchored to t-3                                                   |
//! | 15   | admin | inv revoked                                                                |

use crate::common::{
    assert_refused, describe, incident, project_csv, wait_for_sled_lock_release, Fixture,
};
use ledger::projection::{self, Refresh};
use ledger::Ledger;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;

/// Every projection, in registry order.
const VIEWS: [&str; 8] = [
    "incidents",
    "incident-history",
    "regions",
    "accord-status",
    "mandate-timeline",
    "evidence",
    "authors",
    "custody",
];
const EVIDENCE: &[u8] = b"witness statement, transcribed\n";

fn event(kind: &str, data: Value) -> String {
    let event: serde_json::Map<String, Value> =
        [("type".into(), kind.into()), ("data".into(), data)]
            .into_iter()
            .collect();
    Value::Object(event).to_string()
}

fn report(id: &str, date: &str, kind: &str, actor1: &str, admin1: &str, deaths: u64) -> Value {
    json!({"incident_id": id, "event_date": date, "event_type": kind, "actor1": actor1,
           "country": "Mali", "admin1": admin1, "fatalities": deaths})
}

fn small_ledger() -> Fixture {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    Fixture::from_template(&TEMPLATE, build_small_ledger)
}

fn build_small_ledger() -> Fixture {
    let f = Fixture::new();
    let mut t1 = report("t-1", "2023-08-01", "Battles", "JNIM", "Gao", 3);
    t1["sub_event_type"] = json!("Armed clash");
    t1["actor2"] = json!("Military Forces of Mali");
    t1["admin2"] = json!("Ansongo");
    t1["location"] = json!("Ansongo");
    t1["latitude"] = json!(15.66);
    t1["longitude"] = json!(0.5);
    t1["admin3"] = json!("Bourra");
    t1["sources"] = json!(["MINUSMA; weekly report", "Studio Tamani"]);
    t1["notes"] = json!("Clash at the market, \"heavy\" fire");
    f.append_ok(&[
        event("incident.reported", t1),
        event(
            "incident.reported",
            report(
                "t-2",
                "2023-08-15",
                "Violence against civilians",
                "Wagner Group",
                "Mopti",
                10,
            ),
        ),
        event(
            "incident.reported",
            report("t-3", "2023-09-02", "Battles", "JNIM", "Gao", 7),
        ),
    ]);
    let mut t4 = report(
        "t-4",
        "2023-09-20",
        "Battles",
        "=HYPERLINK(\"x\")",
        "Gao",
        1,
    );
    t4["location"] = json!("-12");
    t4["admin2"] = json!("-Ansongo");
    f.append_ok(&[
        event(
            "incident.corrected",
            json!({"incident_id": "t-1", "changes": {"fatalities": 4, "actor2": null, "assoc_actor_1": "Wagner Group"},
                   "reason": "panel report S/2024/1"}),
        ),
        event("incident.reported", t4),
        accord(None, "signed", "2015-05-15", "S/2015/426"),
    ]);
    f.append_ok(&[
        event(
            "incident.retracted",
            json!({"incident_id": "t-2", "reason": "duplicate of t-3"}),
        ),
        event(
            "mandate.changed",
            json!({"mission": "MINUSMA", "resolution": "S/RES/2100 (2013)", "action": "established",
                   "adopted_date": "2013-04-25", "mandate_until": "2014-06-30",
                   "troop_ceiling": 11200, "police_ceiling": 1440}),
        ),
        event(
            "mandate.changed",
            json!({"mission": "MINUSMA", "resolution": "S/RES/2164 (2014)", "action": "renewed",
                   "adopted_date": "2014-06-25", "mandate_until": "2015-06-30"}),
        ),
        accord(None, "in_force", "2015-06-20", "S/2015/426"),
        accord(
            Some("ddr"),
            "implementation_stalled",
            "2019-12-31",
            "Carter Center",
        ),
    ]);
    f.append_ok(&[accord(None, "initialled", "2015-03-01", "Notre Dame PAM")]);
    let file = f.path("statement.txt");
    std::fs::write(&file, EVIDENCE).unwrap();
    f.run_ok(
        &[
            "attach",
            "--key",
            f.inv_key.to_str().unwrap(),
            "--incident",
            "t-3",
            "--media-type",
            "text/plain",
            file.to_str().unwrap(),
        ],
        None,
    );
    f.revoke_inv();
    f
}

fn accord(provision: Option<&str>, status: &str, date: &str, source: &str) -> String {
    let mut data = json!({"accord": "algiers-2015", "status": status, "effective_date": date,
                          "source": source});
    if let Some(provision) = provision {
        data["provision"] = json!(provision);
    }
    event("accord.status_changed", data)
}

fn csv_of(f: &Fixture, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["project", name, "--format", "csv"];
    args.extend_from_slice(extra);
    f.run_ok(&args, None)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn show(f: &Fixture, seq: u64) -> Value {
    serde_json::from_str(&f.run_ok(&["show", &seq.to_string(), "--format", "json"], None))
        .expect("show prints JSON")
}

#[test]
fn every_projection_matches_its_hand_computed_rows() {
    let f = small_ledger();
    assert_eq!(
        lines(&csv_of(&f, "incidents", &[])),
        [
            "incident_id,event_date,event_type,sub_event_type,actor1,actor2,country,admin1,admin2,location,latitude,longitude,fatalities,status,revisions,reported_seq,last_seq,reported_by,last_changed_by,assoc_actor_1,admin3,sources,notes,source_dataset,source_release,source_id,event_date_end,date_precision,geo_precision,fatalities_low,fatalities_high,source_timestamp",
            r#"t-1,2023-08-01,Battles,Armed clash,JNIM,,Mali,Gao,Ansongo,Ansongo,15.66,0.5,4,active,1,2,5,inv,inv,Wagner Group,Bourra,"[""MINUSMA; weekly report"",""Studio Tamani""]","Clash at the market, ""heavy"" fire",,,,,,,,,"#,
            "t-2,2023-08-15,Violence against civilians,,Wagner Group,,Mali,Mopti,,,,,10,retracted,0,3,8,inv,inv,,,,,,,,,,,,,",
            "t-3,2023-09-02,Battles,,JNIM,,Mali,Gao,,,,,7,active,0,4,4,inv,inv,,,,,,,,,,,,,",
            r#"t-4,2023-09-20,Battles,,"'=HYPERLINK(""x"")",,Mali,Gao,'-Ansongo,-12,,,1,active,0,6,6,inv,inv,,,,,,,,,,,,,"#,
        ]
    );
    assert_eq!(
        lines(&csv_of(&f, "regions", &[])),
        [
            "admin1,actor1,month,incidents,fatalities",
            r#"Gao,"'=HYPERLINK(""x"")",2023-09,1,1"#,
            "Gao,JNIM,2023-08,1,4",
            "Gao,JNIM,2023-09,1,7",
        ]
    );
    assert_eq!(
        lines(&csv_of(&f, "accord-status", &[])),
        [
            "accord,provision,status,since,changes,last_seq,source",
            "algiers-2015,,in_force,2015-06-20,3,13,S/2015/426",
            "algiers-2015,ddr,implementation_stalled,2019-12-31,1,12,Carter Center",
        ]
    );
    assert_eq!(
        lines(&csv_of(&f, "mandate-timeline", &[])),
        [
            "mission,resolution,action,adopted_date,mandate_until,troop_ceiling,police_ceiling,days_in_force",
            "MINUSMA,S/RES/2100 (2013),established,2013-04-25,2014-06-30,11200,1440,426",
            "MINUSMA,S/RES/2164 (2014),renewed,2014-06-25,2015-06-30,11200,1440,370",
        ]
    );
    assert_eq!(
        lines(&csv_of(&f, "evidence", &[])),
        [
            "incident_id,filename,blake3,sha256,bytes,media_type,anchored_seq,anchored_by,anchored_at,captured_at,custody_note,source_url,capture_method,capture_tool,derived_from,custody_events,disposed_seq"
                .to_string(),
            format!(
                "t-3,statement.txt,{},{},{},text/plain,14,inv,{},,,,,,,0,",
                blake3::hash(EVIDENCE).to_hex(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(EVIDENCE)),
                EVIDENCE.len(),
                show(&f, 14)["recorded_at"].as_str().unwrap()
            ),
        ]
    );
    assert_eq!(
        lines(&csv_of(&f, "authors", &[])),
        [
            "name,role,public_key,enrolled_seq,revoked_seq,entries,revocation_reason".to_string(),
            format!("admin,admin,{},0,,3,", f.admin_public),
            format!("inv,investigator,{},1,15,13,left the panel", f.inv_public),
        ]
    );
    // `key list` says the same of each key, from the keys the ledger keeps for its readers.
    let keys: Vec<Value> =
        crate::common::json_lines(&f.run_ok(&["key", "list", "--format", "ndjson"], None));
    let reasons: Vec<(&Value, &Value)> = keys
        .iter()
        .map(|k| (&k["name"], &k["revocation_reason"]))
        .collect();
    assert_eq!(
        reasons,
        [
            (&json!("admin"), &Value::Null),
            (&json!("inv"), &json!("left the panel"))
        ]
    );
    // The audit trail, without the recorded_at column (the ledger's clock).
    let history = csv_of(&f, "incident-history", &[]);
    let mut reader = csv::Reader::from_reader(history.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "incident_id",
            "seq",
            "recorded_at",
            "action",
            "author",
            "changes",
            "reason",
            "contested"
        ]
    );
    let trail: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(
                r[2].to_string(),
                show(&f, r[1].parse().unwrap())["recorded_at"]
            );
            [0, 1, 3, 4, 5, 6]
                .iter()
                .map(|&i| r[i].to_string())
                .collect()
        })
        .collect();
    let row = |cells: [&str; 6]| cells.map(str::to_string).to_vec();
    assert_eq!(
        trail,
        [
            row([
                "t-1",
                "2",
                "reported",
                "inv",
                r#"{"event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","country":"Mali","admin1":"Gao","fatalities":3,"sub_event_type":"Armed clash","actor2":"Military Forces of Mali","admin2":"Ansongo","location":"Ansongo","latitude":15.66,"longitude":0.5,"admin3":"Bourra","sources":["MINUSMA; weekly report","Studio Tamani"],"notes":"Clash at the market, \"heavy\" fire"}"#,
                ""
            ]),
            row([
                "t-1",
                "5",
                "corrected",
                "inv",
                r#"{"fatalities":4,"actor2":null,"assoc_actor_1":"Wagner Group"}"#,
                "panel report S/2024/1"
            ]),
            row([
                "t-2",
                "3",
                "reported",
                "inv",
                r#"{"event_date":"2023-08-15","event_type":"Violence against civilians","actor1":"Wagner Group","country":"Mali","admin1":"Mopti","fatalities":10}"#,
                ""
            ]),
            row(["t-2", "8", "retracted", "inv", "", "duplicate of t-3"]),
            row([
                "t-3",
                "4",
                "reported",
                "inv",
                r#"{"event_date":"2023-09-02","event_type":"Battles","actor1":"JNIM","country":"Mali","admin1":"Gao","fatalities":7}"#,
                ""
            ]),
            row([
                "t-4",
                "6",
                "reported",
                "inv",
                r#"{"event_date":"2023-09-20","event_type":"Battles","actor1":"=HYPERLINK(\"x\")","country":"Mali","admin1":"Gao","fatalities":1,"location":"-12","admin2":"-Ansongo"}"#,
                ""
            ]),
        ]
    );
}

#[test]
fn as_of_a_seq_or_a_time_shows_what_the_ledger_said_then() {
    let f = small_ledger();
    let after_first_batch = [
        "admin1,actor1,month,incidents,fatalities",
        "Gao,JNIM,2023-08,1,3",
        "Gao,JNIM,2023-09,1,7",
        "Mopti,Wagner Group,2023-08,1,10",
    ];
    assert_eq!(
        lines(&csv_of(&f, "regions", &["--as-of", "4"])),
        after_first_batch
    );
    let recorded_at = show(&f, 4)["recorded_at"].as_str().unwrap().to_string();
    assert_eq!(
        lines(&csv_of(&f, "regions", &["--as-of", &recorded_at])),
        after_first_batch
    );
    // One microsecond before seq 2 was recorded, no incident was known.
    let before: chrono::DateTime<chrono::Utc> = show(&f, 2)["recorded_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let before = (before - chrono::Duration::microseconds(1)).to_rfc3339();
    assert_eq!(
        lines(&csv_of(&f, "incidents", &["--as-of", &before])).len(),
        1
    );
    // A date includes its whole day; the day before the ledger existed shows nothing at all.
    let today = &recorded_at[..10];
    assert_eq!(
        csv_of(&f, "incidents", &["--as-of", today]),
        csv_of(&f, "incidents", &[])
    );
    assert_eq!(
        lines(&csv_of(&f, "authors", &["--as-of", "2000-01-01"])).len(),
        1
    );
    // The accord as the ledger knew it after seq 7: only the signature.
    assert_eq!(
        lines(&csv_of(&f, "accord-status", &["--as-of", "7"]))[1..],
        ["algiers-2015,,signed,2015-05-15,1,7,S/2015/426"]
    );
    // Knowledge time and event time combine: t-1 before its correction, August only.
    assert_eq!(
        lines(&csv_of(
            &f,
            "regions",
            &["--as-of", "4", "--to", "2023-08-31"]
        ))[1..],
        ["Gao,JNIM,2023-08,1,3", "Mopti,Wagner Group,2023-08,1,10"]
    );
}

#[test]
fn from_and_to_filter_on_event_time() {
    let f = small_ledger();
    let ids = |extra: &[&str]| -> Vec<String> {
        let text = csv_of(&f, "incidents", extra);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| r.unwrap()[0].to_string())
            .collect()
    };
    assert_eq!(ids(&["--from", "2023-08-15"]), ["t-2", "t-3", "t-4"]);
    assert_eq!(
        ids(&["--from", "2023-08-02", "--to", "2023-09-02"]),
        ["t-2", "t-3"]
    );
    // The accord as it stood on 2015-06-01 by effective date: signed, after initialling.
    assert_eq!(
        lines(&csv_of(&f, "accord-status", &["--to", "2015-06-01"]))[1..],
        ["algiers-2015,,signed,2015-05-15,2,13,S/2015/426"]
    );
    assert_eq!(
        lines(&csv_of(&f, "mandate-timeline", &["--from", "2014-01-01"])).len(),
        2
    );
    let out = f.run(&["project", "authors", "--from", "2020-01-01"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        describe(&["project"], &out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("authors has no event time"));
}

#[test]
fn empty_answers_explain_themselves() {
    let f = small_ledger();
    // Before the first entry: the answer is an empty view, and a note says why.
    let first = show(&f, 0)["recorded_at"].as_str().unwrap().to_string();
    let out = f.run(
        &[
            "project",
            "incidents",
            "--format",
            "csv",
            "--as-of",
            "2000-01-01",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(
        stderr,
        format!("ledger: nothing had been recorded by 2000-01-01T23:59:59.999999Z: the ledger's first entry was recorded at {first}, so the view is empty; pass a later --as-of\n")
    );
    // Once something was recorded, an empty view needs no note.
    let out = f.run(&["project", "incidents", "--as-of", &first], None);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        describe(&[], &out)
    );
    let dir = f.path("export");
    let dir = dir.to_str().unwrap();
    let out = f.run(&["export", "--dir", dir, "--as-of", "2000-01-01"], None);
    assert!(out.status.success(), "{}", describe(&[], &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing had been recorded by 2000-01-01"),
        "{}",
        describe(&[], &out)
    );

    // A seq past the head and a range that ends before it starts mean nothing: refused.
    f.run_ok(&["project", "incidents", "--as-of", "15"], None);
    let past = [
        "seq 16 is past the ledger's last entry (seq 15)",
        "--as-of 15 or less",
    ];
    assert_refused(
        &f.run(&["project", "incidents", "--as-of", "16"], None),
        &past,
    );
    assert_refused(
        &f.run(&["export", "--dir", dir, "--as-of", "16"], None),
        &past,
    );
    f.run_ok(
        &[
            "project",
            "incidents",
            "--from",
            "2023-08-01",
            "--to",
            "2023-08-01",
        ],
        None,
    );
    let swapped = [
        "project",
        "regions",
        "--from",
        "2023-09-01",
        "--to",
        "2023-08-01",
    ];
    assert_refused(
        &f.run(&swapped, None),
        &[
            "the event-time range starts on 2023-09-01, after it ends on 2023-08-01",
            "--from",
        ],
    );
}

#[test]
fn csv_read_back_equals_the_json_rows() {
    let f = small_ledger();
    for name in VIEWS {
        let json: Vec<BTreeMap<String, Value>> =
            serde_json::from_str(&f.run_ok(&["project", name, "--format", "json"], None)).unwrap();
        let ndjson: Vec<BTreeMap<String, Value>> = f
            .run_ok(&["project", name, "--format", "ndjson"], None)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json, ndjson, "{name}");
        let text = csv_of(&f, name, &[]);
        assert!(!text.contains('\r'), "{name}: CSV lines end in LF");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), json.len(), "{name}");
        for (record, object) in rows.iter().zip(&json) {
            for (column, cell) in headers.iter().zip(record) {
                let expected = match &object[column] {
                    Value::Null => String::new(),
                    Value::String(s)
                        if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() =>
                    {
                        format!("'{s}")
                    }
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(cell, expected, "{name}, column {column}");
            }
        }
    }
}

fn export(f: &Fixture, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["export", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    f.run_ok(&args, None);
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn export_is_byte_identical_for_the_same_state_and_its_manifest_tells_which() {
    let f = small_ledger();
    let (first, second, rebuilt) = (f.path("first"), f.path("second"), f.path("rebuilt"));
    let manifest = export(&f, &first, &[]);
    export(&f, &second, &[]);
    export(&f, &rebuilt, &["--rebuild"]);
    let names: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = VIEWS.iter().map(|v| format!("{v}.csv")).collect();
    assert_eq!(names, expected);
    for name in names.iter().chain(&["manifest.json"]) {
        let bytes = std::fs::read(first.join(name)).unwrap();
        assert_eq!(bytes, std::fs::read(second.join(name)).unwrap(), "{name}");
        assert_eq!(bytes, std::fs::read(rebuilt.join(name)).unwrap(), "{name}");
    }
    for file in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(first.join(file["name"].as_str().unwrap())).unwrap();
        assert_eq!(file["blake3"], blake3::hash(&bytes).to_hex().as_str());
        let rows = csv::Reader::from_reader(bytes.as_slice()).records().count();
        assert_eq!(file["rows"], rows);
    }
    let head = show(&f, 15);
    assert_eq!(manifest["origin"], "test/ledger");
    assert_eq!(manifest["seq"], 15);
    assert_eq!(manifest["entry_hash"], head["hash"]);

    let past = export(&f, &f.path("past"), &["--as-of", "4"]);
    assert_eq!(past["seq"], 4);
    assert_eq!(past["entry_hash"], show(&f, 4)["hash"]);
    assert_eq!(past["files"][0]["rows"], 3);
}

/// A view's cache file, which the incremental mode resumes from.
fn cache_file(dir: &Path, view: &str) -> std::path::PathBuf {
    dir.join("cache").join(view)
}

#[test]
fn stored_state_is_thrown_away_when_the_log_no_longer_matches_it() {
    // Another ledger's cache for `incidents`, covering the same seq (15) of a different log:
    // used as it is, it would show t-1 to t-4 here.
    let other = small_ledger();
    csv_of(&other, "incidents", &[]);
    let foreign = std::fs::read(cache_file(&other.dir, "incidents")).expect("a cache");

    let f = Fixture::new();
    let lines: Vec<String> = (0..14).map(|i| incident(&format!("u-{i}"), i)).collect();
    f.append_ok(&lines);
    let rebuilt = csv_of(&f, "incidents", &["--rebuild"]);
    std::fs::write(cache_file(&f.dir, "incidents"), foreign).unwrap();
    let shown = csv_of(&f, "incidents", &[]);
    assert_eq!(shown, rebuilt);
    assert!(!shown.contains("t-1,"), "{shown}");
}

#[test]
fn a_damaged_cache_is_rebuilt_from_the_log() {
    let f = Fixture::new();
    let reports: Vec<String> = (0..400)
        .map(|i| incident(&format!("d-{i}"), i % 9))
        .collect();
    f.append_ok(&reports);
    csv_of(&f, "regions", &[]);
    let cache = cache_file(&f.dir, "regions");
    let written = std::fs::read(&cache).expect("a cache");
    // Corrections and retractions of earlier incidents: the catch-up must read their records.
    let later: Vec<String> = (0..40)
        .map(|i| match i % 2 {
            0 => format!(
                r#"{{"type":"incident.corrected","data":{{"incident_id":"d-{i}","changes":{{"fatalities":100,"admin1":"Kidal"}},"reason":"recount"}}}}"#
            ),
            _ => format!(
                r#"{{"type":"incident.retracted","data":{{"incident_id":"d-{i}","reason":"duplicate"}}}}"#
            ),
        })
        .collect();
    f.append_ok(&later);
    let rebuilt = csv_of(&f, "regions", &["--rebuild"]);
    assert!(rebuilt.contains("Kidal"), "{rebuilt}");

    // A flipped byte in every page in turn: each reads as no cache. A `ledger` process per
    // flipped byte would cost more than the rest of this file, so the view is folded here, by
    // the same code, after checking that it prints what the binary prints.
    let ledger = Ledger::open(&f.dir, Duration::from_secs(5)).expect("open the ledger");
    let regions = [projection::by_name("regions").expect("a regions view")];
    let fold = |refresh| {
        project_csv(&ledger, Some(&f.dir), &regions, None, refresh)
            .remove(0)
            .1
    };
    assert_eq!(String::from_utf8(fold(Refresh::Rebuild)).unwrap(), rebuilt);
    for at in (0..written.len()).step_by(97) {
        let mut damaged = written.clone();
        damaged[at] ^= 0x40;
        std::fs::write(&cache, &damaged).unwrap();
        assert_eq!(
            String::from_utf8(fold(Refresh::Incremental)).unwrap(),
            rebuilt,
            "byte {at} flipped"
        );
    }
    drop(ledger);
    wait_for_sled_lock_release(&f.dir.join("sled"));

    // Through the binary: a cut-off file reads as no cache, and a sound cache from before the
    // corrections catches up to the same rows.
    std::fs::write(&cache, &written[..written.len() / 2]).unwrap();
    assert_eq!(csv_of(&f, "regions", &[]), rebuilt);
    std::fs::write(&cache, &written).unwrap();
    assert_eq!(csv_of(&f, "regions", &[]), rebuilt);
}

#[test]
fn project_list_names_every_projection_and_unknown_names_are_refused() {
    let f = Fixture::new();
    let list = f.run_ok(&["project", "--list"], None);
    for name in VIEWS {
        assert!(
            list.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{list}"
        );
    }
    let out = f.run(&["project", "incident"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no projection named \"incident\""),
        "{stderr}"
    );
    let out = f.run(&["project", "regions", "--as-of", "last week"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn export_folds_from_the_log_and_writes_nothing_in_the_ledger() {
    let f = small_ledger();
    // Views shown before leave caches; an export neither reads nor writes them.
    csv_of(&f, "incidents", &[]);
    std::fs::remove_dir_all(f.dir.join("cache")).unwrap();
    let manifest = export(&f, &f.path("out"), &[]);
    assert_eq!(manifest["built_from"], "log");
    assert!(
        !f.dir.join("cache").exists(),
        "the export wrote caches into the ledger's directory"
    );

    // Inside the ledger's directory, an export or a view is refused, and nothing is written.
    let before = crate::common::every_file(&f.dir);
    for args in [
        vec!["export", "--dir", f.dir.join("out").to_str().unwrap()],
        vec![
            "project",
            "incidents",
            "-o",
            f.dir.join("log").join("x.csv").to_str().unwrap(),
        ],
    ] {
        let refused = f.run(&args, None);
        crate::common::assert_refused(&refused, &["inside the ledger's directory", "elsewhere"]);
    }
    assert!(
        crate::common::every_file(&f.dir) == before,
        "a refused write changed the ledger"
    );

    // A directory with files no export wrote is not replaced.
    let mine = f.path("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let refused = f.run(&["export", "--dir", mine.to_str().unwrap()], None);
    crate::common::assert_refused(&refused, &["notes.txt", "which no export wrote", "--dir"]);
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);

    // An earlier export is replaced whole: a view file it had that is gone now goes too.
    let out = f.path("out");
    std::fs::remove_file(out.join("regions.csv")).unwrap();
    export(&f, &out, &["--as-of", "4"]);
    assert!(out.join("regions.csv").exists());
}
