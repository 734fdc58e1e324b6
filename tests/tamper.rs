//! Tampering behind the ledger's back: a real ledger is built through the binary, verified
//! intact, then its sled database is edited directly, and `ledger verify` must exit 1 and name
//! the seq where the damage is.
//!
//! The fixture's log (see `common::Fixture::with_incidents`):
//! seq 0 genesis, 1 investigator `inv` enrolled, 2-4 incidents t-1..t-3 (one batch),
//! 5 correction of t-1 and 6 incident t-4, 7 retraction of t-2 and 8 incident t-5.

use crate::common::*;
use ledger::entry::Entry;
use ledger::keys::SecretKey;
use serde_json::json;

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
    f.with_db(|db| put_entry(db, seq, tampered));
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
    f.with_db(assert_head_names_the_last_entry);
    // Writing every entry back unchanged, as the tests below write a damaged one, leaves
    // nothing for verify to find.
    f.with_db(|db| {
        for seq in 0..=8 {
            put_entry(db, seq, &entry_bytes(db, seq));
        }
    });
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

#[test]
fn verify_names_the_seq_of_a_deleted_entry() {
    let f = Fixture::with_incidents();
    f.with_db(|db| remove_entry(db, 4));
    let (code, out) = f.verify();
    assert_named(code, &out, 4, "entry 4 deleted", "missing");
    assert!(out.contains("entries 4 to 4 are missing"), "{out}");
}

#[test]
fn verify_names_both_seqs_of_swapped_entries() {
    let f = Fixture::with_incidents();
    f.with_db(|db| {
        let (a, b) = (entry_bytes(db, 3), entry_bytes(db, 6));
        put_entry(db, 3, &b);
        put_entry(db, 6, &a);
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
    f.with_db(|db| {
        assert_head_names_the_last_entry(db);
        let original = Entry::decode(&entry_bytes(db, target)).unwrap();
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
        put_entry(db, target, &forged);
        rechain_after(db, target);
    });
    let (code, report) = f.verify_json();
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        report["problems"], 1,
        "only the unenrolled author is wrong: {report}"
    );
    assert_eq!(report["problem_list"][0]["seq"], target, "{report}");
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
    let seq = f.with_db(|db| forge_at_end(db, &inv, event_type, payload));
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

#[test]
fn verify_reports_a_truncated_last_entry() {
    let f = Fixture::with_incidents();
    f.with_db(|db| remove_entry(db, 8));
    let (code, out) = f.verify();
    assert_named(code, &out, 8, "last entry removed", "removed or changed");
    assert!(out.contains("the log now ends at seq 7"), "{out}");
    // And append refuses to build on a log whose end is not what it last wrote.
    let before = f.snapshot();
    let out = f.run(
        &["append", "--key", f.inv_key.to_str().unwrap(), "-"],
        Some(&ndjson(&[incident("t-6", 1)])),
    );
    assert_refused(&out, &["damaged at seq 7", "ledger verify"]);
    assert!(before == f.snapshot(), "append wrote to a damaged ledger");
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
    // Replacing the last entry with a correctly linked, correctly signed one by the same author
    // is only visible against the head record.
    let f = Fixture::with_incidents();
    let inv = SecretKey::load(&f.inv_key).unwrap();
    f.with_db(|db| {
        let (seq, bytes) = last_entry(db);
        let last = Entry::decode(&bytes).unwrap();
        let forged = forge_entry(
            &inv,
            seq,
            last.recorded_at,
            last.prev,
            "incident.reported",
            &serde_json::to_vec(&json!({"incident_id": "t-5", "event_date": "2023-08-01",
                "event_type": "Battles", "actor1": "JNIM", "fatalities": 0}))
            .unwrap(),
        );
        put_entry(db, seq, &forged);
    });
    let (code, out) = f.verify();
    assert_named(code, &out, 8, "last entry replaced", "removed or changed");
    assert_eq!(problem_lines(&out).len(), 1, "{out}");
}

#[test]
fn verify_does_not_depend_on_derived_state() {
    let f = Fixture::with_incidents();
    // Garbage in every derived record except the head, then no derived state at all.
    f.with_db(|db| {
        let keys = derived_state_keys(db, false);
        assert!(!keys.is_empty());
        for k in keys {
            db.insert(k, b"\xff garbage".to_vec()).unwrap();
        }
    });
    f.assert_intact();
    f.with_db(|db| {
        for k in derived_state_keys(db, true) {
            db.remove(k).unwrap();
        }
    });
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
            .remove(ledger::state::StateKey::Key(&inv).sled_key())
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
            ledger::state::StateKey::Name("inv").sled_key(),
            ledger::state::encode(&admin.0),
        )
        .unwrap();
    });
    revocation_waits_for_reindex(&f);
}

/// With every derived record gone (keys, names, incidents and the head), `ledger reindex`
/// writes back exactly what the appends had stored, and the ledger takes appends again.
#[test]
fn reindex_rebuilds_every_derived_record_byte_for_byte() {
    let f = Fixture::with_incidents();
    let stored = f.snapshot();
    f.with_db(|db| {
        for key in derived_state_keys(db, true) {
            db.remove(key).unwrap();
        }
    });
    assert!(f.snapshot().len() < stored.len());
    run_ok(&f.dir, &["reindex"], None);
    assert!(
        f.snapshot() == stored,
        "reindex did not restore the derived state"
    );
    f.append_ok(&[correction("t-1", 9)]);
    f.assert_intact();
}

#[test]
fn verify_names_the_seq_of_an_entry_that_does_not_decode() {
    let f = Fixture::with_incidents();
    f.with_db(|db| {
        let bytes = entry_bytes(db, MIDDLE);
        put_entry(db, MIDDLE, &bytes[..bytes.len() - 10]);
        put_entry(db, 5, b"not an entry");
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
    f.with_db(|db| put_entry(db, MIDDLE, &flipped(&original, at, 0x01)));
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
