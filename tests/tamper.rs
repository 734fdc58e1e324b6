//! Tampering behind the ledger's back: a real ledger is built through the binary, verified
//! intact, then its log files (or its derived state) are edited directly, and `ledger verify`
//! must exit 1 and name the seq where the damage is.
//!
//! The fixture's log (see `common::Fixture::with_incidents`):
//! seq 0 genesis, 1 investigator `inv` enrolled, 2-4 incidents t-1..t-3 (one batch),
//! 5 correction of t-1 and 6 incident t-4, 7 retraction of t-2 and 8 incident t-5.

use crate::common::*;
use ledger::entry::{Entry, ENTRY_TAG};
use ledger::keys::SecretKey;
use serde_json::{json, Value};
use std::sync::OnceLock;
use tempfile::TempDir;

/// The middle entry most tests damage: t-2, the second statement of a three-statement batch,
/// so that its seal carries an inclusion proof.
const MIDDLE: u64 = 3;

fn flipped(bytes: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= mask;
    out
}

/// Stores `tampered` at `seq` in a fresh copy of the fixture and runs verify. The copy verifies
/// intact, also after its entries are written back unchanged the same way
/// (`the_fixture_ledger_verifies_intact`), so what verify reports comes from the bytes alone.
fn verify_tampered(seq: u64, tampered: &[u8]) -> (i32, String) {
    let f = Fixture::with_incidents();
    f.edit_log(|log| log.put(seq, tampered));
    f.verify()
}

fn assert_named(code: i32, out: &str, seq: u64, what: &str, expect: &str) {
    assert_eq!(code, 1, "{what}: verify should exit 1:\n{out}");
    let at = problems_at(out, seq);
    assert!(
        !at.is_empty(),
        "{what}: verify should report a problem at `seq {seq}:`:\n{out}"
    );
    assert!(
        at.iter().any(|l| l.contains(expect)),
        "{what}: the problem at seq {seq} should say {expect:?}:\n{out}"
    );
}

#[test]
fn the_fixture_ledger_verifies_intact() {
    let f = Fixture::with_incidents();
    let (code, report) = f.verify_json();
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"], 9, "{report}");
    assert_eq!(report["problems"], 0, "{report}");
    assert_eq!(report["incidents"], 5, "{report}");
    f.raw_log().assert_head_names_the_last_entry();
    // Writing every entry back unchanged, as the tests below write a damaged one, leaves the
    // files as they were and nothing for verify to find.
    let before = f.snapshot();
    f.edit_log(|log| {
        for seq in 0..=8 {
            let bytes = log.entry(seq).to_vec();
            log.put(seq, &bytes);
        }
    });
    assert!(before == f.snapshot(), "the files changed");
    f.assert_intact();
}

#[test]
fn verify_names_the_seq_of_a_flipped_payload_byte() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(MIDDLE);
    let payload = EntryFields::of(&original).payload;
    let jnim = payload.start
        + original[payload.clone()]
            .windows(4)
            .position(|w| w == b"JNIM")
            .expect("actor1 is in the payload");
    for (what, at, mask) in [
        ("first payload byte", payload.start, 0x01),
        ("a byte of actor1 (JSON stays valid)", jnim, 0x01),
        ("a digit of fatalities", payload.end - 2, 0x02),
        ("last payload byte", payload.end - 1, 0x01),
    ] {
        let (code, out) = verify_tampered(MIDDLE, &flipped(&original, at, mask));
        assert_named(code, &out, MIDDLE, what, "signature does not verify");
    }
}

#[test]
fn verify_names_the_seq_of_a_flipped_signature_byte() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(MIDDLE);
    let signature = EntryFields::of(&original).signature;
    for (what, at) in [
        ("first signature byte", signature.start),
        ("middle signature byte", signature.start + 32),
        ("last signature byte", signature.end - 1),
    ] {
        let (code, out) = verify_tampered(MIDDLE, &flipped(&original, at, 0x01));
        assert_named(code, &out, MIDDLE, what, "signature does not verify");
    }
}

#[test]
fn verify_names_the_seq_of_a_flipped_seal_or_statement_header_byte() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(MIDDLE);
    assert_eq!(Entry::decode(&original).unwrap().seal.batch_size, 3);
    let fields = EntryFields::of(&original);
    for (what, at) in [
        ("the seal index", fields.seal_index.end - 1),
        ("the seal batch size", fields.seal_batch_size.end - 1),
        ("a proof hash", fields.first_proof_hash.start + 5),
        ("the author key", fields.author.start + 9),
        ("the claimed time", fields.claimed_at.end - 1),
        ("the event type", fields.event_type.start + 3),
    ] {
        let (code, out) = verify_tampered(MIDDLE, &flipped(&original, at, 0x01));
        assert_eq!(code, 1, "{what}: verify should exit 1:\n{out}");
        assert!(
            !problems_at(&out, MIDDLE).is_empty(),
            "{what}: verify should report a problem at `seq {MIDDLE}:`:\n{out}"
        );
    }
}

#[test]
fn verify_names_the_seq_of_a_flipped_seq_or_prev_byte() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(MIDDLE);
    let fields = EntryFields::of(&original);
    let (code, out) = verify_tampered(MIDDLE, &flipped(&original, fields.seq.end - 1, 0x10));
    assert_named(code, &out, MIDDLE, "the seq field", "says it is seq");
    let (code, out) = verify_tampered(MIDDLE, &flipped(&original, fields.prev.start + 10, 0x01));
    assert_named(code, &out, MIDDLE, "the prev field", "prev does not match");
}

/// recorded_at is the ledger's clock, not part of what the author signed; the chain covers it.
/// Changing it must be reported at the entry itself, or (for a change that keeps the clock
/// monotonic there) as the break of the link from it to the next entry, which names it.
#[test]
fn verify_names_the_seq_of_a_flipped_recorded_at_byte() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(MIDDLE);
    let recorded_at = EntryFields::of(&original).recorded_at;
    let link_from_middle = format!(
        "seq {}: prev does not match the hash of the entry before it (seq {MIDDLE})",
        MIDDLE + 1
    );
    // From the most significant byte (a jump of centuries) to the least (one microsecond).
    for (i, mask) in [(0usize, 0x01u8), (3, 0x80), (5, 0x10), (7, 0x01)] {
        let what = format!("recorded_at byte {i} ^ {mask:#04x}");
        let tampered = flipped(&original, recorded_at.start + i, mask);
        let (code, out) = verify_tampered(MIDDLE, &tampered);
        assert_eq!(code, 1, "{what}: verify should exit 1:\n{out}");
        assert!(
            !problems_at(&out, MIDDLE).is_empty() || out.contains(&link_from_middle),
            "{what}: verify should name seq {MIDDLE}:\n{out}"
        );
        // The entry after it always shows the broken link.
        assert!(out.contains(&link_from_middle), "{what}:\n{out}");
    }
    // Moving the clock backwards is reported at the entry itself.
    let mut earlier = original.clone();
    let t = i64::from_be_bytes(original[recorded_at.clone()].try_into().unwrap());
    earlier[recorded_at].copy_from_slice(&(t - 1).to_be_bytes());
    let (code, out) = verify_tampered(MIDDLE, &earlier);
    assert_named(
        code,
        &out,
        MIDDLE,
        "recorded_at - 1us",
        "earlier than the entry before it",
    );
}

/// Entries are stored by position: with entry 4 taken out of the file, the later ones move
/// down a place. Verify names the seq where the chain breaks, each moved entry, and the end of
/// the file before the head.
#[test]
fn verify_names_the_seq_of_a_deleted_entry() {
    let f = Fixture::with_incidents();
    f.edit_log(|log| log.remove(4));
    let (code, out) = f.verify();
    assert_named(code, &out, 4, "entry 4 deleted", "says it is seq 5");
    assert_named(
        code,
        &out,
        4,
        "entry 4 deleted",
        "prev does not match the hash of the entry before it (seq 3)",
    );
    for seq in 5..=7 {
        let moved = format!("says it is seq {}", seq + 1);
        assert_named(code, &out, seq, "entry 4 deleted", &moved);
    }
    let segment = f.segment_path(0).display().to_string();
    assert_named(
        code,
        &out,
        8,
        "entry 4 deleted",
        &format!("seq 8 cannot be read from {segment}: the file ends"),
    );
    let named: Vec<&str> = problem_lines(&out);
    assert!(
        named
            .iter()
            .all(|l| (4..=8).any(|s| l.starts_with(&format!("seq {s}: ")))),
        "only seqs 4 to 8 are named:\n{out}"
    );
}

#[test]
fn verify_names_both_seqs_of_swapped_entries() {
    let f = Fixture::with_incidents();
    f.edit_log(|log| {
        let (a, b) = (log.entry(3).to_vec(), log.entry(6).to_vec());
        log.put(3, &b);
        log.put(6, &a);
    });
    let (code, out) = f.verify();
    assert_named(code, &out, 3, "entries 3 and 6 swapped", "swapped");
    assert_named(code, &out, 6, "entries 3 and 6 swapped", "swapped");
}

#[test]
fn verify_names_the_seq_of_a_payload_re_signed_by_an_unenrolled_key() {
    let f = Fixture::with_incidents();
    // t-3 at seq 4 is referred to by nothing later, so the only broken rule is its author.
    let target = 4;
    let rogue = SecretKey::generate(Some("rogue".into())).unwrap();
    f.edit_log(|log| {
        log.assert_head_names_the_last_entry();
        let original = Entry::decode(log.entry(target)).unwrap();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&original.statement.payload).unwrap();
        assert_eq!(payload["incident_id"], "t-3");
        payload["fatalities"] = json!(70);
        let forged = forge_entry(
            &rogue,
            target,
            original.recorded_at,
            original.prev,
            "incident.reported",
            &serde_json::to_vec(&payload).unwrap(),
        );
        log.put(target, &forged);
        log.rechain_after(target);
    });
    let (code, report) = f.verify_json();
    assert_eq!(code, 1, "{report}");
    // The unenrolled author, the sealed batch the forgery cut short, and the stored tree
    // (written before the forgery): all at the forged seq and nowhere else.
    assert_eq!(report["problems"], 3, "{report}");
    let problems = report["problem_list"].as_array().unwrap();
    assert!(problems.iter().all(|p| p["seq"] == target), "{report}");
    let (code, out) = f.verify();
    assert_named(
        code,
        &out,
        target,
        "re-signed by a rogue key",
        "is not enrolled",
    );
    assert!(out.contains(&rogue.public().to_string()), "{out}");
}

/// Forges `payload` (its exact bytes) at the end of the log, signed by the investigator, and
/// checks that verify finds exactly one problem: at that seq, saying `expect`. Returns the seq
/// and verify's output.
fn assert_one_problem_at_forged_end(
    f: &Fixture,
    event_type: &str,
    payload: &[u8],
    what: &str,
    expect: &str,
) -> (u64, String) {
    let inv = SecretKey::load(&f.inv_key).unwrap();
    let seq = f.edit_log(|log| log.forge_at_end(&inv, event_type, payload));
    let (code, report) = f.verify_json();
    assert_eq!(code, 1, "{what}: {report}");
    assert_eq!(report["problems"], 1, "{what}: {report}");
    let (code, out) = f.verify();
    assert_named(code, &out, seq, what, expect);
    (seq, out)
}

#[test]
fn verify_names_the_seq_of_an_entry_by_a_revoked_key() {
    let f = Fixture::with_incidents();
    f.revoke_inv(); // seq 9
    f.assert_intact();
    let payload = json!({"incident_id": "t-6", "event_date": "2023-08-02", "event_type": "Battles",
                         "actor1": "JNIM", "fatalities": 1});
    let (seq, out) = assert_one_problem_at_forged_end(
        &f,
        "incident.reported",
        &serde_json::to_vec(&payload).unwrap(),
        "signed by a revoked key",
        "revoked",
    );
    assert_eq!(seq, 10);
    assert!(out.contains("revoked at seq 9"), "{out}");
}

/// A signed payload that repeats a key passes a last-key-wins parser's schema check, so verify
/// must refuse it on its own rule, as append does.
#[test]
fn verify_names_the_seq_of_a_signed_payload_that_repeats_a_key() {
    let f = Fixture::with_incidents();
    assert_one_problem_at_forged_end(
        &f,
        "incident.reported",
        br#"{"incident_id":"t-6","event_date":"2023-08-02","event_type":"Battles","actor1":"JNIM","fatalities":1,"fatalities":100}"#,
        "repeated key",
        "\"fatalities\" appears twice",
    );
}

/// Forges `broken` and then `after` (an entry that is fine only if verify took `broken` as it
/// stands) at the end of the log, both signed by `key`, and checks that verify finds one problem:
/// at `broken`'s seq, saying `expect`.
fn assert_one_problem_and_no_cascade(
    f: &Fixture,
    key: &SecretKey,
    broken: (&str, &Value),
    after: (&str, &Value),
    expect: &str,
) {
    let seq = f.edit_log(|log| {
        let seq = log.forge_at_end(key, broken.0, &serde_json::to_vec(broken.1).unwrap());
        log.forge_at_end(key, after.0, &serde_json::to_vec(after.1).unwrap());
        seq
    });
    let (code, report) = f.verify_json();
    assert_eq!((code, &report["problems"]), (1, &json!(1)), "{report}");
    let (code, out) = f.verify();
    assert_named(code, &out, seq, broken.0, expect);
}

/// An entry written before the rule, or by a writer that skipped it: verify reports the date
/// against the day the entry says it was recorded, and only there (a later correction of the
/// incident is not reported for it).
#[test]
fn verify_names_the_seq_of_an_event_dated_after_the_day_it_was_recorded() {
    let f = Fixture::with_incidents();
    let report = json!({"incident_id": "t-6", "event_date": "2093-05-01", "event_type": "Battles",
                        "actor1": "JNIM", "fatalities": 1});
    let correction = json!({"incident_id": "t-6", "changes": {"fatalities": 2}, "reason": "r"});
    assert_one_problem_and_no_cascade(
        &f,
        &SecretKey::load(&f.inv_key).unwrap(),
        ("incident.reported", &report),
        ("incident.corrected", &correction),
        "incident t-6 is dated 2093-05-01, after the day it was recorded",
    );
}

/// A writer that skipped the rule could leave the ledger with no admin; verify says so, and
/// keeps the key active for the entries after it.
#[test]
fn verify_names_the_seq_of_a_revocation_of_the_last_active_admin_key() {
    let f = Fixture::with_incidents();
    let revocation = json!({"name": "admin", "public_key": f.admin_public, "reason": "left"});
    let enrolment = json!({"name": "late", "role": "auditor",
                           "public_key": SecretKey::from_seed([9; 32], None).public().to_string()});
    assert_one_problem_and_no_cascade(
        &f,
        &SecretKey::load(&f.admin_key).unwrap(),
        ("key.revoked", &revocation),
        ("key.enrolled", &enrolment),
        "key admin is the last active admin key",
    );
}

#[test]
fn verify_names_the_seq_of_a_correction_of_a_retracted_incident() {
    let f = Fixture::with_incidents();
    let payload = json!({"incident_id": "t-2", "changes": {"fatalities": 9}, "reason": "revised"});
    let (seq, out) = assert_one_problem_at_forged_end(
        &f,
        "incident.corrected",
        &serde_json::to_vec(&payload).unwrap(),
        "correction of retracted t-2",
        "retracted",
    );
    assert_eq!(seq, 9);
    assert!(out.contains("retracted at seq 7"), "{out}");
}

/// The last entry cut short in its file, or gone from it, is a framing problem at the last
/// seq: the head counts an entry the file does not hold whole.
#[test]
fn verify_reports_a_truncated_last_entry() {
    for (what, gone_whole, expect) in [
        ("last entry cut short", false, "should be"),
        ("last entry removed", true, "the file ends at byte"),
    ] {
        let f = cut_last_entry(gone_whole);
        let (code, out) = f.verify();
        let named = format!(
            "seq 8 cannot be read from {}: ",
            f.segment_path(0).display()
        );
        assert_named(code, &out, 8, what, &named);
        assert_named(code, &out, 8, what, expect);
        assert_eq!(problem_lines(&out).len(), 1, "{what}:\n{out}");
    }
}

/// Append refuses to build on a log whose files end before its head, and writes nothing.
#[test]
fn append_refuses_a_log_whose_files_end_before_its_head() {
    for gone_whole in [false, true] {
        let f = cut_last_entry(gone_whole);
        let before = f.snapshot();
        let out = f.run(
            &["append", "--key", f.inv_key.to_str().unwrap(), "-"],
            Some(&ndjson(&[incident("t-6", 1)])),
        );
        assert_refused(&out, &["seq 8", "ledger verify"]);
        assert!(before == f.snapshot(), "append wrote to a damaged ledger");
    }
}

/// The fixture with its last entry (seq 8) cut short in its file, or gone from it whole.
fn cut_last_entry(gone_whole: bool) -> Fixture {
    let f = Fixture::with_incidents();
    let last_len = f.entry_bytes(8).len() as u64;
    let segment = f.segment_path(0);
    let len = std::fs::metadata(&segment).unwrap().len();
    cut_file(&segment, len - if gone_whole { last_len + 2 } else { 10 });
    f
}

fn cut_file(path: &std::path::Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// A segment file cut short before the durable head (a disk that lost the end of a file the
/// head says was written): verify names the seqs the file no longer holds, and nothing else.
#[test]
fn a_segment_file_cut_short_before_the_head_names_the_lost_seqs() {
    let f = Fixture::with_incidents();
    let (segment, at) = f.raw_log().offset_of(6);
    cut_file(&f.segment_path(segment), at + 10);
    let lost = format!(
        "seqs 6 to 8 cannot be read from {}: the record at byte {at} should be",
        f.segment_path(segment).display()
    );
    let (code, out) = f.verify();
    assert_named(code, &out, 6, "file cut in seq 6", &lost);
    assert_eq!(problem_lines(&out).len(), 1, "{out}");
    let (code, report) = f.verify_json();
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["intact"], false, "{report}");
    assert_eq!(report["problems"], 1, "{report}");
    assert_eq!(report["problem_list"][0]["seq"], 6, "{report}");
    let reason = report["problem_list"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with(&lost), "{report}");
}

/// Bytes past the head (what an append that died before its commit point leaves) are an
/// unacknowledged tail: no command sees them, and the next append cuts them off.
#[test]
fn bytes_after_the_head_are_unseen_and_cut_off_by_the_next_append() {
    let f = Fixture::with_incidents();
    let inv = SecretKey::load(&f.inv_key).unwrap();
    let segment = f.segment_path(0);
    let acknowledged = f.raw_log();
    // A whole entry that chains to the head, framed, then half of another.
    let mut tail_log = f.raw_log();
    let payload = serde_json::to_vec(&json!({"incident_id": "t-6", "event_date": "2023-08-02",
        "event_type": "Battles", "actor1": "JNIM", "fatalities": 1}))
    .unwrap();
    tail_log.forge_at_end(&inv, "incident.reported", &payload);
    let forged = tail_log.entry(9).to_vec();
    let mut tail = u16::try_from(forged.len()).unwrap().to_be_bytes().to_vec();
    tail.extend_from_slice(&forged);
    tail.extend_from_within(..tail.len() / 2);
    let mut bytes = std::fs::read(&segment).unwrap();
    assert_eq!(bytes.len() as u64, acknowledged.durable.segment_end);
    bytes.extend_from_slice(&tail);
    std::fs::write(&segment, &bytes).unwrap();

    let (code, report) = f.verify_json();
    assert_eq!((code, &report["entries"]), (0, &json!(9)), "{report}");
    assert!(!f.run_ok(&["log"], None).contains("t-6"));
    let shown = f.run(&["show", "9"], None);
    assert_eq!(
        shown.status.code(),
        Some(2),
        "{}",
        describe(&["show", "9"], &shown)
    );
    f.run_ok(&["show", "8"], None);
    let incidents = f.run_ok(&["project", "incidents", "--format", "csv"], None);
    assert!(!incidents.contains("t-6"), "{incidents}");
    f.run_ok(&["key", "list"], None);

    f.append_ok(&[incident("t-7", 2)]);
    let log = f.raw_log();
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        log.durable.segment_end,
        "the tail is cut off"
    );
    assert_eq!(log.entries[..9], acknowledged.entries[..]);
    assert!(String::from_utf8_lossy(log.entry(9)).contains("t-7"));
    f.assert_intact();
}

/// A head file that does not check out is not guessed around: every command refuses the
/// ledger, naming the file, with advice.
#[test]
fn a_damaged_head_file_is_refused_naming_it() {
    let f = Fixture::with_incidents();
    let head = f.head_path();
    let bytes = std::fs::read(&head).unwrap();
    std::fs::write(&head, flipped(&bytes, 20, 0x01)).unwrap();
    let key = f.inv_key.to_str().unwrap().to_string();
    for (args, stdin) in [
        (&["verify"][..], None),
        (&["verify", "--format", "json"], None),
        (&["log"], None),
        (
            &["append", "--key", &key, "-"],
            Some(ndjson(&[incident("t-6", 1)])),
        ),
    ] {
        let before = f.snapshot();
        let out = f.run(args, stdin.as_deref());
        let line = assert_refused(
            &out,
            &[&head.display().to_string(), "damaged", "ledger restore"],
        );
        assert!(line.contains("check"), "{line}");
        assert!(before == f.snapshot(), "{args:?} changed the ledger");
    }
}

/// A fixture whose log spans two segment files: the fixture plus 16,400 incidents `s-0`...
/// (seqs 2 to 16,401), one batch.
fn two_segments() -> Fixture {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    Fixture::from_template(&TEMPLATE, || {
        let f = Fixture::new();
        let lines: Vec<String> = (0..16_400)
            .map(|i| incident(&format!("s-{i}"), i % 9))
            .collect();
        let input = f.path("many.ndjson");
        std::fs::write(&input, ndjson(&lines)).unwrap();
        f.run_ok(
            &[
                "append",
                "--key",
                f.inv_key.to_str().unwrap(),
                input.to_str().unwrap(),
            ],
            None,
        );
        f
    })
}

/// A flipped length loses the framing of its segment from there to its end: verify names those
/// seqs, and still checks every entry before them and in the next segment.
#[test]
fn a_flipped_length_loses_the_rest_of_its_segment_and_the_next_is_still_checked() {
    let f = two_segments();
    let per_segment = ledger::log::SEGMENT_ENTRIES;
    let last = f.edit_log(|log| {
        assert_eq!(log.last_seq(), 16_401);
        assert!(log.last_seq() >= per_segment);
        // A problem in the second segment, which verify must still reach (with the broken
        // link after it).
        let after = per_segment + 6;
        let bytes = log.entry(after).to_vec();
        let payload = EntryFields::of(&bytes).payload;
        log.put(after, &flipped(&bytes, payload.start, 0x01));
        after
    });
    let (segment, at) = f.raw_log().offset_of(100);
    let path = f.segment_path(segment);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[usize::try_from(at).unwrap() + 1] ^= 0x01; // the low byte of seq 100's length
    std::fs::write(&path, bytes).unwrap();

    let (code, out) = f.verify();
    assert_eq!(code, 1, "{out}");
    assert_named(code, &out, 100, "flipped length", "does not decode");
    let lost = format!(
        "seqs 101 to {} cannot be read from {}: ",
        per_segment - 1,
        path.display()
    );
    assert_named(code, &out, 101, "flipped length", &lost);
    assert_named(
        code,
        &out,
        last,
        "flipped payload byte",
        "signature does not verify",
    );
    let link = format!("seq {}: prev does not match", last + 1);
    assert!(out.contains(&link), "{out}");
    let named: Vec<&str> = problem_lines(&out);
    assert!(
        named.iter().all(|l| [100, 101, last, last + 1]
            .iter()
            .any(|s| l.starts_with(&format!("seq {s}: ")))),
        "only seqs 100, 101, {last} and the link after it are named:\n{out}"
    );
    assert!(
        out.contains(&format!("{} entries", 16_402 - (per_segment - 101))),
        "{out}"
    );
}

#[test]
fn verify_names_seq_0_when_the_genesis_is_altered() {
    let f = Fixture::with_incidents();
    let original = f.entry_bytes(0);
    let payload = EntryFields::of(&original).payload;
    let origin = b"test/ledger";
    let at = payload.start
        + original[payload]
            .windows(origin.len())
            .position(|w| w == origin)
            .expect("the origin is in the genesis payload");
    let (code, out) = verify_tampered(0, &flipped(&original, at + 5, 0x01));
    assert_named(code, &out, 0, "genesis origin", "signature does not verify");
}

#[test]
fn verify_reports_a_changed_last_entry_even_when_its_chain_is_fine() {
    // Replacing the last entry with a correctly linked, correctly signed one by the same author,
    // of the same length so that the file's framing still ends where the head says, is only
    // visible against the head's hash.
    let f = Fixture::with_incidents();
    let inv = SecretKey::load(&f.inv_key).unwrap();
    f.edit_log(|log| {
        let seq = log.last_seq();
        let bytes = log.entry(seq).to_vec();
        let last = Entry::decode(&bytes).unwrap();
        let forge = |padding: usize| {
            let payload = format!(
                r#"{{"incident_id":"t-5","event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","fatalities":0}}{}"#,
                " ".repeat(padding)
            );
            forge_entry(
                &inv,
                seq,
                last.recorded_at,
                last.prev,
                "incident.reported",
                payload.as_bytes(),
            )
        };
        let forged = (0..bytes.len())
            .map(forge)
            .find(|forged| forged.len() == bytes.len())
            .expect("a padding gives the forgery the last entry's length");
        log.put(seq, &forged);
    });
    let (code, out) = f.verify();
    assert_named(
        code,
        &out,
        8,
        "last entry replaced",
        "the log's head says it ends at seq 8",
    );
    // And the sealed batch the forgery cut short, and the stored tree (written before the
    // forgery), there and nowhere else.
    assert_named(
        code,
        &out,
        8,
        "last entry replaced",
        "the sealed batch of 2",
    );
    assert_named(
        code,
        &out,
        8,
        "last entry replaced",
        "the tree's hash of seq 8",
    );
    assert_eq!(problem_lines(&out).len(), 3, "{out}");
}

#[test]
fn verify_does_not_depend_on_derived_state() {
    let f = Fixture::with_incidents();
    // Garbage in every derived record except what it covers and in the readers' copy of the
    // keys, then no derived state at all.
    let keys_file = f.dir.join(ledger::state::KEYS_FILE);
    f.with_db(|db| {
        let keys = derived_state_keys(db, false);
        assert!(!keys.is_empty());
        for k in keys {
            db.insert(k, b"\xff garbage".to_vec()).unwrap();
        }
    });
    std::fs::write(&keys_file, b"\xff garbage").unwrap();
    f.assert_intact();
    f.with_db(|db| {
        for k in derived_state_keys(db, true) {
            db.remove(k).unwrap();
        }
    });
    std::fs::remove_file(&keys_file).unwrap();
    f.assert_intact();
}

/// After damage to derived state: revoking `inv` is refused with advice to run `ledger reindex`
/// (never a panic, never an entry signed on bad state), and after `ledger reindex` the same
/// revocation goes through.
fn revocation_waits_for_reindex(f: &Fixture) {
    let revoke = f.revoke_inv_args();
    let out = f.run(&revoke, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&revoke, &out));
    assert!(
        stderr.contains("derived state is damaged") && stderr.contains("`ledger reindex`"),
        "{stderr}"
    );
    f.assert_intact();
    f.run_ok(&["reindex"], None);
    f.revoke_inv();
    f.assert_intact();
}

/// Derived state is not evidence, but append's rules read it: a lost key record stops a command
/// until `ledger reindex` rebuilds it from the log.
#[test]
fn a_lost_key_record_stops_commands_until_reindex_rebuilds_it() {
    let f = Fixture::with_incidents();
    let inv = ledger::keys::PublicKey::parse(&f.inv_public).unwrap();
    f.with_db(|db| {
        let removed = db
            .remove(ledger::state::StateKey::Key(&inv).bytes())
            .unwrap();
        assert!(removed.is_some(), "the fixture has a key record for inv");
    });
    revocation_waits_for_reindex(&f);
}

/// A name record pointed at another key (here the admin's) must not lead a revocation to the
/// wrong key: append would sign an entry that verify, folding from the log, refuses.
#[test]
fn a_name_record_pointing_at_another_key_is_damage_not_a_revocation() {
    let f = Fixture::with_incidents();
    let admin = ledger::keys::PublicKey::parse(&f.admin_public).unwrap();
    f.with_db(|db| {
        db.insert(
            ledger::state::StateKey::Name("inv").bytes(),
            ledger::state::encode(&admin.0),
        )
        .unwrap();
    });
    revocation_waits_for_reindex(&f);
}

/// With every derived record gone (keys, names, incidents, what the state covers, and the
/// readers' copy of the keys), `ledger reindex` writes back exactly the records the appends had
/// stored, and a copy of the keys as of the head, and the ledger takes appends again.
#[test]
fn reindex_rebuilds_every_derived_record_byte_for_byte() {
    let f = Fixture::with_incidents();
    let keys_file = f.dir.join(ledger::state::KEYS_FILE);
    let stored = f.with_db(derived_records);
    let (_, keys) = ledger::state::load_keys(&f.dir).expect("the appends left a copy of the keys");
    f.with_db(|db| {
        for key in derived_state_keys(db, true) {
            db.remove(key).unwrap();
        }
    });
    std::fs::remove_file(&keys_file).unwrap();
    assert!(f.with_db(derived_state).is_empty());
    run_ok(&f.dir, &["reindex"], None);
    assert!(
        f.with_db(derived_records) == stored,
        "reindex did not restore the derived state"
    );
    let (covered, rebuilt) = ledger::state::load_keys(&f.dir).expect("reindex wrote the keys");
    assert_eq!(rebuilt, keys);
    assert_eq!(covered, f.raw_log().durable.head);
    f.append_ok(&[correction("t-1", 9)]);
    f.assert_intact();
}

#[test]
fn verify_names_the_seq_of_an_entry_that_does_not_decode() {
    let f = Fixture::with_incidents();
    f.edit_log(|log| {
        let bytes = log.entry(MIDDLE).to_vec();
        log.put(MIDDLE, &bytes[..bytes.len() - 10]);
        // Framed as an entry (it starts with the entry tag), so that only decoding fails.
        log.put(5, &[ENTRY_TAG, b"not an entry"].concat());
    });
    let (code, out) = f.verify();
    assert_named(code, &out, MIDDLE, "cut short", "does not decode");
    assert_named(code, &out, 5, "garbage", "does not decode");
    // The entries after each damaged one show the broken links, and nothing panics.
    assert!(!problems_at(&out, 4).is_empty(), "{out}");
}

/// A reader that stops early (`ledger verify | head -1`) is no error: each command that prints
/// records exits 0, silently, when its output is closed — verify on a damaged ledger included,
/// which once exited 101 with a Rust panic.
#[test]
fn a_closed_output_ends_every_printing_command_quietly() {
    let f = Fixture::with_incidents();
    // More output than the command's write buffer holds, so that some writes fail while the
    // output is still being made, not only the last flush.
    let more: Vec<String> = (0..300)
        .map(|i| incident(&format!("more-{i}"), i))
        .collect();
    f.append_ok(&more);
    let original = f.entry_bytes(MIDDLE);
    let at = EntryFields::of(&original).payload.start;
    f.edit_log(|log| log.put(MIDDLE, &flipped(&original, at, 0x01)));
    for args in [
        &["verify"][..],
        &["verify", "--format", "json"],
        &["log", "--format", "json"],
        &["log"],
        &["show", "0", "--format", "json"],
        &["project", "incidents", "--format", "csv"],
        &["key", "list"],
    ] {
        let mut child = ledger_process(&f.dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ledger starts");
        // Closed before the process has opened the ledger, so that every write it makes fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("ledger runs");
        assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
        assert!(out.stderr.is_empty(), "{}", describe(args, &out));
    }
}
