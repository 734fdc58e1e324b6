//! Shared helpers for the integration tests: a real ledger built through the `ledger` binary,
//! and direct access to its sled database for tests that go behind the binary's back.
//!
//! The database is only opened directly while no `ledger` process runs, and every such access
//! flushes and drops the `sled::Db` before it returns.

#![allow(dead_code)]

use assert_cmd::Command;
use ledger::entry::{entry_hash, Entry};
use ledger::keys::SecretKey;
use ledger::merkle::Hash;
use ledger::statement::{seal_all, Statement};
use ledger::store::sled_entry_key;
use ledger::time::Timestamp;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// The sled key of the head record in derived state (`s` + `head`, docs/FORMAT.md).
pub const HEAD_STATE_KEY: &[u8] = b"shead";

/// `ledger --ledger DIR` with the real binary.
pub fn ledger_cmd(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ledger").expect("the ledger binary is built");
    cmd.arg("--ledger").arg(dir);
    cmd
}

/// Runs `ledger --ledger DIR args...` with optional stdin.
pub fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = ledger_cmd(dir);
    cmd.args(args);
    if let Some(bytes) = stdin {
        cmd.write_stdin(bytes.to_vec());
    }
    cmd.output().expect("ledger runs")
}

pub fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "ledger {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the binary and insists that it succeeds; returns its stdout.
pub fn run_ok(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = run(dir, args, stdin);
    assert!(out.status.success(), "{}", describe(args, &out));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// A valid `incident.reported` NDJSON line.
pub fn incident(id: &str, fatalities: i64) -> String {
    format!(
        r#"{{"type":"incident.reported","data":{{"incident_id":"{id}","event_date":"2023-08-01","event_type":"Battles","actor1":"JNIM","fatalities":{fatalities}}}}}"#
    )
}

pub fn correction(id: &str, fatalities: i64) -> String {
    format!(
        r#"{{"type":"incident.corrected","data":{{"incident_id":"{id}","changes":{{"fatalities":{fatalities}}},"reason":"revised"}}}}"#
    )
}

pub fn retraction(id: &str) -> String {
    format!(
        r#"{{"type":"incident.retracted","data":{{"incident_id":"{id}","reason":"duplicate"}}}}"#
    )
}

/// Joins event lines into an NDJSON batch.
pub fn ndjson(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// A ledger in its own temporary directory, created through the binary: an admin key
/// (`admin`), the genesis (seq 0) and an enrolled investigator key (`inv`, seq 1).
pub struct Fixture {
    pub tmp: TempDir,
    pub dir: PathBuf,
    pub admin_key: PathBuf,
    pub inv_key: PathBuf,
    pub inv_public: String,
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        let admin_key = tmp.path().join("admin.key");
        let inv_key = tmp.path().join("inv.key");
        let keygen = |path: &Path, name: &str| {
            run_ok(
                &dir,
                &[
                    "key",
                    "generate",
                    "--out",
                    path.to_str().unwrap(),
                    "--name",
                    name,
                ],
                None,
            )
            .trim()
            .to_string()
        };
        keygen(&admin_key, "admin");
        let inv_public = keygen(&inv_key, "inv");
        run_ok(
            &dir,
            &[
                "init",
                "--admin-key",
                admin_key.to_str().unwrap(),
                "--origin",
                "test/ledger",
            ],
            None,
        );
        run_ok(
            &dir,
            &[
                "key",
                "enroll",
                "--key",
                admin_key.to_str().unwrap(),
                "--public",
                &inv_public,
                "--name",
                "inv",
                "--role",
                "investigator",
            ],
            None,
        );
        Fixture {
            tmp,
            dir,
            admin_key,
            inv_key,
            inv_public,
        }
    }

    /// The fixture plus three batches by the investigator:
    ///
    /// | seq | event                         |
    /// |-----|-------------------------------|
    /// | 2-4 | reported t-1, t-2, t-3        |
    /// | 5-6 | corrected t-1, reported t-4   |
    /// | 7-8 | retracted t-2, reported t-5   |
    pub fn with_incidents() -> Fixture {
        let f = Fixture::new();
        f.append_ok(&[incident("t-1", 3), incident("t-2", 0), incident("t-3", 7)]);
        f.append_ok(&[correction("t-1", 4), incident("t-4", 1)]);
        f.append_ok(&[retraction("t-2"), incident("t-5", 2)]);
        f
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(&self.dir, args, stdin)
    }

    pub fn run_ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        run_ok(&self.dir, args, stdin)
    }

    /// Appends an NDJSON batch with the investigator key through stdin.
    pub fn append_ok(&self, lines: &[String]) -> String {
        self.run_ok(
            &["append", "--key", self.inv_key.to_str().unwrap(), "-"],
            Some(&ndjson(lines)),
        )
    }

    pub fn revoke_inv(&self) {
        self.run_ok(
            &[
                "key",
                "revoke",
                "--key",
                self.admin_key.to_str().unwrap(),
                "--name",
                "inv",
                "--reason",
                "left the panel",
            ],
            None,
        );
    }

    /// `ledger verify`: its exit code and stdout.
    pub fn verify(&self) -> (i32, String) {
        let out = self.run(&["verify"], None);
        let code = out.status.code().expect("verify exits normally");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{}",
            describe(&["verify"], &out)
        );
        let mut text = String::from_utf8(out.stdout).expect("stdout is UTF-8");
        // A failure to run at all (exit 2) shows its reason to whoever reads the assertion.
        for line in stderr.lines() {
            text.push_str(&format!("stderr: {line}\n"));
        }
        (code, text)
    }

    /// `ledger verify --format json`, parsed.
    pub fn verify_json(&self) -> (i32, serde_json::Value) {
        let out = self.run(&["verify", "--format", "json"], None);
        let code = out.status.code().expect("verify exits normally");
        let value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify --format json: {e}\n{}", describe(&[], &out)));
        (code, value)
    }

    pub fn assert_intact(&self) {
        let (code, out) = self.verify();
        assert_eq!(code, 0, "verify should find the ledger intact:\n{out}");
        assert!(out.contains("intact"), "{out}");
    }

    /// Opens the sled database directly (no `ledger` process may run), runs `f`, then flushes
    /// and drops it.
    pub fn with_db<T>(&self, f: impl FnOnce(&sled::Db) -> T) -> T {
        with_db(&self.dir, f)
    }

    /// Every (key, value) pair of the database: entries and derived state.
    pub fn snapshot(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        snapshot(&self.dir)
    }

    pub fn entry_bytes(&self, seq: u64) -> Vec<u8> {
        self.with_db(|db| entry_bytes(db, seq))
    }
}

pub fn with_db<T>(dir: &Path, f: impl FnOnce(&sled::Db) -> T) -> T {
    let sled_dir = dir.join("sled");
    wait_for_sled_lock_release(&sled_dir);
    // No background flusher: we flush ourselves, and a flusher thread would keep sled's lock
    // after the Db is dropped (spacejam/sled#1289).
    let db = sled::Config::new()
        .path(&sled_dir)
        .flush_every_ms(None)
        .open()
        .expect("open the sled database directly");
    let result = f(&db);
    db.flush().expect("flush sled");
    drop(db);
    wait_for_sled_lock_release(&sled_dir);
    result
}

/// sled 0.34 may release the `flock` on `sled/db` a little after its `Db` is dropped; waits (up
/// to 10 s) until the lock is free, so that the next `ledger` process can open the database.
pub fn wait_for_sled_lock_release(sled_dir: &Path) {
    let path = sled_dir.join("db");
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match file.try_lock() {
            Ok(()) => {
                file.unlock().expect("unlock");
                return;
            }
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(e) => panic!("sled's lock on {} is never released: {e}", path.display()),
        }
    }
}

pub fn snapshot(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    with_db(dir, |db| {
        db.iter()
            .map(|item| {
                let (k, v) = item.expect("read sled");
                (k.to_vec(), v.to_vec())
            })
            .collect()
    })
}

pub fn entry_bytes(db: &sled::Db, seq: u64) -> Vec<u8> {
    db.get(sled_entry_key(seq))
        .expect("read sled")
        .unwrap_or_else(|| panic!("no entry at seq {seq}"))
        .to_vec()
}

pub fn put_entry(db: &sled::Db, seq: u64, bytes: &[u8]) {
    db.insert(sled_entry_key(seq), bytes).expect("write sled");
}

pub fn remove_entry(db: &sled::Db, seq: u64) {
    db.remove(sled_entry_key(seq)).expect("write sled");
}

/// The highest stored seq and its bytes.
pub fn last_entry(db: &sled::Db) -> (u64, Vec<u8>) {
    let (key, value) = db
        .range(sled_entry_key(0)..=sled_entry_key(u64::MAX))
        .next_back()
        .expect("an entry")
        .expect("read sled");
    let seq = u64::from_be_bytes(key[1..].try_into().unwrap());
    (seq, value.to_vec())
}

/// The head record as the ledger stores it: bincode (little-endian, fixed-width) of
/// `Head { seq: u64, hash: [u8; 32], recorded_at: i64 }`.
pub fn head_record(seq: u64, hash: &Hash, recorded_at: Timestamp) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(48);
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(hash);
    bytes.extend_from_slice(&recorded_at.0.to_le_bytes());
    bytes
}

/// The head record that matches the last stored entry.
pub fn current_head_record(db: &sled::Db) -> Vec<u8> {
    let (seq, bytes) = last_entry(db);
    let entry = Entry::decode(&bytes).expect("last entry decodes");
    head_record(seq, &entry_hash(&bytes), entry.recorded_at)
}

/// Points the head record at the last stored entry, as if the ledger had appended it.
/// Asserts first that this helper's encoding matches what the ledger wrote, so the forgery is
/// exactly as good as a real append.
pub fn set_head_to_last(db: &sled::Db) {
    db.insert(HEAD_STATE_KEY, current_head_record(db))
        .expect("write sled");
}

pub fn assert_head_encoding_matches(db: &sled::Db) {
    let stored = db
        .get(HEAD_STATE_KEY)
        .expect("read sled")
        .expect("a head record");
    assert_eq!(
        stored.to_vec(),
        current_head_record(db),
        "the test's head-record encoding differs from the ledger's"
    );
}

/// A correctly encoded entry whose statement (with `payload` as its exact bytes) is signed, as a
/// batch of one, by `key`.
pub fn forge_entry(
    key: &SecretKey,
    seq: u64,
    recorded_at: Timestamp,
    prev: Hash,
    event_type: &str,
    payload: &[u8],
) -> Vec<u8> {
    let statement = Statement {
        event_type: event_type.to_string(),
        schema_version: 1,
        author: key.public(),
        claimed_at: Timestamp::now(),
        payload: payload.to_vec(),
    };
    let bytes = statement.encode();
    let seals = seal_all(key, std::slice::from_ref(&bytes));
    Entry::new(seq, recorded_at, prev, statement, bytes, seals[0].clone()).encode()
}

/// Forges an entry at the end of the log (seq = last + 1, prev = hash of the last entry,
/// recorded_at = the last entry's) with `payload` as its exact bytes, and moves the head record
/// to it, so that the only thing wrong with it is what the caller put in it. Returns its seq.
pub fn forge_at_end(db: &sled::Db, key: &SecretKey, event_type: &str, payload: &[u8]) -> u64 {
    assert_head_encoding_matches(db);
    let (last_seq, last_bytes) = last_entry(db);
    let last = Entry::decode(&last_bytes).expect("last entry decodes");
    let seq = last_seq + 1;
    let bytes = forge_entry(
        key,
        seq,
        last.recorded_at,
        entry_hash(&last_bytes),
        event_type,
        payload,
    );
    put_entry(db, seq, &bytes);
    set_head_to_last(db);
    seq
}

/// Re-links every entry after `seq` to the (changed) one before it, keeping their statements
/// and seals, and moves the head record to the new last entry: the chain is whole again.
pub fn rechain_after(db: &sled::Db, seq: u64) {
    let (last_seq, _) = last_entry(db);
    let mut prev = entry_hash(&entry_bytes(db, seq));
    for s in seq + 1..=last_seq {
        let mut entry = Entry::decode(&entry_bytes(db, s)).expect("entry decodes");
        entry.prev = prev;
        let bytes = entry.encode();
        prev = entry_hash(&bytes);
        put_entry(db, s, &bytes);
    }
    set_head_to_last(db);
}

/// The problem lines of `ledger verify` text output (`seq N: reason`).
pub fn problem_lines(verify_out: &str) -> Vec<&str> {
    verify_out
        .lines()
        .filter(|l| l.starts_with("seq "))
        .collect()
}

/// The problem lines reported at `seq` (`seq N: ...`).
pub fn problems_at(verify_out: &str, seq: u64) -> Vec<&str> {
    let prefix = format!("seq {seq}: ");
    verify_out
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

/// Asserts that the command failed cleanly: exit 2, nothing on stdout, one `ledger: ...` line
/// on stderr that contains every one of `words`, and no panic.
pub fn assert_refused(out: &Output, words: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let context = describe(&[], out);
    assert_eq!(out.status.code(), Some(2), "{context}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "panic: {context}"
    );
    let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
    assert!(
        !line.contains('\n'),
        "stderr should be a single line: {context}"
    );
    assert!(line.starts_with("ledger: "), "{context}");
    for word in words {
        assert!(
            line.contains(word),
            "stderr should mention {word:?}: {context}"
        );
    }
    assert!(out.stdout.is_empty(), "stdout should be empty: {context}");
    line.to_string()
}
