//! Backup, restore and upgrade through the real binary: a backup restores to the same ledger; a
//! backup cut anywhere, altered, or taken from a tampered ledger is refused with the seq at
//! fault and leaves no ledger behind; a ledger made by release 115e6d3 is upgraded with the same
//! head, and an upgrade killed at any step is taken up again.

use crate::common::{copy_tree, describe, incident, run, run_ok, Fixture};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The head of tests/data/ledger-115e6d3, as release 115e6d3's verify printed it.
const OLD_HEAD: &str =
    "head seq 8 25c0bee718858d435a3b6f5c0e7a79cfd7049a7040d73d178c179c6544ef4541";
/// The backup file's tag and version byte (docs/FORMAT.md, "Backup files").
const HEADER: &[u8] = b"ledger/backup\0\x01";
const HEAD_FILE_LEN: usize = 101;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `ledger backup -o FILE` of the fixture with incidents (seqs 0 to 8); returns its bytes.
fn backed_up(f: &Fixture) -> Vec<u8> {
    let file = f.path("ledger.backup");
    let said = f.run_ok(&["backup", "-o", file.to_str().unwrap()], None);
    assert!(said.starts_with("backed up 9 entries to "), "{said}");
    std::fs::read(file).unwrap()
}

/// Where each entry's frame starts in a backup, read from the format alone, and where the end
/// record's zero length starts.
fn frames(backup: &[u8]) -> (Vec<usize>, usize) {
    assert!(backup.starts_with(HEADER));
    let mut at = HEADER.len();
    let mut starts = Vec::new();
    loop {
        let len = usize::from(u16::from_be_bytes([backup[at], backup[at + 1]]));
        if len == 0 {
            assert_eq!(
                backup.len(),
                at + 2 + HEAD_FILE_LEN,
                "the end record closes the file"
            );
            return (starts, at);
        }
        starts.push(at);
        at += 2 + len;
    }
}

/// `ledger restore FILE --ledger DIR` of `bytes` written to a file beside the fixture.
fn restore(f: &Fixture, bytes: &[u8], target: &Path) -> Output {
    let file = f.path("candidate.backup");
    std::fs::write(&file, bytes).unwrap();
    run(target, &["restore", file.to_str().unwrap()], None)
}

/// Restoring `bytes` is refused with exit status `code` and a message containing `says`, and
/// leaves no directory behind.
fn assert_refused(f: &Fixture, bytes: &[u8], code: i32, says: &str) {
    let target = f.path("restored");
    let out = restore(f, bytes, &target);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        describe(&["restore"], &out)
    );
    assert!(
        stderr(&out).contains(says),
        "expected {says:?}: {}",
        stderr(&out)
    );
    assert!(!target.exists(), "a refused restore leaves no ledger");
}

#[test]
fn a_backup_restores_to_the_same_ledger_that_verifies_and_takes_appends() {
    let f = Fixture::with_incidents();
    let backup = backed_up(&f);
    let piped = f.run(&["backup", "-o", "-"], None);
    assert!(piped.status.success(), "{}", describe(&["backup"], &piped));
    assert_eq!(piped.stdout, backup, "-o - writes the same bytes as a file");

    let target = f.path("restored");
    let out = restore(&f, &backup, &target);
    assert!(out.status.success(), "{}", describe(&["restore"], &out));
    let (code, original) = f.verify();
    assert_eq!(code, 0);
    let restored = run_ok(&target, &["verify"], None);
    assert_eq!(restored, original, "same entries, keys, incidents and head");
    assert!(String::from_utf8_lossy(&out.stdout).contains(original.trim()));
    assert_eq!(
        run_ok(&target, &["log", "--format", "json"], None),
        f.run_ok(&["log", "--format", "json"], None)
    );
    assert_eq!(
        std::fs::read(target.join("log/head")).unwrap(),
        std::fs::read(f.dir.join("log/head")).unwrap()
    );
    let stdin = crate::common::ndjson(&[incident("t-9", 1)]);
    let inv = f.inv_key.to_str().unwrap();
    run_ok(&target, &["append", "--key", inv, "-"], Some(&stdin));
    assert!(run_ok(&target, &["verify"], None).contains("intact. 10 entries"));
}

#[test]
fn restore_goes_only_into_a_new_or_empty_directory_and_backup_not_into_the_ledger() {
    let f = Fixture::with_incidents();
    let backup = backed_up(&f);
    let occupied = f.path("occupied");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), b"keep me").unwrap();
    let out = restore(&f, &backup, &occupied);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        describe(&["restore"], &out)
    );
    assert_eq!(
        std::fs::read(occupied.join("notes.txt")).unwrap(),
        b"keep me"
    );

    let empty = f.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = restore(&f, &backup, &empty);
    assert!(out.status.success(), "{}", describe(&["restore"], &out));

    let inside = f.dir.join("inside.backup");
    let out = f.run(&["backup", "-o", inside.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        describe(&["backup"], &out)
    );
    assert!(stderr(&out).contains("inside the ledger directory"));
    assert!(!inside.exists());
}

#[test]
fn a_backup_cut_anywhere_is_refused_with_the_seq_where_it_ends() {
    let f = Fixture::with_incidents();
    let backup = backed_up(&f);
    let (starts, end) = frames(&backup);
    assert_eq!(starts.len(), 9);
    let cut = |len: usize| &backup[..len];

    assert_refused(&f, cut(0), 2, "cut short inside its header");
    assert_refused(&f, cut(HEADER.len() - 1), 2, "cut short inside its header");
    for (seq, &start) in starts.iter().enumerate() {
        let at = format!("refused at seq {seq}: ");
        assert_refused(
            &f,
            cut(start),
            1,
            &format!("{at}the backup ends before this seq"),
        );
        assert_refused(
            &f,
            cut(start + 1),
            1,
            &format!("{at}the backup is cut short inside the length"),
        );
        assert_refused(
            &f,
            cut(start + 2),
            1,
            &format!("{at}the backup is cut short inside the entry"),
        );
        assert_refused(
            &f,
            cut(start + 40),
            1,
            &format!("{at}the backup is cut short inside the entry"),
        );
    }
    assert_refused(
        &f,
        cut(end),
        1,
        "refused at seq 9: the backup ends before this seq",
    );
    assert_refused(
        &f,
        cut(end + 1),
        1,
        "refused at seq 9: the backup is cut short inside the length",
    );
    assert_refused(
        &f,
        cut(end + 2),
        1,
        "refused at seq 9: the backup is cut short inside its end record",
    );
    assert_refused(
        &f,
        cut(backup.len() - 1),
        1,
        "cut short inside its end record",
    );
    let mut longer = backup.clone();
    longer.push(0);
    assert_refused(&f, &longer, 1, "bytes follow the backup's end record");
}

#[test]
fn an_altered_backup_is_refused_with_the_seq_at_fault() {
    let f = Fixture::with_incidents();
    let backup = backed_up(&f);
    let (starts, end) = frames(&backup);

    // A byte of the statement of seq 4 (its payload, near the end of the entry).
    let mut altered = backup.clone();
    altered[starts[5] - 30] ^= 0x01;
    assert_refused(&f, &altered, 1, "refused at seq 4: ");

    // Seq 5 removed: the entry after it is out of place, and the end record no longer fits.
    let mut removed = backup[..starts[5]].to_vec();
    removed.extend_from_slice(&backup[starts[6]..]);
    assert_refused(&f, &removed, 1, "refused at seq 5: ");

    // The end record's hash changed (its check hash then fails too).
    let mut end_changed = backup.clone();
    end_changed[end + 2 + 30] ^= 0x01;
    assert_refused(
        &f,
        &end_changed,
        1,
        "refused at seq 9: the backup's end record is damaged",
    );

    let mut not_a_backup = backup.clone();
    not_a_backup[0] = b'L';
    assert_refused(&f, &not_a_backup, 2, "does not start with the backup tag");
}

#[test]
fn a_tampered_ledger_backs_up_as_it_is_and_its_backup_is_refused() {
    let f = Fixture::with_incidents();
    let segment = f.dir.join("log/0000000000.seg");
    let mut bytes = std::fs::read(&segment).unwrap();
    let backup = backed_up(&f);
    let (starts, _) = frames(&backup);
    // The segment holds the same frames as the backup, shifted by the backup's header.
    let in_segment = starts[3] - HEADER.len() + 60;
    bytes[in_segment] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let tampered = backed_up(&f);
    assert_refused(&f, &tampered, 1, "refused at seq 3: ");

    // A cut segment file cannot be backed up at all: it fails naming the seqs, writing nothing.
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&segment, &bytes).unwrap();
    let target = f.path("cut.backup");
    let out = f.run(&["backup", "-o", target.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["backup"], &out)
    );
    assert!(stderr(&out).contains("seq 8"), "{}", stderr(&out));
    assert!(!target.exists());
    assert!(!f.path("cut.backup.partial").exists());
}

/// A copy of tests/data/ledger-115e6d3 (see its README): the ledger directory and the
/// temporary directory that holds it with its keys.
fn old_ledger() -> (tempfile::TempDir, PathBuf) {
    let kept = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ledger-115e6d3");
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&kept, copy.path());
    for key in ["admin.key", "inv.key"] {
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(copy.path().join(key), private).unwrap();
    }
    let dir = copy.path().join("ledger");
    (copy, dir)
}

/// `ledger upgrade` succeeds, and says it moved the ledger with the head 115e6d3 verified.
fn assert_upgrades(dir: &Path) {
    let said = run_ok(dir, &["upgrade"], None);
    assert!(said.starts_with("upgraded the ledger"), "{said}");
    assert!(
        said.contains(&format!(
            "intact. 9 entries, 6 signatures, 2 keys, 3 incidents; {OLD_HEAD}"
        )),
        "{said}"
    );
    let verified = run_ok(dir, &["verify"], None);
    assert!(
        verified.contains(&format!(
            "intact. 9 entries, 6 signatures, 2 keys, 3 incidents; {OLD_HEAD}"
        )),
        "{verified}"
    );
    for leftover in ["sled.old", "log.upgrade"] {
        assert!(!dir.join(leftover).exists(), "{leftover} is removed");
    }
}

/// The sled database at `path`, opened with no background flusher, so that it lets go of its
/// files as soon as it is dropped (spacejam/sled#1289) and the next `ledger` process can open them.
fn open_sled(path: &Path) -> sled::Db {
    sled::Config::new()
        .path(path)
        .flush_every_ms(None)
        .open()
        .unwrap()
}

/// The old entry records (`e` + seq) in the sled database at `db`.
fn old_entries(db: &Path) -> usize {
    let db = open_sled(db);
    let count = db.scan_prefix(b"e").count();
    db.flush().unwrap();
    count
}

#[test]
fn a_ledger_made_by_release_115e6d3_upgrades_with_the_same_head_once() {
    let (_copy, dir) = old_ledger();
    let before = run(&dir, &["verify"], None);
    assert_eq!(before.status.code(), Some(2));
    assert!(
        stderr(&before).contains("run `ledger upgrade`"),
        "{}",
        stderr(&before)
    );
    assert_eq!(old_entries(&dir.join("sled")), 9);

    assert_upgrades(&dir);
    assert_eq!(
        old_entries(&dir.join("sled")),
        0,
        "the old entries are gone from sled"
    );
    let again = run_ok(&dir, &["upgrade"], None);
    assert!(
        again.contains("already in the current layout; nothing to do"),
        "{again}"
    );

    // Derived state was rebuilt to the head: `covered` is its layout (4, u32 LE) and then the
    // head's seq (u64 LE), as docs/FORMAT.md says.
    let db = open_sled(&dir.join("sled"));
    let covered = db
        .get("covered")
        .unwrap()
        .expect("derived state covers the head");
    assert_eq!(covered[..4], 4u32.to_le_bytes());
    assert_eq!(covered[4..12], 8u64.to_le_bytes());
}

/// Each state a killed upgrade can leave is taken up by the next `ledger upgrade`.
#[test]
fn an_upgrade_killed_at_any_step_is_taken_up_again() {
    // Killed while writing the new log: the old database is in place.
    let (_copy, dir) = old_ledger();
    std::fs::create_dir(dir.join("log.upgrade")).unwrap();
    std::fs::write(dir.join("log.upgrade/0000000000.seg"), b"half written").unwrap();
    assert_upgrades(&dir);

    // Killed after the old database was moved aside, before the new log was put in place.
    let (_copy, dir) = old_ledger();
    std::fs::rename(dir.join("sled"), dir.join("sled.old")).unwrap();
    let out = run(&dir, &["log"], None);
    assert!(
        stderr(&out).contains("run `ledger upgrade`"),
        "{}",
        stderr(&out)
    );
    assert_upgrades(&dir);

    // Killed after the new log was put in place, before the old database was removed.
    let (_copy, dir) = old_ledger();
    assert_upgrades(&dir);
    let (_other, old) = old_ledger();
    std::fs::rename(old.join("sled"), dir.join("sled.old")).unwrap();
    let said = run_ok(&dir, &["upgrade"], None);
    assert!(said.contains("nothing to do"), "{said}");
    assert!(!dir.join("sled.old").exists());
}

#[test]
fn an_old_ledger_that_does_not_verify_is_not_upgraded_and_left_as_it_was() {
    let (_copy, dir) = old_ledger();
    {
        let db = open_sled(&dir.join("sled"));
        let key = [b"e".as_slice(), &3u64.to_be_bytes()].concat();
        let mut entry = db.get(&key).unwrap().unwrap().to_vec();
        let last = entry.len() - 1;
        entry[last] ^= 0x01;
        db.insert(key, entry).unwrap();
        db.flush().unwrap();
    }
    let out = run(&dir, &["upgrade"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        describe(&["upgrade"], &out)
    );
    assert!(
        stderr(&out).contains("does not verify at seq 3"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("log").exists() && !dir.join("log.upgrade").exists());
    assert_eq!(
        old_entries(&dir.join("sled")),
        9,
        "the old ledger is left as it was"
    );
}

/// Entries written at the incident schemas' version 1 keep verifying under it after the
/// schemas gained later versions, and the entries written at the current versions after them
/// verify too.
#[test]
fn entries_written_at_schema_version_1_verify_beside_later_versions() {
    let (copy, dir) = old_ledger();
    run_ok(&dir, &["upgrade"], None);
    let key = copy.path().join("inv2.key");
    let public = run_ok(
        &dir,
        &[
            "key",
            "generate",
            "--out",
            key.to_str().unwrap(),
            "--name",
            "inv2",
        ],
        None,
    );
    let admin = copy.path().join("admin.key");
    run_ok(
        &dir,
        &[
            "key",
            "enroll",
            "--key",
            admin.to_str().unwrap(),
            "--public",
            public.trim(),
            "--name",
            "inv2",
            "--role",
            "investigator",
        ],
        None,
    );
    let correction = r#"{"type":"incident.corrected","data":{"incident_id":"t-2","changes":{"geo_precision":2,"fatalities_high":9},"reason":"range from the hospital"}}"#;
    run_ok(
        &dir,
        &["append", "--key", key.to_str().unwrap(), "-"],
        Some(format!("{correction}\n").as_bytes()),
    );
    let versions: Vec<(String, u64)> = run_ok(&dir, &["log", "--format", "json"], None)
        .parse::<serde_json::Value>()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("incident."))
        .map(|e| {
            let kind = e["type"].as_str().unwrap().to_string();
            (kind, e["schema_version"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(versions.first().map(|v| v.1), Some(1), "{versions:?}");
    assert_eq!(
        versions.last(),
        Some(&("incident.corrected".to_string(), 3)),
        "{versions:?}"
    );
    let verified = run_ok(&dir, &["verify"], None);
    assert!(verified.contains("intact. 11 entries"), "{verified}");
}
