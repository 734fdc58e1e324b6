//! Bad input through the real binary: every refusal exits 2 with one `ledger: ...` line on
//! stderr that names the problem (the NDJSON line, the field, the rule), never panics, and
//! leaves the ledger exactly as it was (the log's files and the derived state).

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;

/// The fixture (genesis, investigator `inv`) with incident t-1 reported at seq 2.
fn base() -> Fixture {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    Fixture::from_template(&TEMPLATE, || {
        let f = Fixture::new();
        f.append_ok(&[incident("t-1", 3)]);
        f
    })
}

/// A valid incident with one field of `data` set to `value` (raw JSON), or removed if `None`.
fn incident_with(id: &str, field: &str, value: Option<&str>) -> String {
    let mut data: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&format!(
        r#"{{"incident_id":"{id}","event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","fatalities":3}}"#
    ))
    .unwrap();
    match value {
        Some(v) => data.insert(field.to_string(), serde_json::from_str(v).unwrap()),
        None => data.remove(field),
    };
    serde_json::json!({"type": "incident.reported", "data": data}).to_string()
}

/// Runs `args` with `stdin`, asserts a clean refusal naming `words`, and that the database is
/// unchanged. Returns the stderr line.
fn refused(f: &Fixture, args: &[&str], stdin: Option<&[u8]>, words: &[&str]) -> String {
    let before = f.snapshot();
    let out = f.run(args, stdin);
    let line = assert_refused(&out, words);
    assert!(before == f.snapshot(), "the ledger changed: {line}");
    line
}

/// Appends `lines` as one NDJSON batch with the investigator key; it must be refused.
fn append_refused(f: &Fixture, lines: &[String], words: &[&str]) -> String {
    let key = f.inv_key.to_str().unwrap().to_string();
    let line = refused(
        f,
        &["append", "--key", &key, "-"],
        Some(&ndjson(lines)),
        words,
    );
    assert!(line.contains("standard input"), "{line}");
    line
}

/// Two valid new incidents and then `bad` on line 3: nothing of the batch may be written.
fn bad_third_line(f: &Fixture, bad: String, words: &[&str]) -> String {
    let mut words = words.to_vec();
    words.push("line 3");
    append_refused(f, &[incident("t-2", 1), incident("t-3", 2), bad], &words)
}

#[test]
fn malformed_json_on_line_2_names_the_line_and_line_1_is_not_written() {
    let f = base();
    let line = append_refused(
        &f,
        &[incident("t-2", 1), r#"{"type": oops}"#.to_string()],
        &["line 2", "not valid JSON"],
    );
    assert!(!line.contains("line 1"), "{line}");
    let log = f.run_ok(&["log"], None);
    assert!(!log.contains("t-2"), "{log}");
}

#[test]
fn lines_are_named_as_the_file_has_them_whatever_its_line_ends() {
    let f = base();
    let bad_type = incident_with("t-4", "event_type", Some("\"Battle\""));
    // The second event spans two lines, so the third starts on line 4.
    let spanning = incident("t-3", 2).replacen(",\"data\"", "\n,\"data\"", 1);
    let key = f.inv_key.to_str().unwrap().to_string();
    for end in ["\n", "\r\n", "\r"] {
        let text = [incident("t-2", 1), spanning.clone(), bad_type.clone()].join("\n");
        let path = f.path("batch.ndjson");
        std::fs::write(&path, text.replace('\n', end)).unwrap();
        let args = ["append", "--key", &key, path.to_str().unwrap()];
        refused(&f, &args, None, &["line 4", "data.event_type"]);

        let text = [spanning.as_str(), "", r#"{"type":"#, "oops}"].join("\n");
        std::fs::write(&path, text.replace('\n', end)).unwrap();
        refused(&f, &args, None, &["line 5", "not valid JSON"]);
    }
}

#[test]
fn a_truncated_json_object_is_refused() {
    let f = base();
    append_refused(
        &f,
        &[
            incident("t-2", 1),
            r#"{"type":"incident.reported","data":{"#.to_string(),
        ],
        &["line 2", "not valid JSON"],
    );
}

#[test]
fn an_unknown_event_type_is_refused() {
    let f = base();
    bad_third_line(
        &f,
        r#"{"type":"incident.invented","data":{"incident_id":"t-9"}}"#.to_string(),
        &[
            "unknown event type",
            "incident.invented",
            "incident.reported",
        ],
    );
}

#[test]
fn a_missing_required_field_is_named() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "actor1", None),
        &["data.actor1", "required"],
    );
}

#[test]
fn a_field_of_the_wrong_type_is_named() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "fatalities", Some(r#""three""#)),
        &["data.fatalities", "three", "integer"],
    );
}

#[test]
fn an_unknown_field_is_named() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "colour", Some(r#""red""#)),
        &["unknown field", "colour"],
    );
}

/// Parsers disagree on which of two equal keys counts, so signed bytes that repeat one would
/// be read differently by different verifiers.
#[test]
fn a_payload_that_repeats_a_key_is_refused() {
    let f = base();
    let repeated = r#"{"type":"incident.reported","data":{"incident_id":"t-9","event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","fatalities":3,"fatalities":300}}"#;
    bad_third_line(&f, repeated.to_string(), &["\"fatalities\" appears twice"]);
    let nested = r#"{"type":"incident.corrected","data":{"incident_id":"t-1","changes":{"fatalities":4,"fatalities":5},"reason":"recount"}}"#;
    bad_third_line(&f, nested.to_string(), &["\"fatalities\" appears twice"]);
}

#[test]
fn an_unknown_envelope_field_is_refused() {
    let f = base();
    append_refused(
        &f,
        &[
            incident("t-2", 1),
            r#"{"type":"incident.retracted","data":{"incident_id":"t-1","reason":"x"},"extra":1}"#
                .to_string(),
        ],
        &["line 2", "extra"],
    );
}

#[test]
fn a_latitude_out_of_range_is_named() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "latitude", Some("95")),
        &["data.latitude", "95", "90"],
    );
}

#[test]
fn negative_fatalities_are_refused() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "fatalities", Some("-1")),
        &["data.fatalities", "minimum"],
    );
}

#[test]
fn an_impossible_date_is_refused() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "event_date", Some(r#""2023-02-30""#)),
        &["data.event_date", "date"],
    );
}

/// The latest date anywhere on Earth now (UTC+14): the day an entry appended now is recorded.
fn recording_day() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(14)).date_naive()
}

#[test]
fn an_event_dated_after_the_day_it_is_recorded_is_refused_and_one_dated_that_day_is_not() {
    let f = base();
    let day = recording_day();
    // Two days after, so that the day turning between here and the append cannot make it
    // today's; the boundary itself is the unit tests' (rules.rs).
    let after = (day + chrono::Duration::days(2)).to_string();
    let line = bad_third_line(
        &f,
        incident_with("t-9", "event_date", Some(&format!("\"{after}\""))),
        &[
            "incident t-9",
            &format!("dated {after}"),
            "after the day it was recorded",
            &format!("({day}"),
        ],
    );
    assert!(!line.contains("t-2") && !line.contains("t-3"), "{line}");
    let dated = r#"{"type":"incident.corrected","data":{"incident_id":"t-1","changes":{"event_date":"2093-01-01"},"reason":"typo"}}"#.to_string();
    append_refused(
        &f,
        &[dated],
        &["line 1", "incident t-1", "dated 2093-01-01"],
    );
    f.append_ok(&[incident_with(
        "t-9",
        "event_date",
        Some(&format!("\"{day}\"")),
    )]);
}

#[test]
fn a_payload_over_60_kib_is_refused_by_size() {
    let f = base();
    let notes = serde_json::to_string(&"x".repeat(70_000)).unwrap();
    let line = bad_third_line(
        &f,
        incident_with("t-9", "notes", Some(&notes)),
        &["over the limit", "61440"],
    );
    assert!(
        line.len() < 1000,
        "the message should not echo the payload: {line}"
    );
}

#[test]
fn an_event_of_over_1_mib_of_text_is_refused_by_its_length() {
    let f = base();
    let notes = serde_json::to_string(&"x".repeat(3 << 20)).unwrap();
    let line = bad_third_line(
        &f,
        incident_with("t-9", "notes", Some(&notes)),
        &["runs past 1 MiB without ending", "at most 60 KiB"],
    );
    assert!(
        line.len() < 1000,
        "the message should not echo the event: {line}"
    );
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let f = base();
    let mut input = ndjson(&[incident("t-2", 1)]);
    input.extend_from_slice(
        b"{\"type\":\"incident.reported\",\"data\":{\"incident_id\":\"t-\xff\xfe\"}}\n",
    );
    let key = f.inv_key.to_str().unwrap().to_string();
    refused(
        &f,
        &["append", "--key", &key, "-"],
        Some(&input),
        &["UTF-8", "line 2"],
    );
}

#[test]
fn empty_input_is_refused() {
    let f = base();
    let key = f.inv_key.to_str().unwrap().to_string();
    refused(
        &f,
        &["append", "--key", &key, "-"],
        Some(b"\n \n"),
        &["no events"],
    );
}

#[test]
fn a_key_that_is_not_enrolled_is_refused() {
    let f = base();
    let rogue = f.path("rogue.key");
    let public = run_ok(
        &f.dir,
        &["key", "generate", "--out", rogue.to_str().unwrap()],
        None,
    );
    // Through an input file this time.
    let input = f.path("batch.ndjson");
    std::fs::write(&input, ndjson(&[incident("t-2", 1)])).unwrap();
    refused(
        &f,
        &[
            "append",
            "--key",
            rogue.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
        &["not enrolled", public.trim(), "batch.ndjson"],
    );
}

#[test]
fn a_revoked_key_is_refused() {
    let f = base();
    f.revoke_inv();
    append_refused(&f, &[incident("t-2", 1)], &["revoked", "inv"]);
}

/// `key.revoked` of the key `name` (public key `public`), as an NDJSON line.
fn revocation(name: &str, public: &str) -> String {
    serde_json::json!({"type": "key.revoked",
                       "data": {"name": name, "public_key": public, "reason": "left"}})
    .to_string()
}

#[test]
fn the_last_active_admin_key_is_never_revoked_by_itself_or_by_another() {
    let f = base();
    let admin = f.admin_key.to_str().unwrap().to_string();
    let revoke = |key: &str, name: &str| {
        [
            "key", "revoke", "--key", key, "--name", name, "--reason", "left",
        ]
        .map(String::from)
    };
    let last = [
        "key admin is the last active admin key",
        "enrol another admin",
    ];
    let args = revoke(&admin, "admin");
    refused(&f, &args.each_ref().map(String::as_str), None, &last);

    let second = f.path("second.key");
    let second_public = run_ok(
        &f.dir,
        &["key", "generate", "--out", second.to_str().unwrap()],
        None,
    );
    let second_public = second_public.trim();
    let enroll = [
        "key",
        "enroll",
        "--key",
        &admin,
        "--public",
        second_public,
        "--name",
        "second",
        "--role",
        "admin",
    ];
    f.run_ok(&enroll, None);
    // In one batch, the first admin revokes the second and then itself: the second entry would
    // leave no admin.
    let batch = ndjson(&[
        revocation("second", second_public),
        revocation("admin", &f.admin_public),
    ]);
    let words = ["line 2", last[0]];
    refused(&f, &["append", "--key", &admin, "-"], Some(&batch), &words);

    // With another admin active, an admin may revoke itself; then the other is the last.
    f.run_ok(
        &revoke(&admin, "admin").each_ref().map(String::as_str),
        None,
    );
    let second = second.to_str().unwrap();
    let args = revoke(second, "second");
    let line = refused(
        &f,
        &args.each_ref().map(String::as_str),
        None,
        &["key second"],
    );
    assert!(line.contains("last active admin key"), "{line}");
    f.assert_intact();
}

#[test]
fn an_admin_key_may_not_report_incidents() {
    let f = base();
    let key = f.admin_key.to_str().unwrap().to_string();
    refused(
        &f,
        &["append", "--key", &key, "-"],
        Some(&ndjson(&[incident("t-2", 1)])),
        &["role", "investigator"],
    );
}

#[test]
fn a_file_that_is_not_a_key_is_refused() {
    let f = base();
    let not_key = f.path("notes.txt");
    std::fs::write(&not_key, "just some notes\n").unwrap();
    std::fs::set_permissions(&not_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    refused(
        &f,
        &["append", "--key", not_key.to_str().unwrap(), "-"],
        Some(&ndjson(&[incident("t-2", 1)])),
        &["not a ledger secret key file", "notes.txt"],
    );
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_chmod_600() {
    let f = base();
    let open = f.path("open.key");
    std::fs::copy(&f.inv_key, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(
        &f,
        &["append", "--key", open.to_str().unwrap(), "-"],
        Some(&ndjson(&[incident("t-2", 1)])),
        &["chmod 600", "open.key", "644"],
    );
}

#[test]
fn a_missing_key_file_is_named_once() {
    let f = base();
    let missing = f.path("missing.key");
    let line = refused(
        &f,
        &["append", "--key", missing.to_str().unwrap(), "-"],
        Some(&ndjson(&[incident("t-2", 1)])),
        &["missing.key", "No such file or directory"],
    );
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "the OS error should be stated once: {line}"
    );
}

#[test]
fn a_missing_ledger_directory_is_refused_and_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("inv.key");
    run_ok(
        tmp.path(),
        &["key", "generate", "--out", key.to_str().unwrap()],
        None,
    );
    let missing = Path::new("/nonexistent/x");
    let input = ndjson(&[incident("t-1", 1)]);
    for args in [
        vec!["append", "--key", key.to_str().unwrap(), "-"],
        vec!["log"],
        vec!["verify"],
        vec!["key", "list"],
        vec!["show", "0"],
    ] {
        let out = run(missing, &args, Some(&input));
        assert_refused(&out, &["no ledger at /nonexistent/x", "ledger init"]);
        assert!(!missing.exists());
    }
    // A directory that exists but holds no ledger is not one either, and stays empty.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(
        &empty,
        &["append", "--key", key.to_str().unwrap(), "-"],
        Some(&input),
    );
    assert_refused(&out, &["no ledger at"]);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn a_sub_event_type_of_another_event_type_is_refused() {
    let f = base();
    bad_third_line(
        &f,
        incident_with("t-9", "sub_event_type", Some(r#""Grenade""#)),
        &["data.sub_event_type", "Grenade"],
    );
    // A correction can change one without the other; the pair is still checked.
    append_refused(
        &f,
        &[
            incident("t-2", 1),
            r#"{"type":"incident.corrected","data":{"incident_id":"t-1","changes":{"sub_event_type":"Grenade"},"reason":"x"}}"#.to_string(),
        ],
        &["line 2", "sub_event_type", "Grenade", "Battles", "does not belong"],
    );
}

#[test]
fn a_duplicate_incident_id_is_refused() {
    let f = base();
    bad_third_line(
        &f,
        incident("t-1", 9),
        &["t-1", "already reported", "seq 2"],
    );
    // Also within one batch.
    append_refused(
        &f,
        &[incident("t-2", 1), incident("t-2", 1)],
        &[
            "line 2",
            "t-2",
            "reported twice in this batch",
            "first on line 1",
        ],
    );
}

#[test]
fn a_correction_or_retraction_of_an_unknown_incident_is_refused() {
    let f = base();
    bad_third_line(
        &f,
        correction("t-9", 1),
        &["incident.corrected", "t-9", "has not been reported"],
    );
    bad_third_line(
        &f,
        retraction("t-9"),
        &["incident.retracted", "t-9", "has not been reported"],
    );
}

#[test]
fn a_correction_of_a_retracted_incident_is_refused() {
    let f = base();
    f.append_ok(&[retraction("t-1")]);
    bad_third_line(&f, correction("t-1", 1), &["t-1", "retracted", "final"]);
}

/// A writer holds the ledger: another append is refused as in use, but readers take no lock
/// and see what the holder has committed.
#[test]
fn a_ledger_held_by_another_process_is_in_use_for_appends_only() {
    let f = base();
    let held = ledger::Ledger::open(&f.dir, Duration::ZERO).expect("open in-process");
    let key = f.inv_key.to_str().unwrap().to_string();
    let out = f.run(
        &["append", "--key", &key, "-"],
        Some(&ndjson(&[incident("t-2", 1)])),
    );
    assert_refused(&out, &["in use", "--wait"]);
    f.assert_intact();
    let inv = ledger::keys::SecretKey::load(&f.inv_key).unwrap();
    let events = ledger::input::parse_events(&ndjson(&[incident("t-3", 1)])).unwrap();
    held.append(&inv, &events).expect("the holder appends");
    let log = f.run_ok(&["log"], None);
    assert!(log.contains("t-3") && !log.contains("t-2"), "{log}");
    f.assert_intact();
    drop(held);
    wait_for_sled_lock_release(&f.dir.join("sled"));
    f.append_ok(&[incident("t-2", 1)]);
    f.assert_intact();
}

#[test]
fn wait_lets_an_append_through_once_the_other_holder_lets_go() {
    const HELD: Duration = Duration::from_millis(1500);
    let f = base();
    let held = ledger::Ledger::open(&f.dir, Duration::ZERO).expect("open in-process");
    let started = std::time::Instant::now();
    let release = std::thread::spawn(move || {
        std::thread::sleep(HELD);
        drop(held);
    });
    let key = f.inv_key.to_str().unwrap().to_string();
    let args = ["--wait", "10", "append", "--key", &key, "-"];
    let out = f.run(&args, Some(&ndjson(&[incident("t-2", 1)])));
    // Measured before the join, so that only the append's own waiting counts.
    let waited = started.elapsed();
    release.join().unwrap();
    assert!(out.status.success(), "{}", describe(&args, &out));
    assert!(
        waited >= HELD,
        "the append finished after {waited:?}, before the holder let go"
    );
    let log = f.run_ok(&["log"], None);
    assert!(log.contains("t-2"), "{log}");
    f.assert_intact();
}

#[test]
fn a_wait_outside_0_to_86400_seconds_is_a_usage_error() {
    let f = base();
    let before = f.snapshot();
    // 1e300 and 1e19 once panicked converting to a duration or adding it to the clock.
    for wait in ["NaN", "inf", "-1", "1e300", "1e19", "86401"] {
        let wait = format!("--wait={wait}");
        let args = [wait.as_str(), "log"];
        let out = f.run(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&args, &out));
        assert!(!stderr.contains("panicked"), "{}", describe(&args, &out));
        assert!(
            stderr.contains("--wait") && stderr.contains("0 to 86400"),
            "{}",
            describe(&args, &out)
        );
    }
    assert!(before == f.snapshot(), "the ledger changed");
}

#[test]
fn key_generate_refuses_to_overwrite_and_creates_mode_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("new.key");
    let public = run_ok(
        tmp.path(),
        &[
            "key",
            "generate",
            "--out",
            path.to_str().unwrap(),
            "--name",
            "new",
        ],
        None,
    );
    let public = public.trim();
    assert!(
        public.starts_with("ed25519:") && public.len() == 8 + 64,
        "{public}"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("public: {public}")), "{text}");

    let out = run(
        tmp.path(),
        &["key", "generate", "--out", path.to_str().unwrap()],
        None,
    );
    assert_refused(&out, &["already exists", "new.key"]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the key was overwritten"
    );

    // Not even another file type at that path is replaced.
    let other = tmp.path().join("notes.txt");
    std::fs::write(&other, "keep me").unwrap();
    let out = run(
        tmp.path(),
        &["key", "generate", "--out", other.to_str().unwrap()],
        None,
    );
    assert_refused(&out, &["already exists"]);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
}

#[test]
fn init_refuses_a_directory_that_already_holds_a_ledger() {
    let f = base();
    let key = f.admin_key.to_str().unwrap().to_string();
    refused(
        &f,
        &["init", "--admin-key", &key],
        None,
        &["already holds files"],
    );
}

#[test]
fn an_io_error_on_the_ledger_is_named_once() {
    let f = base();
    let key = f.inv_key.to_str().unwrap().to_string();
    // The lock file replaced by a directory: opening the ledger to write fails with an I/O error.
    let lock = f.dir.join("ledger.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let append = ["append", "--key", key.as_str(), "-"];
    let stdin = ndjson(&[incident("t-2", 1)]);
    // A segment file replaced by a directory: reading the log fails with an I/O error.
    let segment = f.segment_path(0);
    let kept = f.path("segment");
    std::fs::rename(&segment, &kept).unwrap();
    std::fs::create_dir(&segment).unwrap();
    for (args, stdin, what) in [
        (&append[..], Some(&stdin[..]), "the lock"),
        (&["log"][..], None, "I/O error"),
    ] {
        let line = refused(&f, args, stdin, &[what, "Is a directory"]);
        assert_eq!(
            line.matches("Is a directory").count(),
            1,
            "the OS error should be stated once: {line}"
        );
    }
}

#[test]
fn an_unwritable_key_path_is_named_once() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("no/such/dir/k.key");
    let out = run(
        tmp.path(),
        &["key", "generate", "--out", path.to_str().unwrap()],
        None,
    );
    let line = assert_refused(
        &out,
        &["cannot write key file", "No such file or directory"],
    );
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "the OS error should be stated once: {line}"
    );
}

/// A withdrawal, reinstatement or retraction of `t-1`, as an input line.
fn standing(event_type: &str) -> String {
    format!(r#"{{"type":"incident.{event_type}","data":{{"incident_id":"t-1","reason":"test"}}}}"#)
}

#[test]
fn only_an_active_incident_is_withdrawn_only_a_withdrawn_one_reinstated_and_a_retraction_is_final()
{
    let f = base();
    append_refused(
        &f,
        &[standing("reinstated")],
        &["line 1", "incident t-1 is not withdrawn"],
    );
    append_refused(
        &f,
        &[standing("withdrawn"), standing("withdrawn")],
        &[
            "line 2",
            "incident t-1 was already withdrawn",
            "reinstate it",
        ],
    );
    // Withdrawn, it may still be corrected; reinstated, withdrawn again, then retracted for good.
    let corrected = r#"{"type":"incident.corrected","data":{"incident_id":"t-1","changes":{"fatalities":4},"reason":"recount"}}"#;
    f.append_ok(&[
        standing("withdrawn"),
        corrected.to_string(),
        standing("reinstated"),
        standing("withdrawn"),
        standing("retracted"),
    ]);
    append_refused(
        &f,
        &[standing("reinstated")],
        &["incident t-1 was retracted", "a retraction is final"],
    );
}

/// A FIFO at `path`, which a reader that opens it waiting for a writer would wait on forever.
fn fifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

#[test]
fn special_files_are_refused_as_keys_inputs_and_evidence_without_waiting() {
    let f = base();
    let pipe = f.path("pipe");
    fifo(&pipe);
    let pipe = pipe.to_str().unwrap();
    // Each would block forever, or read forever, if it were opened and read as a file; the
    // test harness's own timeout is the hang's witness.
    let started = std::time::Instant::now();
    let inv = f.inv_key.to_str().unwrap().to_string();
    for (args, words) in [
        (vec!["append", "--key", pipe, "-"], vec!["key file", "FIFO"]),
        (
            vec!["append", "--key", &inv, pipe],
            vec!["input file", "FIFO"],
        ),
        (
            vec!["import", "ucdp", pipe, "--key", &inv],
            vec!["cannot read", "FIFO"],
        ),
        (
            vec!["attach", "--key", &inv, "--incident", "t-1", "/dev/zero"],
            vec!["character device"],
        ),
        (vec!["evidence", "check", pipe], vec!["FIFO"]),
    ] {
        let out = f.run(&args, Some(b""));
        assert_refused(&out, &words);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // A key file far longer than a key file is refused before it is read.
    let big = f.path("big.key");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(300 << 20).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = f.run(&["append", "--key", big.to_str().unwrap(), "-"], Some(b""));
    assert_refused(&out, &["big.key", "314572800 bytes", "more than the 4096"]);
}

#[test]
fn the_demo_replaces_only_its_own_directory() {
    let f = base();
    let demo = f.path("demo");
    let run_demo = |dir: &Path| f.run(&["demo", "--dir", dir.to_str().unwrap()], None);
    assert!(run_demo(&demo).status.success());
    // Run again, it replaces its own.
    assert!(run_demo(&demo).status.success());

    // Its marker copied into a real ledger's directory does not make that the demo's.
    std::fs::copy(demo.join(".ledger-demo"), f.dir.join(".ledger-demo")).unwrap();
    let before = every_file(&f.dir);
    assert_refused(&run_demo(&f.dir), &["was not made by the demo"]);
    assert!(
        every_file(&f.dir) == before,
        "the demo touched a real ledger"
    );

    // Nor does a copy of the whole demo directory elsewhere, whose marker names the original.
    let copy = f.path("copy");
    std::fs::create_dir(&copy).unwrap();
    copy_tree(&demo, &copy);
    assert_refused(&run_demo(&copy), &["was not made by the demo"]);
}

#[test]
fn links_planted_in_the_ledger_directory_are_never_followed() {
    let f = base();
    let outside = f.path("outside.txt");
    std::fs::write(&outside, "not the ledger's").unwrap();
    let untouched = || {
        assert_eq!(
            std::fs::read_to_string(&outside).unwrap(),
            "not the ledger's"
        );
    };

    // A cache's new file, and the readers' copy of the keys, linked to a file elsewhere: the
    // links are replaced, the file elsewhere is not written.
    f.run_ok(&["project", "incidents"], None);
    std::os::unix::fs::symlink(&outside, f.dir.join("cache").join("incidents.new")).unwrap();
    std::os::unix::fs::symlink(&outside, f.dir.join("keys.derived.new")).unwrap();
    f.run_ok(&["project", "incidents", "--rebuild"], None);
    f.append_ok(&[incident("t-7", 1)]);
    untouched();

    // The cache itself a link: it is read as no cache, the view is folded from the log, and a
    // cache file takes the link's place.
    let cache = f.dir.join("cache").join("incidents");
    let rebuilt = f.run_ok(&["project", "incidents", "--rebuild"], None);
    std::fs::remove_file(&cache).unwrap();
    std::os::unix::fs::symlink(&outside, &cache).unwrap();
    assert_eq!(f.run_ok(&["project", "incidents"], None), rebuilt);
    assert!(!std::fs::symlink_metadata(&cache)
        .unwrap()
        .file_type()
        .is_symlink());
    untouched();

    // The lock a link: a writer refuses to take it, naming it.
    let lock = f.dir.join("ledger.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&outside, &lock).unwrap();
    let out = f.run(
        &["append", "--key", f.inv_key.to_str().unwrap(), "-"],
        Some(incident("t-8", 1).as_bytes()),
    );
    assert_refused(&out, &["ledger.lock is a symbolic link"]);
    untouched();
}
