//! Shared helpers for the integration tests: ledgers built through the real `ledger` binary once
//! per test run and copied for each test, the few invocations whose output the tests parse, where
//! each field of an entry lies, and direct access to the log's files and to the derived-state
//! database for tests that go behind the binary's back.
//!
//! Both are only changed directly while no `ledger` process runs, and every access to the
//! database flushes and drops the `sled::Db` before it returns.

use assert_cmd::Command;
use ledger::entry::{entry_hash, Entry};
use ledger::export;
use ledger::keys::{PublicKey, SecretKey};
use ledger::ledger::{Head, LOG_DIR};
use ledger::log::files::{segment_file_name, HEAD_FILE};
use ledger::log::{Durable, SEGMENT_ENTRIES};
use ledger::merkle::Hash;
use ledger::projection::{self, AsOf, CacheDir, Refresh, View, Window};
use ledger::state::{StateKey, KEYS_FILE};
use ledger::statement::{seal_all, Statement};
use ledger::time::Timestamp;
use ledger::Ledger;
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use tempfile::TempDir;

/// `ledger --ledger DIR`, the real binary, as a plain process (for tests that spawn and kill it).
pub fn ledger_process(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("ledger"));
    cmd.arg("--ledger").arg(dir);
    // A passphrase file set in the developer's own environment would seal the fixtures' keys.
    cmd.env_remove("LEDGER_PASSPHRASE_FILE");
    cmd
}

/// Runs `ledger --ledger DIR args...` with optional stdin.
pub fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::from_std(ledger_process(dir));
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

// ---- What the tests parse of the command line's output ----
//
// `--format ndjson` is one object per line on `append` and `log`, and `log` starts at
// `--from-seq`: these helpers are the only places the tests parse that output.

/// `ledger append --key KEY --format ndjson INPUT`, which prints one `{"seq","hash"}` object per
/// entry as it is acknowledged.
pub fn append_ndjson_process(dir: &Path, key: &Path, input: &Path) -> std::process::Command {
    let mut cmd = ledger_process(dir);
    cmd.args(["append", "--format", "ndjson", "--key"])
        .arg(key)
        .arg(input);
    cmd
}

/// The entries from `from` on, as `ledger log --format ndjson --from-seq FROM` prints them.
pub fn log_from(dir: &Path, from: u64) -> Vec<Value> {
    json_lines(&run_ok(
        dir,
        &["log", "--format", "ndjson", "--from-seq", &from.to_string()],
        None,
    ))
}

/// One JSON value per line.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a line of NDJSON ({e}): {line:?}"))
        })
        .collect()
}

// ---- Views folded in this process ----
//
// The one place the tests call the projection engine directly.

/// `views` as CSV bytes (what `ledger project VIEW --format csv` prints), folded in this process
/// up to `as_of`, keeping caches in the ledger directory `dir` if one is given.
pub fn project_csv(
    ledger: &Ledger,
    dir: Option<&Path>,
    views: &[&'static View],
    as_of: Option<u64>,
    refresh: Refresh,
) -> Vec<(String, Vec<u8>)> {
    let caches = dir.map(CacheDir::of);
    let projected = projection::project(
        ledger,
        caches.as_ref(),
        views,
        as_of.map(AsOf::Seq),
        &Window::default(),
        refresh,
    )
    .expect("projections build");
    projected
        .into_tables()
        .expect("projections read the log again")
        .iter()
        .map(|table| {
            let mut bytes = Vec::new();
            export::write_table(table, export::TableFormat::Csv, &mut bytes)
                .expect("CSV writes to memory");
            (table.name.to_string(), bytes)
        })
        .collect()
}

// ---- Fixtures: built once through the binary, copied for each test ----

/// The directory under which every template of this test run is built, removed when the test
/// binary exits (a static is never dropped, so a `TempDir` alone would leak it).
fn template_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove_root() {
        if let Some(root) = ROOT.get() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
    ROOT.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("ledger-templates-")
            .tempdir()
            .expect("tempdir")
            .keep();
        // SAFETY: `remove_root` is a plain function that only reads a static that outlives it.
        #[allow(unsafe_code)]
        let registered = unsafe { libc::atexit(remove_root) };
        assert_eq!(registered, 0, "atexit");
        root
    })
}

/// A fresh copy of the directory that `build` fills in once per test run: process start-up is
/// what the tests spend their time on, so a ledger built through the binary is built once.
pub fn copy_of_template(
    template: &'static OnceLock<TempDir>,
    build: impl FnOnce(&Path),
) -> TempDir {
    let template = template.get_or_init(|| {
        let dir = tempfile::tempdir_in(template_root()).expect("tempdir");
        build(dir.path());
        dir
    });
    let copy = tempfile::tempdir().expect("tempdir");
    copy_tree(template.path(), copy.path());
    copy
}

/// Copies the contents of `from` into the existing directory `to`, keeping every file's and
/// directory's mode (secret keys stay 0600).
pub fn copy_tree(from: &Path, to: &Path) {
    for item in std::fs::read_dir(from).expect("read the template") {
        let item = item.expect("read the template");
        let (source, target) = (item.path(), to.join(item.file_name()));
        let kind = item.file_type().expect("file type");
        if kind.is_dir() {
            std::fs::create_dir(&target).expect("create a directory");
            copy_tree(&source, &target);
            let mode = std::fs::metadata(&source).expect("metadata").permissions();
            std::fs::set_permissions(&target, mode).expect("set a directory's mode");
        } else if kind.is_file() {
            // Copies the permission bits too.
            std::fs::copy(&source, &target).expect("copy a file");
        } else {
            panic!("{} is neither a file nor a directory", source.display());
        }
    }
}

/// A ledger in its own temporary directory, made through the binary: an admin key (`admin`),
/// the genesis (seq 0) and an enrolled investigator key (`inv`, seq 1).
pub struct Fixture {
    tmp: TempDir,
    pub dir: PathBuf,
    pub admin_key: PathBuf,
    pub admin_public: String,
    pub inv_key: PathBuf,
    pub inv_public: String,
}

impl Fixture {
    pub fn new() -> Fixture {
        static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
        Fixture::at(copy_of_template(&TEMPLATE, Fixture::build))
    }

    /// A copy of the fixture `build` makes once per test run (from [`Fixture::new`]).
    pub fn from_template(
        template: &'static OnceLock<TempDir>,
        build: impl FnOnce() -> Fixture,
    ) -> Fixture {
        Fixture::at(copy_of_template(template, |dir| {
            copy_tree(build().tmp.path(), dir);
        }))
    }

    /// The fixture plus three batches by the investigator:
    ///
    /// | seq | event                         |
    /// |-----|-------------------------------|
    /// | 2-4 | reported t-1, t-2, t-3        |
    /// | 5-6 | corrected t-1, reported t-4   |
    /// | 7-8 | retracted t-2, reported t-5   |
    pub fn with_incidents() -> Fixture {
        static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
        Fixture::from_template(&TEMPLATE, || {
            let f = Fixture::new();
            f.append_ok(&[incident("t-1", 3), incident("t-2", 0), incident("t-3", 7)]);
            f.append_ok(&[correction("t-1", 4), incident("t-4", 1)]);
            f.append_ok(&[retraction("t-2"), incident("t-5", 2)]);
            f
        })
    }

    /// Makes the fixture in `root` through the binary, as a user would.
    fn build(root: &Path) {
        let dir = root.join("ledger");
        let key_file = |name: &str| root.join(format!("{name}.key"));
        for name in ["admin", "inv"] {
            let path = key_file(name);
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
            );
        }
        let admin_key = key_file("admin");
        let admin_key = admin_key.to_str().unwrap();
        run_ok(
            &dir,
            &["init", "--admin-key", admin_key, "--origin", "test/ledger"],
            None,
        );
        let inv_public = public_key_of(&key_file("inv")).to_string();
        run_ok(
            &dir,
            &[
                "key",
                "enroll",
                "--key",
                admin_key,
                "--public",
                &inv_public,
                "--name",
                "inv",
                "--role",
                "investigator",
            ],
            None,
        );
    }

    /// The fixture whose files `build` made in `tmp`.
    fn at(tmp: TempDir) -> Fixture {
        let (admin_key, inv_key) = (tmp.path().join("admin.key"), tmp.path().join("inv.key"));
        Fixture {
            dir: tmp.path().join("ledger"),
            admin_public: public_key_of(&admin_key).to_string(),
            admin_key,
            inv_public: public_key_of(&inv_key).to_string(),
            inv_key,
            tmp,
        }
    }

    /// A path in the fixture's temporary directory, beside the ledger.
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
    pub fn append_ok(&self, lines: &[String]) {
        self.run_ok(
            &["append", "--key", self.inv_key.to_str().unwrap(), "-"],
            Some(&ndjson(lines)),
        );
    }

    pub fn revoke_inv(&self) {
        self.run_ok(&self.revoke_inv_args(), None);
    }

    /// `key revoke` of the investigator `inv` by the admin.
    pub fn revoke_inv_args(&self) -> [&str; 8] {
        [
            "key",
            "revoke",
            "--key",
            self.admin_key.to_str().unwrap(),
            "--name",
            "inv",
            "--reason",
            "left the panel",
        ]
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
            text.extend(["stderr: ", line, "\n"]);
        }
        (code, text)
    }

    /// `ledger verify --format json`, parsed.
    pub fn verify_json(&self) -> (i32, Value) {
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

    /// Opens the derived-state database directly (no `ledger` process may run), runs `f`, then
    /// flushes and drops it.
    pub fn with_db<T>(&self, f: impl FnOnce(&sled::Db) -> T) -> T {
        with_db(&self.dir, f)
    }

    /// The log's files as they are now.
    pub fn raw_log(&self) -> RawLog {
        RawLog::load(&self.dir)
    }

    /// Reads the log's files, lets `f` change them, and writes them back (no `ledger` process
    /// may run).
    pub fn edit_log<T>(&self, f: impl FnOnce(&mut RawLog) -> T) -> T {
        let mut log = self.raw_log();
        let result = f(&mut log);
        log.save();
        result
    }

    pub fn entry_bytes(&self, seq: u64) -> Vec<u8> {
        self.raw_log().entry(seq).to_vec()
    }

    pub fn segment_path(&self, segment: u64) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    pub fn head_path(&self) -> PathBuf {
        head_path(&self.dir)
    }

    /// Everything a command could change in the ledger ([`snapshot_of`]).
    pub fn snapshot(&self) -> Snapshot {
        snapshot_of(&self.dir)
    }
}

/// Everything a command could change in the ledger in `dir`: the bytes of every file of the log
/// and of the readers' copy of the keys, and every derived-state record.
pub fn snapshot_of(dir: &Path) -> Snapshot {
    let mut files = Vec::new();
    let log_dir = dir.join(LOG_DIR);
    let mut names: Vec<_> = std::fs::read_dir(&log_dir)
        .expect("read the log directory")
        .map(|item| item.expect("read the log directory").path())
        .collect();
    names.push(dir.join(KEYS_FILE));
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).ok();
        files.push((path, bytes));
    }
    Snapshot {
        files,
        derived: with_db(dir, derived_state),
    }
}

/// What [`Fixture::snapshot`] compares: each file's path and bytes (`None` when it is missing),
/// and each derived-state record.
#[derive(PartialEq, Eq)]
pub struct Snapshot {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    derived: Vec<(Vec<u8>, Vec<u8>)>,
}

fn public_key_of(key_file: &Path) -> PublicKey {
    SecretKey::load(key_file)
        .unwrap_or_else(|e| panic!("{}: {e}", key_file.display()))
        .public()
}

// ---- Where each field of an entry lies ----

/// The byte ranges of an entry's fields in its canonical bytes (docs/FORMAT.md, "Entry"), found
/// by encoding the entry again with one field changed in every byte: the offsets come from the
/// code's own encoder, and a layout change moves them with it.
pub struct EntryFields {
    pub seq: Range<usize>,
    pub recorded_at: Range<usize>,
    pub prev: Range<usize>,
    pub event_type: Range<usize>,
    pub author: Range<usize>,
    pub claimed_at: Range<usize>,
    pub payload: Range<usize>,
    pub seal_index: Range<usize>,
    pub seal_batch_size: Range<usize>,
    /// The first hash of the seal's inclusion proof (empty for a batch of one).
    pub first_proof_hash: Range<usize>,
    pub signature: Range<usize>,
}

impl EntryFields {
    pub fn of(bytes: &[u8]) -> EntryFields {
        let entry = Entry::decode(bytes).expect("the entry decodes");
        assert_eq!(entry.encode(), bytes, "the entry's bytes are canonical");
        let not = |bytes: &mut [u8]| bytes.iter_mut().for_each(|b| *b = !*b);
        let field = |width: usize, change: &dyn Fn(&mut Entry)| {
            let mut changed = entry.clone();
            change(&mut changed);
            changed.statement_bytes = changed.statement.encode();
            let other = changed.encode();
            assert_eq!(other.len(), bytes.len(), "a changed field keeps its width");
            let differs = |(a, b): (&u8, &u8)| a != b;
            let range = match bytes.iter().zip(&other).position(differs) {
                Some(first) => first..bytes.iter().zip(&other).rposition(differs).unwrap() + 1,
                None => 0..0,
            };
            assert_eq!(range.len(), width, "the field is {width} bytes wide");
            range
        };
        EntryFields {
            seq: field(8, &|e| e.seq = !e.seq),
            recorded_at: field(8, &|e| e.recorded_at.0 = !e.recorded_at.0),
            prev: field(32, &|e| not(&mut e.prev)),
            // Every letter changes; the event types begin and end with one.
            event_type: field(entry.statement.event_type.len(), &|e| {
                e.statement.event_type = e.statement.event_type.to_uppercase();
            }),
            author: field(32, &|e| not(&mut e.statement.author.0)),
            claimed_at: field(8, &|e| e.statement.claimed_at.0 = !e.statement.claimed_at.0),
            payload: field(entry.statement.payload.len(), &|e| {
                not(&mut e.statement.payload);
            }),
            seal_index: field(8, &|e| e.seal.index = !e.seal.index),
            seal_batch_size: field(8, &|e| e.seal.batch_size = !e.seal.batch_size),
            first_proof_hash: field(32.min(32 * entry.seal.proof.len()), &|e| {
                if let Some(hash) = e.seal.proof.first_mut() {
                    not(hash);
                }
            }),
            signature: field(64, &|e| not(&mut e.seal.signature)),
        }
    }
}

// ---- Behind the ledger's back: the log files themselves ----
//
// The framing and the head file come from the library's `log` module, so a forged head is
// exactly what an append would have written.

/// The log's files, read whole: every entry's bytes in seq order (the framing taken off), and
/// the head file's contents. Changed in memory, then written back with [`RawLog::save`].
pub struct RawLog {
    dir: PathBuf,
    pub entries: Vec<Vec<u8>>,
    pub durable: Durable,
}

/// The path of segment `segment` of the ledger in `ledger_dir`.
pub fn segment_path(ledger_dir: &Path, segment: u64) -> PathBuf {
    ledger_dir.join(LOG_DIR).join(segment_file_name(segment))
}

/// The path of the head file of the ledger in `ledger_dir`.
pub fn head_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join(LOG_DIR).join(HEAD_FILE)
}

/// Whether the log of the ledger in `ledger_dir` has bytes past its durable head: what an
/// append killed before its commit leaves for the next writer to cut off.
pub fn tail_past_head(ledger_dir: &Path) -> bool {
    let head = std::fs::read(head_path(ledger_dir)).expect("read the head file");
    let durable = Durable::decode(&head).expect("the head file decodes");
    let segment = durable.head.seq / SEGMENT_ENTRIES;
    let len = |segment| std::fs::metadata(segment_path(ledger_dir, segment)).map(|m| m.len());
    len(segment).expect("the head's segment") > durable.segment_end || len(segment + 1).is_ok()
}

impl RawLog {
    /// Reads the log of the ledger in `ledger_dir`; its files must frame exactly the entries
    /// its head counts.
    pub fn load(ledger_dir: &Path) -> RawLog {
        let head = std::fs::read(head_path(ledger_dir)).expect("read the head file");
        let durable = Durable::decode(&head).expect("the head file decodes");
        let mut entries = Vec::new();
        for segment in 0.. {
            let bytes = match std::fs::read(segment_path(ledger_dir, segment)) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => panic!("read segment {segment}: {e}"),
            };
            let mut at = 0;
            while at < bytes.len() {
                let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
                entries.push(bytes[at + 2..at + 2 + len].to_vec());
                at += 2 + len;
            }
        }
        assert_eq!(
            entries.len() as u64,
            durable.size(),
            "the log files hold the entries the head counts"
        );
        RawLog {
            dir: ledger_dir.to_path_buf(),
            entries,
            durable,
        }
    }

    /// A log of `entries` for the ledger in `ledger_dir` (not yet written), its head on the last.
    pub fn of_entries(ledger_dir: &Path, entries: Vec<Vec<u8>>) -> RawLog {
        let mut log = RawLog {
            dir: ledger_dir.to_path_buf(),
            entries,
            durable: Durable {
                head: Head {
                    seq: 0,
                    hash: [0; 32],
                    recorded_at: 0,
                },
                segment_end: 0,
            },
        };
        log.set_head_to_last();
        log
    }

    /// Writes every segment file (each entry framed by its big-endian `u16` length) and the
    /// head file, removing any segment past the last entry.
    pub fn save(&self) {
        std::fs::create_dir_all(self.dir.join(LOG_DIR)).expect("create the log directory");
        let per_segment = usize::try_from(SEGMENT_ENTRIES).unwrap();
        let mut segments = 0;
        for (segment, entries) in self.entries.chunks(per_segment).enumerate() {
            let mut bytes = Vec::new();
            for entry in entries {
                let len = u16::try_from(entry.len()).expect("an entry fits its framing");
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(entry);
            }
            std::fs::write(segment_path(&self.dir, segment as u64), bytes)
                .expect("write a segment");
            segments = segment as u64 + 1;
        }
        while std::fs::remove_file(segment_path(&self.dir, segments)).is_ok() {
            segments += 1;
        }
        std::fs::write(head_path(&self.dir), self.durable.encode()).expect("write the head file");
    }

    pub fn entry(&self, seq: u64) -> &[u8] {
        &self.entries[usize::try_from(seq).unwrap()]
    }

    /// Replaces the entry at `seq`; the head stays where it was.
    pub fn put(&mut self, seq: u64, bytes: &[u8]) {
        self.entries[usize::try_from(seq).unwrap()] = bytes.to_vec();
    }

    /// Takes the entry at `seq` out of the files: the later ones move down a place, and the
    /// head stays where it was.
    pub fn remove(&mut self, seq: u64) {
        self.entries.remove(usize::try_from(seq).unwrap());
    }

    /// Where the entry at `seq` is framed: its segment, and the offset of its length in it.
    pub fn offset_of(&self, seq: u64) -> (u64, u64) {
        let first = seq / SEGMENT_ENTRIES * SEGMENT_ENTRIES;
        let offset = (first..seq).map(|s| 2 + self.entry(s).len() as u64).sum();
        (seq / SEGMENT_ENTRIES, offset)
    }

    /// The last entry's seq.
    pub fn last_seq(&self) -> u64 {
        self.entries.len() as u64 - 1
    }

    /// The head an append would have written after the last entry.
    fn head_of_last(&self) -> Durable {
        let seq = self.last_seq();
        let bytes = self.entry(seq);
        let entry = Entry::decode(bytes).expect("the last entry decodes");
        Durable {
            head: Head {
                seq,
                hash: entry_hash(bytes),
                recorded_at: entry.recorded_at.0,
            },
            segment_end: self.offset_of(seq).1 + 2 + bytes.len() as u64,
        }
    }

    /// Points the head at the last entry, as if the ledger had appended it.
    pub fn set_head_to_last(&mut self) {
        self.durable = self.head_of_last();
    }

    /// Asserts that the head names the last entry, as an append leaves it, so that a forgery
    /// that moves the head is exactly as good as a real append.
    pub fn assert_head_names_the_last_entry(&self) {
        assert_eq!(
            self.durable,
            self.head_of_last(),
            "the head does not name the last entry"
        );
    }

    /// Forges an entry at the end of the log (seq = last + 1, prev = hash of the last entry,
    /// recorded_at = the last entry's) with `payload` as its exact bytes, and moves the head to
    /// it, so that the only thing wrong with it is what the caller put in it. Returns its seq.
    pub fn forge_at_end(&mut self, key: &SecretKey, event_type: &str, payload: &[u8]) -> u64 {
        self.assert_head_names_the_last_entry();
        let last_seq = self.last_seq();
        let last_bytes = self.entry(last_seq);
        let last = Entry::decode(last_bytes).expect("last entry decodes");
        let seq = last_seq + 1;
        let bytes = forge_entry(
            key,
            seq,
            last.recorded_at,
            entry_hash(last_bytes),
            event_type,
            payload,
        );
        self.entries.push(bytes);
        self.set_head_to_last();
        seq
    }

    /// Re-links every entry after `seq` to the (changed) one before it, keeping their statements
    /// and seals, and moves the head to the new last entry: the chain is whole again.
    pub fn rechain_after(&mut self, seq: u64) {
        let mut prev = entry_hash(self.entry(seq));
        for s in seq + 1..=self.last_seq() {
            let mut entry = Entry::decode(self.entry(s)).expect("entry decodes");
            entry.prev = prev;
            let bytes = entry.encode();
            prev = entry_hash(&bytes);
            self.put(s, &bytes);
        }
        self.set_head_to_last();
    }
}

// ---- Derived state, behind the ledger's back ----
//
// The sled database holds derived state only; its layout comes from the library's `state`
// module.

/// Opens the derived-state database directly (no `ledger` process may hold it), runs `f`, then
/// flushes and drops it.
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let free = match std::fs::OpenOptions::new()
        .write(true)
        .open(sled_dir.join("db"))
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => panic!("sled's lock file cannot be opened: {e}"),
        Ok(file) => {
            let free = ledger::lock::lock_before(&file, deadline).expect("take sled's lock");
            if free {
                file.unlock().expect("release sled's lock");
            }
            free
        }
    };
    assert!(
        free,
        "sled's lock on {} is never released",
        sled_dir.display()
    );
}

/// Every derived-state record (key, value), in key order.
pub fn derived_state(db: &sled::Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter()
        .map(|item| {
            let (k, v) = item.expect("read sled");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// Every derived-state record as docs/FORMAT.md defines it, with incident pages opened up into
/// one `i` + id pair per incident (its record's bytes): what a rebuild must reproduce. Where
/// page boundaries fall depends on the order records were written in, so the pages themselves
/// are not compared.
pub fn derived_records(db: &sled::Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut records = Vec::new();
    for (key, value) in derived_state(db) {
        if key.first() != Some(&b'i') {
            records.push((key, value));
            continue;
        }
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([value[at], value[at + 1]]));
        let count = u32::from_le_bytes(value[..4].try_into().unwrap());
        let mut at = 4;
        for _ in 0..count {
            let id = &value[at + 2..at + 2 + u16_at(at)];
            at += 2 + id.len();
            let record = &value[at + 2..at + 2 + u16_at(at)];
            at += 2 + record.len();
            records.push(([&b"i"[..], id].concat(), record.to_vec()));
        }
        assert_eq!(
            at,
            value.len(),
            "an incident page ends after its last record"
        );
    }
    records.sort();
    records
}

/// The keys of every derived-state record, with the record of what the state covers if
/// `with_covered`, or without it.
pub fn derived_state_keys(db: &sled::Db, with_covered: bool) -> Vec<Vec<u8>> {
    let covered = StateKey::Covered.bytes();
    derived_state(db)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| with_covered || *k != covered)
        .collect()
}

// ---- Forgeries ----

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

// ---- What the binary says ----

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

/// Every file under `dir`, with its bytes.
pub fn every_file(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(every_file(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}
