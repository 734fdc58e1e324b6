//! `ledger import` through the real binary: a real UCDP GED extract (1,848 events, CC BY 4.0,
//! see tests/data/README.md) and synthetic ACLED exports, all in tests/data/. The ACLED files
//! are invented events (ids start with X) in ACLED's current and older layouts, because ACLED's
//! own rows may not be redistributed.

use crate::common::{assert_refused, correction, describe, every_file, log_from, Fixture};
use csv::StringRecord;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use tempfile::TempDir;

/// The UCDP GED 23.1 extract.
fn ucdp_release() -> PathBuf {
    test_data("ucdp-ged-23.1-car/GEDEvent_v23_1_CAF.csv")
}

fn test_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn import(f: &Fixture, dataset: &str, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "import",
        dataset,
        file.to_str().unwrap(),
        "--key",
        f.inv_key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    f.run(&args, None)
}

/// Imports and insists that it succeeds; returns stdout.
fn import_ok(f: &Fixture, dataset: &str, file: &Path, extra: &[&str]) -> String {
    let out = import(f, dataset, file, extra);
    assert!(
        out.status.success(),
        "{}",
        describe(&["import", dataset], &out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The fixture with the UCDP extract imported as release 23.1, made once; what the import printed
/// is kept beside the ledger, in `import.out`.
fn with_ucdp_release() -> Fixture {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    Fixture::from_template(&TEMPLATE, || {
        let f = Fixture::new();
        let out = import_ok(&f, "ucdp", &ucdp_release(), &["--release", "23.1"]);
        std::fs::write(f.path("import.out"), out).unwrap();
        f
    })
}

fn head_seq(f: &Fixture) -> u64 {
    log_from(&f.dir, 0).last().unwrap()["seq"].as_u64().unwrap()
}

/// (type, data) of each entry.
fn statements(entries: &[Value]) -> Vec<(String, Value)> {
    entries
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_string(), e["data"].clone()))
        .collect()
}

type Rows = Vec<BTreeMap<String, String>>;

fn read_csv(bytes: &[u8]) -> Rows {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            header
                .iter()
                .zip(record.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The incidents view (`--as-of SEQ` if given), by incident_id.
fn incidents(f: &Fixture, as_of: Option<u64>) -> BTreeMap<String, BTreeMap<String, String>> {
    let as_of = as_of.map(|seq| seq.to_string());
    let mut args = vec!["project", "incidents", "--format", "csv"];
    if let Some(seq) = &as_of {
        args.extend(["--as-of", seq.as_str()]);
    }
    read_csv(f.run_ok(&args, None).as_bytes())
        .into_iter()
        .map(|row| (row["incident_id"].clone(), row))
        .collect()
}

/// The UCDP file: its header and rows.
fn ucdp_source() -> (StringRecord, Vec<StringRecord>) {
    let mut reader = csv::Reader::from_path(ucdp_release()).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

fn column(header: &StringRecord, name: &str) -> usize {
    header.iter().position(|c| c == name).unwrap()
}

/// Writes a CSV file and returns the line each data row starts on, counted from the bytes
/// written (line 1 is the header).
fn write_csv(path: &Path, header: &StringRecord, rows: &[StringRecord]) -> Vec<u64> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    writer.write_record(header).unwrap();
    let (mut lines, mut line, mut counted) = (Vec::new(), 1, 0);
    for row in rows {
        writer.flush().unwrap();
        let written = writer.get_ref();
        line += written[counted..].iter().filter(|&&b| b == b'\n').count() as u64;
        counted = written.len();
        lines.push(line);
        writer.write_record(row).unwrap();
    }
    std::fs::write(path, writer.into_inner().unwrap()).unwrap();
    lines
}

/// Makes a row malformed.
type Spoil = dyn Fn(&StringRecord) -> StringRecord;

fn with_cell(row: &StringRecord, index: usize, value: &str) -> StringRecord {
    row.iter()
        .enumerate()
        .map(|(i, cell)| if i == index { value } else { cell })
        .collect()
}

#[test]
fn a_ucdp_release_imports_verifies_and_exports_the_totals_of_its_source() {
    let f = with_ucdp_release();
    let out = std::fs::read_to_string(f.path("import.out")).unwrap();
    assert!(
        out.contains(
            "as release 23.1: 1848 rows, 1848 reported, 0 corrected, 0 withdrawn, 0 reinstated, 0 unchanged, 0 skipped"
        ),
        "{out}"
    );
    f.assert_intact();

    let dir = f.path("export");
    f.run_ok(&["export", "--dir", dir.to_str().unwrap()], None);
    let exported = read_csv(&std::fs::read(dir.join("incidents.csv")).unwrap());

    let (header, source) = ucdp_source();
    let (id, side_a, best) = (
        column(&header, "id"),
        column(&header, "side_a"),
        column(&header, "best"),
    );
    let mut expected_by_actor: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in &source {
        let entry = expected_by_actor
            .entry(row[side_a].to_string())
            .or_default();
        entry.0 += 1;
        entry.1 += row[best].parse::<u64>().unwrap();
    }
    let mut exported_by_actor: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in &exported {
        assert_eq!(row["status"], "active");
        // Where each incident comes from reaches the view, one column a part.
        let source_id = row["incident_id"].strip_prefix("ucdp:").unwrap();
        assert_eq!(
            [
                &row["source_dataset"],
                &row["source_release"],
                &row["source_id"]
            ],
            ["UCDP GED", "23.1", source_id]
        );
        let entry = exported_by_actor.entry(row["actor1"].clone()).or_default();
        entry.0 += 1;
        entry.1 += row["fatalities"].parse::<u64>().unwrap();
    }

    assert_eq!(exported.len(), 1848);
    assert_eq!(exported.len(), source.len());
    let expected_ids: BTreeSet<String> =
        source.iter().map(|r| format!("ucdp:{}", &r[id])).collect();
    let exported_ids: BTreeSet<String> =
        exported.iter().map(|r| r["incident_id"].clone()).collect();
    assert_eq!(exported_ids, expected_ids);
    let total =
        |by_actor: &BTreeMap<String, (u64, u64)>| by_actor.values().map(|v| v.1).sum::<u64>();
    assert_eq!(total(&exported_by_actor), total(&expected_by_actor));
    assert_eq!(exported_by_actor, expected_by_actor);
}

#[test]
fn a_revised_release_corrects_and_withdraws_exactly_what_changed_and_the_next_reinstates() {
    let f = with_ucdp_release();
    let (header, source) = ucdp_source();
    let (id, side_b, best) = (
        column(&header, "id"),
        column(&header, "side_b"),
        column(&header, "best"),
    );
    let revised_best = [3usize, 100, 1000];
    let revised_side_b = 500usize;
    let removed = [7usize, 800, 1500];
    let mut next = Vec::new();
    let mut expected_corrections = Vec::new();
    for (i, row) in source.iter().enumerate() {
        if removed.contains(&i) {
            continue;
        }
        let incident_id = format!("ucdp:{}", &row[id]);
        if revised_best.contains(&i) {
            let deaths = row[best].parse::<u64>().unwrap() + 10;
            next.push(with_cell(row, best, &deaths.to_string()));
            expected_corrections.push(json!({
                "incident_id": incident_id,
                "changes": {"fatalities": deaths},
                "reason": "changed in UCDP GED release 23.2"
            }));
        } else if i == revised_side_b {
            let actor2 = format!("{} (revised)", &row[side_b]);
            next.push(with_cell(row, side_b, &actor2));
            expected_corrections.push(json!({
                "incident_id": incident_id,
                "changes": {"actor2": actor2},
                "reason": "changed in UCDP GED release 23.2"
            }));
        } else {
            next.push(row.clone());
        }
    }
    let release_2 = f.path("GEDEvent_v23_2_CAF.csv");
    write_csv(&release_2, &header, &next);

    // A dry run, with no key, says what the import will do and writes nothing.
    let before_dry_run = every_file(&f.dir);
    let release_arg = release_2.to_str().unwrap();
    let dry_run = [
        "import",
        "ucdp",
        release_arg,
        "--release",
        "23.2",
        "--dry-run",
    ];
    let text = f.run_ok(&dry_run, None);
    assert!(
        text.starts_with("dry run: would import")
            && text.contains("0 reported, 4 corrected, 3 withdrawn, 0 reinstated, 1841 unchanged")
            && text.ends_with("nothing was written\n"),
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&f.run_ok(&[&dry_run[..], &["--format", "json"]].concat(), None))
            .unwrap();
    assert!(
        every_file(&f.dir) == before_dry_run,
        "a dry run writes nothing"
    );
    let planned: Vec<(String, String, Value)> = json["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let kind = p["event_type"].as_str().unwrap().to_string();
            let id = p["incident_id"].as_str().unwrap().to_string();
            (kind, id, p.get("fields").cloned().unwrap_or(Value::Null))
        })
        .collect();
    let expected_plan: Vec<(String, String, Value)> = (expected_corrections.iter())
        .map(|c| {
            let fields: Vec<&String> = c["changes"].as_object().unwrap().keys().collect();
            let id = c["incident_id"].as_str().unwrap().to_string();
            ("incident.corrected".to_string(), id, json!(fields))
        })
        .chain(removed.iter().map(|&i| {
            let id = format!("ucdp:{}", &source[i][id]);
            ("incident.withdrawn".to_string(), id, Value::Null)
        }))
        .collect();
    let sorted = |mut plan: Vec<(String, String, Value)>| {
        plan.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        plan
    };
    assert_eq!(sorted(planned), sorted(expected_plan));

    let first_head = head_seq(&f);
    let out = import_ok(&f, "ucdp", &release_2, &["--release", "23.2"]);
    assert!(
        out.contains("1845 rows, 0 reported, 4 corrected, 3 withdrawn, 0 reinstated, 1841 unchanged, 0 skipped"),
        "{out}"
    );

    let mut expected: Vec<(String, Value)> = expected_corrections
        .into_iter()
        .map(|data| ("incident.corrected".to_string(), data))
        .collect();
    let withdrawn: BTreeSet<String> = removed
        .iter()
        .map(|&i| format!("ucdp:{}", &source[i][id]))
        .collect();
    expected.extend(withdrawn.iter().map(|incident_id| {
        (
            "incident.withdrawn".to_string(),
            json!({"incident_id": incident_id, "reason": "no longer in UCDP GED release 23.2"}),
        )
    }));
    assert_eq!(statements(&log_from(&f.dir, first_head + 1)), expected);

    let before = incidents(&f, Some(first_head));
    let now = incidents(&f, None);
    // A release names the state its import left.
    let csv_as_of = |as_of: &str| {
        f.run_ok(
            &["project", "incidents", "--format", "csv", "--as-of", as_of],
            None,
        )
    };
    assert_eq!(csv_as_of("ucdp:23.1"), csv_as_of(&first_head.to_string()));
    assert_eq!(csv_as_of("ucdp:23.2"), csv_as_of(&head_seq(&f).to_string()));
    let out = f.run(&["project", "incidents", "--as-of", "ucdp:24.1"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no entry of the ledger comes from release 24.1 of UCDP GED"));
    for &i in &revised_best {
        let incident_id = format!("ucdp:{}", &source[i][id]);
        assert_eq!(before[&incident_id]["fatalities"], &source[i][best]);
        assert_eq!(
            now[&incident_id]["fatalities"],
            next_value(&next, id, &source[i][id], best)
        );
    }
    let changed_id = format!("ucdp:{}", &source[revised_side_b][id]);
    assert_eq!(
        before[&changed_id]["actor2"],
        &source[revised_side_b][side_b]
    );
    assert!(now[&changed_id]["actor2"].ends_with(" (revised)"));
    for incident_id in &withdrawn {
        assert_eq!(before[incident_id]["status"], "active");
        assert_eq!(now[incident_id]["status"], "withdrawn");
    }
    // Withdrawn incidents are not counted.
    let regions_total = || -> (u64, u64) {
        let csv = f.run_ok(&["project", "regions", "--format", "csv"], None);
        (read_csv(csv.as_bytes()).iter()).fold((0, 0), |(incidents, fatalities), row| {
            (
                incidents + row["incidents"].parse::<u64>().unwrap(),
                fatalities + row["fatalities"].parse::<u64>().unwrap(),
            )
        })
    };
    let source_total = (source.iter()).fold((0, 0), |(incidents, fatalities), row| {
        (
            incidents + 1,
            fatalities + row[best].parse::<u64>().unwrap(),
        )
    });
    let withdrawn_fatalities: u64 = (removed.iter())
        .map(|&i| source[i][best].parse::<u64>().unwrap())
        .sum();
    let revised_fatalities = 10 * revised_best.len() as u64;
    assert_eq!(
        regions_total(),
        (
            source_total.0 - 3,
            source_total.1 - withdrawn_fatalities + revised_fatalities
        )
    );

    // The release after has every row of the first again: the three come back, reinstated by
    // that release, and the views match the source again.
    let out = import_ok(&f, "ucdp", &ucdp_release(), &["--release", "23.3"]);
    assert!(
        out.contains("1848 rows, 0 reported, 4 corrected, 0 withdrawn, 3 reinstated, 1844 unchanged, 0 skipped"),
        "{out}"
    );
    let now = incidents(&f, None);
    for incident_id in &withdrawn {
        assert_eq!(now[incident_id]["status"], "active");
    }
    assert_eq!(regions_total(), source_total);
    let history = f.run_ok(&["project", "incident-history", "--format", "csv"], None);
    let reinstated: Vec<String> = (read_csv(history.as_bytes()).into_iter())
        .filter(|row| row["action"] == "reinstated")
        .map(|row| format!("{} {}", row["incident_id"], row["reason"]))
        .collect();
    let expected: Vec<String> = (withdrawn.iter())
        .map(|id| format!("{id} again in UCDP GED release 23.3"))
        .collect();
    assert_eq!(
        BTreeSet::from_iter(reinstated),
        BTreeSet::from_iter(expected)
    );
    f.assert_intact();
}

/// The value in `column` of the row of `rows` whose `id_column` is `id`.
fn next_value(rows: &[StringRecord], id_column: usize, id: &str, column: usize) -> String {
    rows.iter()
        .find(|row| &row[id_column] == id)
        .map(|row| row[column].to_string())
        .unwrap()
}

/// A small UCDP file of 7 rows: one whose text spans lines, then six on one line each; the rows
/// at the indexes in `bad` are spoiled. Returns the line each row starts on, and the row count.
fn small_ucdp(path: &Path, bad: &[(usize, &Spoil)]) -> (Vec<u64>, usize) {
    let (header, source) = ucdp_source();
    let spanning = source
        .iter()
        .find(|row| row.iter().any(|cell| cell.contains('\n')))
        .unwrap()
        .clone();
    let mut rows = vec![spanning];
    rows.extend(
        source
            .iter()
            .filter(|row| !row.iter().any(|cell| cell.contains('\n')))
            .take(6)
            .cloned(),
    );
    for (index, spoil) in bad {
        rows[*index] = spoil(&rows[*index]);
    }
    let lines = write_csv(path, &header, &rows);
    (lines, rows.len())
}

#[test]
fn a_malformed_row_is_refused_naming_its_line_and_column_and_nothing_is_written() {
    let f = Fixture::new();
    let (header, _) = ucdp_source();
    let (date_start, best) = (column(&header, "date_start"), column(&header, "best"));
    let bad_date = move |row: &StringRecord| with_cell(row, date_start, "2019-02-30");
    let bad_best = move |row: &StringRecord| with_cell(row, best, "about 40");
    let short = |row: &StringRecord| row.iter().skip(1).collect::<StringRecord>();
    let article = column(&header, "source_article");
    let huge = "x".repeat(61_441);
    let huge_cell = move |row: &StringRecord| with_cell(row, article, &huge);
    // The facts each refusal names: the column, the value, what is wrong with it.
    let cases: [(&Spoil, &[&str]); 4] = [
        (
            &bad_date,
            &["column date_start", "\"2019-02-30\"", "not a date"],
        ),
        (
            &bad_best,
            &[
                "column best",
                "\"about 40\"",
                "not a whole number of deaths",
            ],
        ),
        (&short, &["48 fields", "header names 49 columns"]),
        (
            &huge_cell,
            &[
                "column source_article",
                "holds 61441 bytes",
                "at most 61440",
            ],
        ),
    ];
    let before = f.snapshot();
    for (spoil, words) in cases {
        let path = f.path("GEDEvent_bad.csv");
        let (lines, _) = small_ucdp(&path, &[(3, spoil)]);
        // The row before the bad one spans two lines, so the line is not the row's index.
        assert!(lines[3] > 4 + 1, "{lines:?}");
        let out = import(&f, "ucdp", &path, &[]);
        let line = format!("GEDEvent_bad.csv, line {}", lines[3]);
        let mut expected = vec![line.as_str(), "nothing of this import was written"];
        expected.extend_from_slice(words);
        // The advice the command line adds.
        expected.push("--skip-invalid");
        assert_refused(&out, &expected);
        assert!(
            before == f.snapshot(),
            "the refused import wrote to the ledger"
        );
    }
}

#[test]
fn a_cell_that_is_not_utf8_is_named_by_the_line_and_column_it_is_on() {
    let f = Fixture::new();
    let path = f.path("GEDEvent_latin1.csv");
    let (lines, _) = small_ucdp(&path, &[]);
    // The fourth row's country, as a Latin-1 editor would save an accented letter; the row
    // before it spans two lines, so a count of rows would name the wrong line.
    let text = std::fs::read(&path).unwrap();
    let start = text
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .nth(usize::try_from(lines[3] - 2).unwrap())
        .unwrap()
        .0;
    let at = start + find(&text[start..], b"Central African").unwrap() + 5;
    let mut bytes = text.clone();
    bytes[at] = 0xe9;
    std::fs::write(&path, bytes).unwrap();
    let before = f.snapshot();

    let out = import(&f, "ucdp", &path, &[]);
    assert_refused(
        &out,
        &[
            &format!("GEDEvent_latin1.csv, line {}, column country", lines[3]),
            "not valid UTF-8",
        ],
    );
    assert!(
        before == f.snapshot(),
        "the refused import wrote to the ledger"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_quote_left_open_stops_the_import_at_1_mib_naming_the_line_it_opens_on() {
    let f = Fixture::new();
    let path = f.path("GEDEvent_open_quote.csv");
    let (lines, _) = small_ucdp(&path, &[]);
    // A last row opens a quote that nothing closes, and 2 MiB follow.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.ends_with(b"\n"));
    bytes.push(b'"');
    bytes.extend(std::iter::repeat_n(b'x', 2 << 20));
    std::fs::write(&path, bytes).unwrap();
    let open_line = lines.last().unwrap() + 1;
    let before = f.snapshot();

    let out = import(&f, "ucdp", &path, &[]);
    assert_refused(
        &out,
        &[
            &format!("GEDEvent_open_quote.csv, line {open_line}"),
            "runs past 1 MiB without ending",
            "close the quote",
        ],
    );
    assert!(
        before == f.snapshot(),
        "the refused import wrote to the ledger"
    );
    f.assert_intact();
}

#[test]
fn with_skip_invalid_the_other_rows_import_and_each_skipped_row_is_reported() {
    let f = Fixture::new();
    let (header, _) = ucdp_source();
    let (date_start, best) = (column(&header, "date_start"), column(&header, "best"));
    let bad_date = move |row: &StringRecord| with_cell(row, date_start, "31/12/2019");
    let bad_best = move |row: &StringRecord| with_cell(row, best, "-2");
    let short = |row: &StringRecord| row.iter().skip(1).collect::<StringRecord>();
    let path = f.path("GEDEvent_bad.csv");
    let (lines, rows) = small_ucdp(&path, &[(2, &bad_date), (4, &bad_best), (6, &short)]);

    let out = import(&f, "ucdp", &path, &["--skip-invalid", "--release", "23.1"]);
    assert!(out.status.success(), "{}", describe(&["import"], &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{rows} rows, {} reported, 0 corrected, 0 withdrawn, 0 reinstated, 0 unchanged, 3 skipped",
            rows - 3
        )),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let skipped: Vec<&str> = stderr.lines().collect();
    assert_eq!(skipped.len(), 3, "{stderr}");
    for (line, (index, what)) in
        skipped
            .iter()
            .zip([(2, "date_start"), (4, "best"), (6, "but the header names")])
    {
        assert!(
            line.contains(&format!("line {}", lines[index])) && line.contains(what),
            "{line}"
        );
    }
    assert_eq!(incidents(&f, None).len(), rows - 3);
    f.assert_intact();
}

#[test]
fn acled_exports_in_the_older_and_current_layouts_become_one_incident_per_event() {
    let f = Fixture::new();

    // Older layout: "31 December 2020" dates, each event on one row per actor.
    let out = import_ok(&f, "acled", &test_data("acled-older.csv"), &[]);
    assert!(
        out.contains("as release acled-older: 8 rows, 4 reported, 0 corrected, 0 withdrawn, 0 reinstated, 0 unchanged, 0 skipped"),
        "{out}"
    );
    let reports = statements(&log_from(&f.dir, 2));
    let ids: Vec<&str> = reports
        .iter()
        .map(|(_, d)| d["incident_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "acled:XMLI9001",
            "acled:XMLI9002",
            "acled:XMLI9003",
            "acled:XBFO9001"
        ]
    );
    assert_eq!(
        reports[0].1,
        json!({
            "incident_id": "acled:XMLI9001",
            "event_date": "2020-12-31",
            "date_precision": 1,
            "event_type": "Violence against civilians",
            "sub_event_type": "Attack",
            "actor1": "Unidentified Armed Group (Mali)",
            "actor2": "Civilians (Mali)",
            "country": "Mali",
            "admin1": "Mopti",
            "admin2": "Bandiagara",
            "admin3": "Bankass",
            "location": "Ogossagou",
            "latitude": 14.2967,
            "longitude": -3.6413,
            "geo_precision": 1,
            "fatalities": 5,
            "sources": ["RFI", "Studio Tamani"],
            "notes": "Synthetic test event. Armed men \"on motorbikes\" attacked the village;\nseveral huts were burned.",
            "source_timestamp": 1609459200,
            "source_dataset": {"name": "ACLED", "release": "acled-older", "id": "XMLI9001"}
        })
    );

    // Current layout, same events: one changed (which ACLED's timestamp says too), two new;
    // the Burkina Faso event is outside this Mali export and stays.
    let head = head_seq(&f);
    let out = import_ok(
        &f,
        "acled",
        &test_data("acled-current.csv"),
        &["--release", "2023-12-01"],
    );
    assert!(
        out.contains(
            "5 rows, 2 reported, 1 corrected, 0 withdrawn, 0 reinstated, 2 unchanged, 0 skipped"
        ),
        "{out}"
    );
    let appended = statements(&log_from(&f.dir, head + 1));
    assert_eq!(
        appended[0],
        (
            "incident.corrected".to_string(),
            json!({
                "incident_id": "acled:XMLI9002",
                "changes": {"fatalities": 9, "source_timestamp": 1700000000},
                "reason": "changed in ACLED release 2023-12-01"
            })
        )
    );
    assert_eq!(appended[1].1["incident_id"], "acled:XMLI9101");
    assert_eq!(
        appended[1].1["notes"],
        "Synthetic test event. Fighting between \"IS Sahel\" and JNIM,\nwith \"heavy losses\" claimed by both."
    );
    assert_eq!(appended[1].1["sources"], json!(["Le Monde", "RFI"]));
    let precision = ["date_precision", "geo_precision", "source_timestamp"];
    assert_eq!(
        precision.map(|name| &appended[1].1[name]),
        [&json!(2), &json!(2), &json!(1700000000)]
    );
    assert_eq!(appended[2].1["incident_id"], "acled:XMLI9102");
    assert!(appended[2].1.get("admin3").is_none());
    assert_eq!(appended.len(), 3);

    // A later export of every Mali event since 2020: one event revised (a cleared admin3 among
    // the changes), one deleted, one new. Its rows start later than the deleted one, so it says
    // what it covers.
    let head = head_seq(&f);
    let out = import_ok(
        &f,
        "acled",
        &test_data("acled-current-later.csv"),
        &["--release", "2024-01-15", "--from", "2020-01-01"],
    );
    assert!(
        out.contains(
            "5 rows, 1 reported, 1 corrected, 1 withdrawn, 0 reinstated, 3 unchanged, 0 skipped"
        ),
        "{out}"
    );
    let appended = statements(&log_from(&f.dir, head + 1));
    let summary: Vec<(&str, &str)> = appended
        .iter()
        .map(|(t, d)| (t.as_str(), d["incident_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("incident.corrected", "acled:XMLI9101"),
            ("incident.reported", "acled:XMLI9103"),
            ("incident.withdrawn", "acled:XMLI9003"),
        ]
    );
    assert_eq!(
        appended[0].1["changes"],
        json!({
            "admin3": null,
            "fatalities": 14,
            "notes": "Synthetic test event. Fighting between \"IS Sahel\" and JNIM;\nrevised toll after \"local sources\" reported more dead."
        })
    );
    assert_eq!(
        appended[2].1["reason"],
        "no longer in ACLED release 2024-01-15"
    );
    let now = incidents(&f, None);
    assert_eq!(now["acled:XMLI9003"]["status"], "withdrawn");
    assert_eq!(now["acled:XBFO9001"]["status"], "active");
    assert_eq!(now["acled:XMLI9101"]["fatalities"], "14");

    // The earlier export again: the withdrawn event is reinstated, the revised one goes back,
    // the one it lacks is withdrawn.
    let head = head_seq(&f);
    let out = import(
        &f,
        "acled",
        &test_data("acled-current.csv"),
        &["--release", "2023-12-01b", "--to", "2024-01-15"],
    );
    assert!(out.status.success(), "{}", describe(&["import"], &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "5 rows, 0 reported, 1 corrected, 1 withdrawn, 1 reinstated, 4 unchanged, 0 skipped"
        ),
        "{stdout}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Vec<(String, String)> = statements(&log_from(&f.dir, head + 1))
        .into_iter()
        .map(|(t, d)| (t, d["incident_id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "incident.reinstated".to_string(),
                "acled:XMLI9003".to_string()
            ),
            (
                "incident.corrected".to_string(),
                "acled:XMLI9101".to_string()
            ),
            (
                "incident.withdrawn".to_string(),
                "acled:XMLI9103".to_string()
            ),
        ]
    );
    let now = incidents(&f, None);
    assert_eq!(now["acled:XMLI9003"]["status"], "active");
    assert_eq!(now["acled:XMLI9103"]["status"], "withdrawn");
    f.assert_intact();
}

/// The rows of an ACLED test file whose event dates start with `year`, as a file of their own.
fn acled_extract(f: &Fixture, name: &str, year: &str, leave_out: &[&str]) -> PathBuf {
    let mut reader = csv::Reader::from_path(test_data("acled-current-later.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows: Vec<StringRecord> = reader
        .records()
        .map(Result::unwrap)
        .filter(|row| row[1].starts_with(year) && !leave_out.contains(&&row[0]))
        .collect();
    let path = f.path(name);
    write_csv(&path, &header, &rows);
    path
}

#[test]
fn filtered_extracts_imported_in_sequence_withdraw_nothing_outside_what_each_covers() {
    let f = Fixture::new();
    let out = import_ok(
        &f,
        "acled",
        &acled_extract(&f, "mli-2020.csv", "2020", &[]),
        &[],
    );
    assert!(
        out.contains("2 reported, 0 corrected, 0 withdrawn"),
        "{out}"
    );
    let out = import_ok(
        &f,
        "acled",
        &acled_extract(&f, "mli-2023.csv", "2023", &[]),
        &[],
    );
    assert!(
        out.contains("3 reported, 0 corrected, 0 withdrawn"),
        "{out}"
    );
    // The 2020 extract downloaded again without one event: that one goes, and only that one.
    let again = acled_extract(&f, "mli-2020b.csv", "2020", &["XMLI9002"]);
    let out = import_ok(
        &f,
        "acled",
        &again,
        &["--from", "2020-01-01", "--to", "2020-12-31"],
    );
    assert!(
        out.contains("0 reported, 0 corrected, 1 withdrawn"),
        "{out}"
    );
    let now = incidents(&f, None);
    let status = |id: &str| now[id]["status"].clone();
    assert_eq!(status("acled:XMLI9002"), "withdrawn");
    for id in [
        "acled:XMLI9001",
        "acled:XMLI9101",
        "acled:XMLI9102",
        "acled:XMLI9103",
    ] {
        assert_eq!(status(id), "active", "{id}");
    }
    // Then by country: a Burkina Faso extract of 2023, then Mali's 2023 again without one event,
    // saying it covers the whole year: the Mali event goes, the Burkina Faso one of the same
    // dates stays.
    let mut reader = csv::Reader::from_path(test_data("acled-current-later.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let mali_2023 = reader
        .records()
        .map(Result::unwrap)
        .find(|row| &row[0] == "XMLI9102")
        .unwrap();
    let in_burkina = with_cell(
        &with_cell(&mali_2023, column(&header, "event_id_cnty"), "XBFA9201"),
        column(&header, "country"),
        "Burkina Faso",
    );
    write_csv(&f.path("bfa-2023.csv"), &header, &[in_burkina]);
    let out = import_ok(&f, "acled", &f.path("bfa-2023.csv"), &[]);
    assert!(
        out.contains("1 reported, 0 corrected, 0 withdrawn"),
        "{out}"
    );
    let out = import_ok(
        &f,
        "acled",
        &acled_extract(&f, "mli-2023b.csv", "2023", &["XMLI9103"]),
        &["--from", "2023-01-01", "--to", "2023-12-31"],
    );
    assert!(
        out.contains("0 reported, 0 corrected, 1 withdrawn"),
        "{out}"
    );
    let now = incidents(&f, None);
    assert_eq!(now["acled:XMLI9103"]["status"], "withdrawn");
    assert_eq!(now["acled:XBFA9201"]["status"], "active");
    assert_eq!(now["acled:XMLI9101"]["status"], "active");

    // The same file as a whole release would take the 2023 events with it.
    let plan = f.run_ok(
        &[
            "import",
            "acled",
            again.to_str().unwrap(),
            "--scope",
            "release",
            "--dry-run",
        ],
        None,
    );
    assert!(
        plan.contains("0 reported, 0 corrected, 3 withdrawn"),
        "{plan}"
    );
    f.assert_intact();
}

#[test]
fn an_investigators_correction_survives_reimports_and_a_release_that_disagrees_is_listed() {
    let f = with_ucdp_release();
    let (header, source) = ucdp_source();
    let (id, best) = (column(&header, "id"), column(&header, "best"));
    let incident = format!("ucdp:{}", &source[0][id]);
    let by_hand = source[0][best].parse::<i64>().unwrap() + 5;
    f.append_ok(&[correction(&incident, by_hand)]);

    // The same release again takes nothing back.
    let out = import_ok(&f, "ucdp", &ucdp_release(), &["--release", "23.1b"]);
    assert!(
        out.contains("0 corrected, 0 withdrawn, 0 reinstated, 1848 unchanged, 0 skipped, 0 kept"),
        "{out}"
    );
    assert_eq!(
        incidents(&f, None)[&incident]["fatalities"],
        by_hand.to_string()
    );

    // A release with another count for it: the investigator's count stands, and is listed.
    let mut rows = source.clone();
    let release_count = (by_hand + 1).to_string();
    rows[0] = with_cell(&rows[0], best, &release_count);
    let lines = write_csv(&f.path("GED_23_2.csv"), &header, &rows);
    let out = import(
        &f,
        "ucdp",
        &f.path("GED_23_2.csv"),
        &["--release", "23.2", "--format", "json"],
    );
    assert!(out.status.success(), "{}", describe(&["import"], &out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["conflicts"],
        json!([{"incident_id": incident, "field": "fatalities", "line": lines[0],
                "kept": by_hand, "release": by_hand + 1}])
    );
    assert_eq!(summary["corrected"], 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("kept {incident}'s fatalities as corrected in the ledger ({by_hand}), where release 23.2")),
        "{stderr}"
    );
    assert_eq!(
        incidents(&f, None)[&incident]["fatalities"],
        by_hand.to_string()
    );
    // The history shows both: the investigator's count, and the release's beside it.
    let history = f.run_ok(&["project", "incident-history", "--format", "csv"], None);
    let rows: Vec<[String; 4]> = (read_csv(history.as_bytes()).into_iter())
        .filter(|row| row["incident_id"] == incident)
        .map(|row| ["action", "changes", "contested", "reason"].map(|column| row[column].clone()))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[1][..3],
        [
            "corrected".to_string(),
            format!("{{\"fatalities\":{by_hand}}}"),
            String::new()
        ]
    );
    assert_eq!(
        rows[2],
        [
            "contested".to_string(),
            String::new(),
            format!("{{\"fatalities\":{}}}", by_hand + 1),
            "changed in UCDP GED release 23.2".to_string()
        ]
    );
    // Recorded, the release's value is what the next import compares with: the same file again
    // appends nothing and lists nothing.
    let head = head_seq(&f);
    let again = import_ok(&f, "ucdp", &f.path("GED_23_2.csv"), &["--release", "23.2"]);
    assert!(
        again.contains("1848 unchanged, 0 skipped, 0 kept as corrected"),
        "{again}"
    );
    assert_eq!(head_seq(&f), head);
    f.assert_intact();
}

#[test]
fn a_release_that_would_withdraw_most_of_the_dataset_is_refused_unless_meant() {
    let f = with_ucdp_release();
    let (header, source) = ucdp_source();
    let part = f.path("GEDEvent_part.csv");
    write_csv(&part, &header, &source[..10]);
    let head = head_seq(&f);
    let out = import(&f, "ucdp", &part, &["--release", "23.1-part"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("would withdraw 1838 of the 1848 active incidents of UCDP GED")
            && stderr.contains("nothing was written")
            && stderr.contains("--scope extract")
            && stderr.contains("--allow-large-removal"),
        "{stderr}"
    );
    assert_eq!(head_seq(&f), head);
    // A dry run lists them, and says the import would stop.
    let plan = f.run_ok(
        &[
            "import",
            "ucdp",
            part.to_str().unwrap(),
            "--release",
            "23.1-part",
            "--dry-run",
        ],
        None,
    );
    assert!(
        plan.contains("1838 withdrawn")
            && plan.contains("incident.withdrawn ucdp:")
            && plan.contains("without --allow-large-removal, this import would stop: it would withdraw 1838 of the 1848"),
        "{plan}"
    );
    assert_eq!(head_seq(&f), head);
    let out = import_ok(
        &f,
        "ucdp",
        &part,
        &["--release", "23.1-part", "--allow-large-removal"],
    );
    assert!(out.contains("1838 withdrawn"), "{out}");
}

#[test]
fn an_unknown_acled_event_type_is_refused_naming_its_column() {
    let f = Fixture::new();
    let text = std::fs::read_to_string(test_data("acled-current.csv")).unwrap();
    let bad = text.replacen(",Battles,Armed clash,", ",Battle,Armed clash,", 1);
    assert_ne!(bad, text);
    let path = f.path("acled-bad.csv");
    std::fs::write(&path, bad).unwrap();
    let before = f.snapshot();
    let out = import(&f, "acled", &path, &[]);
    // XMLI9001's notes span lines 2 and 3, so XMLI9002 starts on line 4.
    assert_refused(
        &out,
        &[
            "acled-bad.csv, line 4",
            "column event_type",
            "\"Battle\" is not an ACLED event type",
            "--skip-invalid",
        ],
    );
    assert!(
        before == f.snapshot(),
        "the refused import wrote to the ledger"
    );
}

/// `text` with every line end (LF) written as `end`.
fn with_line_ends(text: &str, end: &str) -> String {
    text.replace('\n', end)
}

#[test]
fn a_bad_row_is_named_by_its_line_in_the_file_whatever_the_line_ends() {
    let f = Fixture::new();
    let acled = std::fs::read_to_string(test_data("acled-current.csv"))
        .unwrap()
        .replacen(",Battles,Armed clash,", ",Battle,Armed clash,", 1);
    let (header, _) = ucdp_source();
    let best = column(&header, "best");
    let bad_best = move |row: &StringRecord| with_cell(row, best, "about 40");
    let ucdp = f.path("GEDEvent_lf.csv");
    let (lines, _) = small_ucdp(&ucdp, &[(3, &bad_best)]);
    let ucdp = std::fs::read_to_string(ucdp).unwrap();
    let before = f.snapshot();
    // Python's csv module and RFC 4180 end lines with CRLF, old Mac files with CR; a blank line
    // is a line too.
    for (name, end) in [
        ("lf", "\n"),
        ("crlf", "\r\n"),
        ("cr", "\r"),
        ("blank", "\r\n\r\n"),
    ] {
        let lines_per_end = if name == "blank" { 2 } else { 1 };
        let path = f.path(&format!("acled-{name}.csv"));
        std::fs::write(&path, with_line_ends(&acled, end)).unwrap();
        // XMLI9001's notes span lines 2 and 3, so XMLI9002 starts on line 4.
        let line = 1 + 3 * lines_per_end;
        let out = import(&f, "acled", &path, &[]);
        let named = format!("acled-{name}.csv, line {line}, column event_type");
        assert_refused(&out, &[&named]);

        let path = f.path(&format!("GEDEvent_{name}.csv"));
        std::fs::write(&path, with_line_ends(&ucdp, end)).unwrap();
        let out = import(&f, "ucdp", &path, &[]);
        let line = 1 + (lines[3] - 1) * lines_per_end;
        let named = format!("GEDEvent_{name}.csv, line {line}, column best");
        assert_refused(&out, &[&named]);
    }
    assert!(
        before == f.snapshot(),
        "a refused import wrote to the ledger"
    );
}

#[test]
fn a_row_dated_in_the_future_is_refused_naming_its_line() {
    let f = Fixture::new();
    let (header, _) = ucdp_source();
    let date_start = column(&header, "date_start");
    let future = move |row: &StringRecord| with_cell(row, date_start, "2093-05-01");
    let path = f.path("GEDEvent_future.csv");
    let (lines, _) = small_ucdp(&path, &[(3, &future)]);
    let before = f.snapshot();
    let out = import(&f, "ucdp", &path, &[]);
    let line = format!("GEDEvent_future.csv, line {}, column date_start", lines[3]);
    let words = [
        line.as_str(),
        "\"2093-05-01\" is after",
        "the day this import is recorded",
        "--skip-invalid",
    ];
    assert_refused(&out, &words);
    assert!(
        before == f.snapshot(),
        "the refused import wrote to the ledger"
    );
    // Like any row that cannot stand, it can be left out.
    let out = import(&f, "ucdp", &path, &["--skip-invalid"]);
    assert!(out.status.success(), "{}", describe(&["import"], &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let skipped = format!(
        "line {}, column date_start: \"2093-05-01\" is after",
        lines[3]
    );
    assert!(stderr.contains(&skipped), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("7 rows, 6 reported"), "{stdout}");
    f.assert_intact();
}

#[test]
fn a_file_without_a_required_column_is_refused_naming_it() {
    let f = Fixture::new();
    let out = import(&f, "ucdp", &test_data("acled-current.csv"), &[]);
    assert_refused(
        &out,
        &["acled-current.csv, line 1", "no column id", "UCDP GED"],
    );
}

/// UCDP's date range, precision codes and fatality range reach the incidents view as the source
/// states them: the end date only when it is another day than the start.
#[test]
fn ucdp_precision_fields_reach_the_incidents_view() {
    let f = with_ucdp_release();
    let view = incidents(&f, None);
    let (header, source) = ucdp_source();
    let at = |name: &str| column(&header, name);
    let (mut ranged, mut imprecise) = (0, 0);
    for row in &source {
        let shown = &view[&format!("ucdp:{}", &row[at("id")])];
        let end = if row[at("date_end")] == row[at("date_start")] {
            ""
        } else {
            ranged += 1;
            &row[at("date_end")]
        };
        imprecise += usize::from(&row[at("date_prec")] != "1");
        let columns = [
            "event_date_end",
            "date_precision",
            "geo_precision",
            "fatalities_low",
            "fatalities_high",
            "source_timestamp",
        ];
        assert_eq!(
            columns.map(|c| shown[c].as_str()),
            [
                end,
                &row[at("date_prec")],
                &row[at("where_prec")],
                &row[at("low")],
                &row[at("high")],
                ""
            ],
            "{}",
            shown["incident_id"]
        );
    }
    assert!(ranged > 0 && imprecise > 0, "the extract has date ranges");
    let southeast = &view["ucdp:36211"];
    assert_eq!(
        [
            &southeast["event_date"],
            &southeast["event_date_end"],
            &southeast["date_precision"]
        ],
        ["2009-08-07", "2009-09-10", "5"]
    );
}

/// An investigator corrects a precision field like any other, and the view shows the result.
#[test]
fn a_correction_changes_a_precision_field() {
    let f = with_ucdp_release();
    let correction = json!({"type": "incident.corrected", "data": {"incident_id": "ucdp:36211",
        "changes": {"event_date_end": null, "date_precision": 1, "event_date": "2009-09-09"},
        "reason": "the mission's patrol log dates the attack"}});
    f.append_ok(&[correction.to_string()]);
    let shown = &incidents(&f, None)["ucdp:36211"];
    let columns = [
        "event_date",
        "event_date_end",
        "date_precision",
        "revisions",
    ];
    assert_eq!(
        columns.map(|c| shown[c].as_str()),
        ["2009-09-09", "", "1", "1"]
    );

    // Out of the schema's range, a code is refused naming its field.
    let out_of_range = json!({"type": "incident.corrected", "data": {"incident_id": "ucdp:36211",
        "changes": {"geo_precision": 8}, "reason": "r"}});
    let out = f.run(
        &["append", "--key", f.inv_key.to_str().unwrap(), "-"],
        Some(format!("{out_of_range}\n").as_bytes()),
    );
    assert_refused(&out, &["geo_precision"]);
    f.assert_intact();
}
