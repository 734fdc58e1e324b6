//! Crash safety of `ledger append`, `ledger import` and `ledger export`: the real binary is
//! killed with SIGKILL
//! at random moments while it appends a batch, and after every kill the ledger must still
//! verify, every batch the binary acknowledged (printed all of its `{"seq","hash"}` lines, or
//! exited 0) must be in the log exactly as acknowledged, and every batch must be in the log
//! completely or not at all.
//!
//! The default run kills a few appends; `LEDGER_CRASH_ROUNDS=200 cargo test --test integration
//! crash::` is the long run. The kill delays come from a seeded RNG. The seed is printed with
//! every failure; replay one with `CRASH_SEED=<seed>` (kill timing still depends on the machine,
//! so a replay makes the same choices but may not land the kills at the same instants).

use crate::common::{
    append_ndjson_process, copy_tree, derived_records, ledger_process, log_from, run, run_ok,
    tail_past_head, with_db, Fixture,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Kill rounds in the default run: enough for the end-of-run forcing below to see both an
/// acknowledged and a killed append. `LEDGER_CRASH_ROUNDS` asks for more.
const DEFAULT_ROUNDS: usize = 6;
const DEFAULT_SEED: u64 = 0x1ed9_e5c7_a5b1_0001;
/// Random kill delays are drawn from 0..MAX_DELAY_MS. A debug-build append of 50-300 events
/// takes roughly 60-250 ms here (process start, sled open, signing, fsync of every sled file),
/// so this range kills before, during and after the commit; it gave about 10 of 25 rounds
/// acknowledged over several seeds.
const MAX_DELAY_MS: u64 = 250;

/// A number from the environment variable `name` (decimal, or hex with `0x`), or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a u64"))
        }
        Err(_) => default,
    }
}

fn incident_line(id: &str, j: usize) -> String {
    serde_json::json!({
        "type": "incident.reported",
        "data": {
            "incident_id": id,
            "event_date": format!("2023-{:02}-{:02}", 1 + j % 12, 1 + j % 28),
            "event_type": "Battles",
            "actor1": "JNIM",
            "fatalities": j % 17,
        }
    })
    .to_string()
}

fn write_batch(path: &Path, batch: usize, size: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for j in 0..size {
        writeln!(file, "{}", incident_line(&format!("b{batch}-{j}"), j)).unwrap();
    }
    file.flush().unwrap();
}

/// One entry of the log, reduced to what the checks need.
struct Logged {
    seq: u64,
    hash: String,
    incident_id: Option<String>,
}

fn read_log(dir: &Path) -> Vec<Logged> {
    log_from(dir, 0)
        .into_iter()
        .map(|v| {
            let incident_id = (v["type"] == "incident.reported")
                .then(|| v["data"]["incident_id"].as_str().unwrap().to_string());
            Logged {
                seq: v["seq"].as_u64().expect("seq"),
                hash: v["hash"].as_str().expect("hash").to_string(),
                incident_id,
            }
        })
        .collect()
}

#[derive(Debug)]
struct Batch {
    index: usize,
    size: usize,
    delay: Option<Duration>,
    /// `(seq, hash)` lines the child printed before it died.
    printed: Vec<(u64, String)>,
    acknowledged: bool,
    /// How long the child had been running when it was killed or exited.
    ran_for: Duration,
}

/// Spawns `ledger append` on a batch file, kills it with SIGKILL after `delay` (or lets it run
/// to completion when `delay` is `None`) and reports what it acknowledged.
fn append_and_kill(
    dir: &Path,
    key: &Path,
    file: &Path,
    index: usize,
    size: usize,
    delay: Option<Duration>,
    seed: u64,
) -> Batch {
    let stderr_path = file.with_extension("stderr");
    let mut child = append_ndjson_process(dir, key, file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("ledger append spawns");
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        // Only complete lines count: a line cut off by the kill has no newline.
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => lines.push(line),
                Ok(_) => break,
            }
        }
        lines
    });
    let status = match delay {
        Some(delay) => {
            std::thread::sleep(delay);
            // SIGKILL; harmless if the child has already exited (it is not reaped yet).
            child.kill().expect("kill the child");
            child.wait().expect("wait for the child")
        }
        None => child.wait().expect("wait for the child"),
    };
    let ran_for = started.elapsed();
    let lines = reader.join().expect("stdout reader");
    let killed = status.signal() == Some(libc::SIGKILL);
    assert!(
        status.success() || killed,
        "seed {seed:#x}: batch {index}: `ledger append` neither succeeded nor was killed ({status}); stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let printed: Vec<(u64, String)> = lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "seed {seed:#x}: batch {index}: append printed a non-JSON line ({e}): {line:?}"
                )
            });
            (
                v["seq"].as_u64().expect("printed seq"),
                v["hash"].as_str().expect("printed hash").to_string(),
            )
        })
        .collect();
    assert!(
        printed.len() <= size,
        "seed {seed:#x}: batch {index}: printed {} lines for {size} events",
        printed.len()
    );
    assert!(
        !status.success() || printed.len() == size,
        "seed {seed:#x}: batch {index}: exited 0 but printed {} of {size} lines",
        printed.len()
    );
    let acknowledged = status.success() || printed.len() == size;
    Batch {
        index,
        size,
        delay,
        printed,
        acknowledged,
        ran_for,
    }
}

/// Insists that `ledger verify` finds the ledger in `dir` intact; `context` heads the message.
fn assert_verifies(dir: &Path, context: &str) {
    let out = run(dir, &["verify"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{context}: `ledger verify` did not report an intact ledger:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Insists that the derived state the kills left claims no more than it holds (FORMAT.md §6,
/// "Derived state"): when it says it covers the head, it is what `ledger reindex` rebuilds from
/// the log (in a copy of the ledger); when it says it covers an earlier entry (a kill between an
/// append's commit and its state write) or nothing (a kill cut its writing), the next writer
/// catches it up, and then it is the rebuild's.
fn assert_derived_state_is_a_rebuild(f: &Fixture, context: &str) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&f.dir, copy.path());
    run_ok(copy.path(), &["reindex"], None);
    let rebuilt = with_db(copy.path(), derived_records);
    let covered_seq = |records: &[(Vec<u8>, Vec<u8>)]| {
        let covered = ledger::state::StateKey::Covered.bytes();
        let (_, record) = records.iter().find(|(key, _)| *key == covered)?;
        Some(u64::from_le_bytes(record[4..12].try_into().unwrap()))
    };
    let head = covered_seq(&rebuilt).expect("a rebuild covers the head");
    let mut kept = with_db(&f.dir, derived_records);
    match covered_seq(&kept) {
        Some(seq) if seq == head => {}
        Some(seq) if seq > head => {
            panic!("{context}: derived state claims seq {seq}, past the head {head}")
        }
        _ => {
            let admin = f.admin_key.to_str().unwrap();
            run_ok(&f.dir, &["checkpoint", "--key", admin], None);
            kept = with_db(&f.dir, derived_records);
        }
    }
    // Compared whole, but not printed whole: a ledger's records run to megabytes of debug text.
    let differing = kept
        .iter()
        .filter(|record| !rebuilt.contains(record))
        .count();
    assert!(
        kept == rebuilt,
        "{context}: derived state differs from a rebuild: {} records kept, {} rebuilt, {differing} of the kept not among the rebuilt",
        kept.len(),
        rebuilt.len()
    );
}

/// Checks the ledger after a crash: it verifies, acknowledged batches are there as printed, and
/// every batch is all there or not there at all. Returns whether each batch is present.
fn check_ledger(dir: &Path, batches: &[Batch], seed: u64, round: usize) -> Vec<bool> {
    let ctx = format!("seed {seed:#x}, after round {round}");
    assert_verifies(dir, &format!("{ctx} (batches so far: {batches:#?})"));

    let log = read_log(dir);
    for (i, entry) in log.iter().enumerate() {
        assert_eq!(entry.seq, i as u64, "{ctx}: log seqs are not 0, 1, 2, ...");
    }
    let mut by_id: HashMap<&str, &Logged> = HashMap::new();
    for entry in &log {
        if let Some(id) = &entry.incident_id {
            assert!(
                by_id.insert(id.as_str(), entry).is_none(),
                "{ctx}: incident {id} is in the log twice"
            );
        }
    }

    let mut present = Vec::with_capacity(batches.len());
    for batch in batches {
        let found: Vec<Option<&&Logged>> = (0..batch.size)
            .map(|j| by_id.get(format!("b{}-{j}", batch.index).as_str()))
            .collect();
        let count = found.iter().filter(|f| f.is_some()).count();
        assert!(
            count == 0 || count == batch.size,
            "{ctx}: batch {} is torn: {count} of its {} incidents are in the log ({batch:?})",
            batch.index,
            batch.size
        );
        if count == batch.size {
            // A batch is one contiguous run of seqs, in input order.
            let first = found[0].unwrap().seq;
            for (j, entry) in found.iter().enumerate() {
                assert_eq!(
                    entry.unwrap().seq,
                    first + j as u64,
                    "{ctx}: batch {} is not stored as one contiguous run in input order",
                    batch.index
                );
            }
        }
        if batch.acknowledged {
            assert_eq!(
                count, batch.size,
                "{ctx}: batch {} was acknowledged but is missing from the log ({batch:?})",
                batch.index
            );
        }
        // Whatever was printed, even by a child killed mid-output, must be exactly in the log.
        for (j, (seq, hash)) in batch.printed.iter().enumerate() {
            let entry = found[j].unwrap_or_else(|| {
                panic!(
                    "{ctx}: batch {} printed seq {seq} for an incident that is not in the log",
                    batch.index
                )
            });
            assert_eq!(
                (entry.seq, &entry.hash),
                (*seq, hash),
                "{ctx}: batch {} line {j} was acknowledged as seq {seq} hash {hash}, but the log holds seq {} hash {}",
                batch.index,
                entry.seq,
                entry.hash
            );
        }
        present.push(count == batch.size);
    }
    present
}

#[test]
fn append_survives_sigkill_at_any_moment() {
    let rounds = env_number("LEDGER_CRASH_ROUNDS", DEFAULT_ROUNDS as u64) as usize;
    let seed = env_number("CRASH_SEED", DEFAULT_SEED);
    eprintln!("crash test seed {seed:#x} (replay with CRASH_SEED={seed:#x})");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let f = Fixture::new();
    let (dir, inv_key) = (&f.dir, &f.inv_key);

    let mut batches: Vec<Batch> = Vec::new();
    let mut completion_times: Vec<Duration> = Vec::new();
    for round in 0..rounds {
        let size = rng.gen_range(50..=300);
        let file = f.path(&format!("batch-{round}.ndjson"));
        write_batch(&file, round, size);

        let acked_so_far = batches.iter().filter(|b| b.acknowledged).count();
        let unacked_so_far = batches.len() - acked_so_far;
        let left = rounds - round;
        // Mostly uniform random delays; near the end, force whichever outcome has not happened
        // yet, so that the final assertions hold on fast and slow machines alike.
        let delay = if left <= 2 && acked_so_far == 0 {
            None
        } else if left <= 2 && unacked_so_far == 0 {
            // Kill partway through a typical complete append.
            let typical = completion_times
                .iter()
                .min()
                .copied()
                .unwrap_or(Duration::from_millis(50));
            Some(typical.mul_f64(rng.gen_range(0.2..0.8)))
        } else {
            Some(Duration::from_millis(rng.gen_range(0..MAX_DELAY_MS)))
        };

        let batch = append_and_kill(dir, inv_key, &file, round, size, delay, seed);
        if batch.acknowledged {
            completion_times.push(batch.ran_for);
        }
        batches.push(batch);
        check_ledger(dir, &batches, seed, round);
        if round == rounds / 2 {
            // A view cached midway, to be caught up across the later kills.
            run_ok(dir, &["project", "regions"], None);
        }
    }

    // The ledger still takes appends after all those crashes, and still verifies.
    let file = f.path("batch-final.ndjson");
    write_batch(&file, rounds, 40);
    let last = append_and_kill(dir, inv_key, &file, rounds, 40, None, seed);
    assert!(
        last.acknowledged,
        "seed {seed:#x}: the final, unkilled append was not acknowledged"
    );
    batches.push(last);
    let present = check_ledger(dir, &batches, seed, rounds);

    let acked = batches.iter().filter(|b| b.acknowledged).count();
    let killed_present = batches
        .iter()
        .zip(&present)
        .filter(|(b, &p)| !b.acknowledged && p)
        .count();
    let killed_absent = batches
        .iter()
        .zip(&present)
        .filter(|(b, &p)| !b.acknowledged && !p)
        .count();
    eprintln!(
        "crash test seed {seed:#x}: {} batches: {acked} acknowledged, {killed_present} killed before acknowledging but durable, {killed_absent} killed and absent; {:.1?}",
        batches.len(),
        started.elapsed()
    );
    for b in &batches {
        eprintln!(
            "  batch {:>2}: {:>3} events, delay {:>9}, ran {:>9.1?}, printed {:>3}, {}",
            b.index,
            b.size,
            b.delay.map_or("none".to_string(), |d| format!("{d:.1?}")),
            b.ran_for,
            b.printed.len(),
            if b.acknowledged {
                "acknowledged"
            } else {
                "killed"
            }
        );
    }
    assert!(
        batches[..rounds].iter().any(|b| b.acknowledged),
        "seed {seed:#x}: no killed round was acknowledged before its kill; the kills all came too early"
    );
    assert!(
        batches.iter().any(|b| !b.acknowledged),
        "seed {seed:#x}: every append finished before its kill; no kill landed mid-append"
    );

    // What the crashes left derived is what a rebuild from the log makes: every derived record,
    // and a view resumed from its cache.
    let regions = ["project", "regions", "--format", "csv"];
    let resumed = run_ok(dir, &regions, None);
    assert_derived_state_is_a_rebuild(&f, &format!("seed {seed:#x}"));
    let rebuilt = run_ok(dir, &[&regions[..], &["--rebuild"]].concat(), None);
    assert_eq!(
        resumed, rebuilt,
        "seed {seed:#x}: a view resumed from its cache differs from a rebuild"
    );
}

/// The real UCDP extract (its first `rows` rows) with every event id moved up by `shift`, so
/// that each round of the import test reports incidents the ledger does not hold yet.
fn write_shifted_ucdp(path: &Path, shift: u64, rows: usize) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ucdp-ged-23.1-car/GEDEvent_v23_1_CAF.csv");
    let mut reader = csv::Reader::from_path(source).unwrap();
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer
        .write_byte_record(reader.byte_headers().unwrap())
        .unwrap();
    for record in reader.byte_records().take(rows) {
        let record = record.unwrap();
        let id: u64 = std::str::from_utf8(&record[0]).unwrap().parse().unwrap();
        let mut shifted = csv::ByteRecord::new();
        shifted.push_field((id + shift).to_string().as_bytes());
        for field in record.iter().skip(1) {
            shifted.push_field(field);
        }
        writer.write_byte_record(&shifted).unwrap();
    }
    writer.flush().unwrap();
}

fn entry_count(dir: &Path) -> usize {
    log_from(dir, 0).len()
}

/// `ledger ARGS` on `dir`, killed with SIGKILL after `delay` unless it ends first (or run to
/// its end when `delay` is `None`); whether it exited 0.
fn run_and_kill(dir: &Path, args: &[&std::ffi::OsStr], delay: Option<Duration>) -> bool {
    let mut child = ledger_process(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ledger spawns");
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        // Harmless if the child has already exited (it is not reaped yet).
        child.kill().expect("kill the child");
    }
    let status = child.wait().expect("wait for the child");
    assert!(
        status.success() || status.signal() == Some(libc::SIGKILL),
        "`ledger {args:?}` neither succeeded nor was killed ({status})"
    );
    status.success()
}

/// `ledger import ucdp FILE` on `dir`, killed after `delay` as [`run_and_kill`] says.
fn import_and_kill(dir: &Path, key: &Path, file: &Path, delay: Option<Duration>) -> bool {
    // Each round's file is a release with new ids, which withdraws all of the last one's.
    let args = [
        "import".as_ref(),
        "ucdp".as_ref(),
        file.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--allow-large-removal".as_ref(),
    ];
    run_and_kill(dir, &args, delay)
}

#[test]
fn import_survives_sigkill_at_any_moment() {
    let rounds = env_number("LEDGER_CRASH_ROUNDS", DEFAULT_ROUNDS as u64) as usize;
    let seed = env_number("CRASH_SEED", DEFAULT_SEED);
    eprintln!("import crash test seed {seed:#x} (replay with CRASH_SEED={seed:#x})");
    let mut rng = StdRng::seed_from_u64(seed);
    let f = Fixture::new();
    let (dir, inv_key) = (&f.dir, &f.inv_key);

    // (acknowledged, landed, killed with a tail written past the head) for each round.
    let mut outcomes: Vec<(bool, bool, bool)> = Vec::new();
    for round in 0..rounds {
        let ctx = format!("seed {seed:#x}, import round {round}");
        let file = f.path(&format!("ucdp-round-{round}.csv"));
        write_shifted_ucdp(&file, (round as u64 + 1) * 10_000_000, usize::MAX);
        let before = entry_count(dir);

        // What this import appends when nothing stops it: run it on a copy of the ledger as
        // it stands, which also times it for the kill below.
        let copy = tempfile::tempdir().unwrap();
        copy_tree(dir, copy.path());
        let started = Instant::now();
        assert!(
            import_and_kill(copy.path(), inv_key, &file, None),
            "{ctx}: the import did not succeed on a copy"
        );
        let whole = started.elapsed();
        let batch = entry_count(copy.path()) - before;
        assert!(batch > 0, "{ctx}: the import appended nothing");

        let acked_so_far = outcomes.iter().filter(|(acked, ..)| *acked).count();
        let left = rounds - round;
        // Random moments over the whole run; near the end, force whichever outcome has not
        // happened yet.
        let delay = if left <= 2 && acked_so_far == 0 {
            None
        } else if left <= 2 && acked_so_far == outcomes.len() {
            Some(whole.mul_f64(rng.gen_range(0.3..0.9)))
        } else {
            Some(whole.mul_f64(rng.gen_range(0.0..1.2)))
        };
        let acknowledged = import_and_kill(dir, inv_key, &file, delay);
        let tail = tail_past_head(dir);

        assert_verifies(dir, &ctx);
        let after = entry_count(dir);
        assert!(
            after == before || after == before + batch,
            "{ctx}: the import is torn: the log went from {before} to {after} entries, but the whole import is {batch}"
        );
        if acknowledged {
            assert_eq!(
                after,
                before + batch,
                "{ctx}: an acknowledged import is missing"
            );
        }
        outcomes.push((acknowledged, after > before, tail));
    }
    eprintln!(
        "import crash test seed {seed:#x}: (acknowledged, landed, tail past the head) by round: {outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|(acked, ..)| *acked),
        "seed {seed:#x}: no import was acknowledged"
    );
    assert!(
        outcomes.iter().any(|(acked, ..)| !acked),
        "seed {seed:#x}: every import finished before its kill"
    );

    assert_derived_state_is_a_rebuild(&f, &format!("seed {seed:#x}, after the killed imports"));
}

/// `ledger export --dir OUT` on `dir`, killed after `delay` as [`run_and_kill`] says.
fn export_and_kill(dir: &Path, out: &Path, delay: Option<Duration>) -> bool {
    run_and_kill(
        dir,
        &["export".as_ref(), "--dir".as_ref(), out.as_os_str()],
        delay,
    )
}

/// The seq an export directory's manifest names, after checking that the directory holds
/// exactly the files the manifest lists, each with the hash it gives.
fn whole_export(out: &Path, context: &str) -> u64 {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = vec!["manifest.json".into()];
    for file in manifest["files"].as_array().unwrap() {
        let name = file["name"].as_str().unwrap();
        let bytes = std::fs::read(out.join(name)).unwrap();
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            file["blake3"].as_str().unwrap(),
            "{context}: {name} is not the file the manifest describes"
        );
        listed.push(name.to_string());
    }
    let mut present: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    present.sort();
    assert_eq!(present, listed, "{context}: files beside the manifest's");
    assert_eq!(manifest["built_from"], "log", "{context}");
    manifest["seq"].as_u64().unwrap()
}

#[test]
fn a_killed_export_leaves_the_whole_old_export_or_the_whole_new_one() {
    let rounds = env_number("LEDGER_CRASH_ROUNDS", DEFAULT_ROUNDS as u64) as usize;
    let seed = env_number("CRASH_SEED", DEFAULT_SEED);
    eprintln!("export crash test seed {seed:#x} (replay with CRASH_SEED={seed:#x})");
    let mut rng = StdRng::seed_from_u64(seed);
    let f = Fixture::new();
    let file = f.path("ucdp.csv");
    write_shifted_ucdp(&file, 0, usize::MAX);
    assert!(import_and_kill(&f.dir, &f.inv_key, &file, None));
    let out = f.path("export");
    let started = Instant::now();
    assert!(export_and_kill(&f.dir, &out, None));
    let whole = started.elapsed();
    let mut exported = whole_export(&out, "the first export");

    let (mut killed, mut finished) = (0, 0);
    for round in 0..rounds {
        let ctx = format!("seed {seed:#x}, export round {round}");
        f.append_ok(&[crate::common::incident(&format!("t-{round}"), 1)]);
        let head = entry_count(&f.dir) as u64 - 1;
        let delay = whole.mul_f64(rng.gen_range(0.0..1.2));
        if export_and_kill(&f.dir, &out, Some(delay)) {
            finished += 1;
        } else {
            killed += 1;
        }
        let seq = whole_export(&out, &ctx);
        assert!(
            seq == exported || seq == head,
            "{ctx}: the export names seq {seq}, neither the old export's {exported} nor the head {head}"
        );
        exported = seq;
    }
    eprintln!("export rounds: {killed} killed, {finished} finished");
    // A whole export afterwards removes what killed ones left beside the directory.
    assert!(export_and_kill(&f.dir, &out, None));
    whole_export(&out, "the last export");
    let beside: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains(".export-"))
        .collect();
    assert!(beside.is_empty(), "left beside the export: {beside:?}");
}

#[test]
fn an_init_killed_before_its_genesis_is_taken_up_by_the_next_init() {
    let seed = env_number("CRASH_SEED", DEFAULT_SEED);
    let mut rng = StdRng::seed_from_u64(seed);
    let f = Fixture::new();
    let key = f.admin_key.as_os_str();
    let (mut killed, mut finished) = (0, 0);
    for round in 0..DEFAULT_ROUNDS {
        let dir = f.path(&format!("init-{round}"));
        let args = [
            "init".as_ref(),
            "--admin-key".as_ref(),
            key,
            "--origin".as_ref(),
            "test/init".as_ref(),
        ];
        let delay = Duration::from_millis(rng.gen_range(0..40));
        if run_and_kill(&dir, &args, Some(delay)) {
            finished += 1;
        } else {
            killed += 1;
            // Whatever the kill left, a new init makes the ledger there, unless the genesis
            // had been committed, which leaves the ledger made.
            let again = run(
                &dir,
                &[
                    "init",
                    "--admin-key",
                    f.admin_key.to_str().unwrap(),
                    "--origin",
                    "test/init",
                ],
                None,
            );
            let stderr = String::from_utf8_lossy(&again.stderr);
            assert!(
                again.status.success() || stderr.contains("already holds files"),
                "seed {seed:#x}, round {round}: {stderr}"
            );
        }
        if dir.exists() {
            assert_verifies(&dir, &format!("seed {seed:#x}, init round {round}"));
        }
    }
    eprintln!("init rounds: {killed} killed, {finished} finished");
}

/// Kills the long run aims at; `LEDGER_CRASH_KILLS` asks for another number.
const LONG_RUN_KILLS: u64 = 10_000;
/// The long run starts from a new ledger after this many rounds, so that its checks stay quick.
const ROUNDS_PER_LEDGER: usize = 300;
/// UCDP rows in each of the long run's two alternating releases.
const LONG_RUN_RELEASE_ROWS: usize = 150;

/// The commands the long run kills, in the order it takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Command {
    Append,
    Import,
    ProjectCached,
    ProjectToFile,
    Export,
    Checkpoint,
}

const COMMANDS: [Command; 6] = [
    Command::Append,
    Command::Import,
    Command::ProjectCached,
    Command::ProjectToFile,
    Command::Export,
    Command::Checkpoint,
];

/// The long local crash run: SIGKILLs at random moments of append, import, project (resuming
/// its cache, and writing `-o`), export and checkpoint, in turn, each followed by the checks of
/// the tests above: the ledger verifies; acknowledged batches are there as acknowledged and no
/// batch or import is there in part; a cache resumed after the kill shows what a rebuild from
/// the log shows; an `-o` file and an export are the whole old one or the whole new one; a
/// checkpoint written is one the log verifies against. Every new ledger's derived state ends
/// equal to a rebuild. It prints how many kills landed while each command ran.
#[test]
#[ignore = "the long local crash run, about an hour: LEDGER_CRASH_KILLS=10000 cargo test --release --test integration -- --ignored crash::long_run --nocapture"]
fn long_run_of_sigkills_across_every_writing_command() {
    let wanted = env_number("LEDGER_CRASH_KILLS", LONG_RUN_KILLS);
    let seed = env_number("CRASH_SEED", DEFAULT_SEED);
    eprintln!("long crash run seed {seed:#x}, {wanted} kills (replay with CRASH_SEED={seed:#x})");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    // (killed while it ran, finished first) by command.
    let mut tally: std::collections::BTreeMap<Command, (u64, u64)> = Default::default();
    let mut killed = 0;
    let mut round = 0;
    let mut ledgers = 0;
    while killed < wanted {
        let f = Fixture::new();
        ledgers += 1;
        let dir = &f.dir;
        let releases = [f.path("ucdp-a.csv"), f.path("ucdp-b.csv")];
        for (i, release) in releases.iter().enumerate() {
            write_shifted_ucdp(release, i as u64 * 10_000_000, LONG_RUN_RELEASE_ROWS);
        }
        let (out, export, checkpoint) = (
            f.path("incidents.csv"),
            f.path("export"),
            f.path("checkpoint.txt"),
        );
        let mut batches: Vec<Batch> = Vec::new();
        // How long each command takes when nothing stops it: its first round on this ledger
        // runs unkilled to tell.
        let mut whole: HashMap<Command, Duration> = HashMap::new();
        let (mut written_out, mut exported) = (None::<Vec<u8>>, None::<u64>);
        for _ in 0..ROUNDS_PER_LEDGER {
            if killed >= wanted {
                break;
            }
            let command = COMMANDS[round % COMMANDS.len()];
            let ctx = format!("seed {seed:#x}, round {round}, {command:?}");
            let delay = whole
                .get(&command)
                .map(|w| w.mul_f64(rng.gen_range(0.0..1.1)));
            // How long the command itself ran, for `whole`.
            let mut ran = Duration::ZERO;
            let mut timed = |run: &mut dyn FnMut() -> bool| {
                let began = Instant::now();
                let finished = run();
                ran = began.elapsed();
                finished
            };
            let finished = match command {
                Command::Append => {
                    let size = rng.gen_range(5..=60);
                    let file = f.path("batch.ndjson");
                    write_batch(&file, round, size);
                    let batch = append_and_kill(dir, &f.inv_key, &file, round, size, delay, seed);
                    let acknowledged = batch.acknowledged;
                    ran = batch.ran_for;
                    batches.push(batch);
                    check_ledger(dir, &batches, seed, round);
                    acknowledged
                }
                Command::Import => {
                    let release = &releases[(round / COMMANDS.len()) % 2];
                    let before = entry_count(dir);
                    let copy = tempfile::tempdir().unwrap();
                    copy_tree(dir, copy.path());
                    assert!(
                        import_and_kill(copy.path(), &f.inv_key, release, None),
                        "{ctx}"
                    );
                    let whole_import = entry_count(copy.path()) - before;
                    let acknowledged =
                        timed(&mut || import_and_kill(dir, &f.inv_key, release, delay));
                    assert_verifies(dir, &ctx);
                    let after = entry_count(dir);
                    assert!(
                        after == before || after == before + whole_import,
                        "{ctx}: the import is torn: {before} entries became {after}, the whole import is {whole_import}"
                    );
                    assert!(
                        !acknowledged || after == before + whole_import,
                        "{ctx}: lost"
                    );
                    acknowledged
                }
                Command::ProjectCached => {
                    let regions = ["project", "regions", "--format", "csv"];
                    let args: Vec<&std::ffi::OsStr> = regions.iter().map(AsRef::as_ref).collect();
                    let finished = timed(&mut || run_and_kill(dir, &args, delay));
                    assert_verifies(dir, &ctx);
                    let resumed = run_ok(dir, &regions, None);
                    let rebuilt = run_ok(dir, &[&regions[..], &["--rebuild"]].concat(), None);
                    assert_eq!(resumed, rebuilt, "{ctx}: the cache differs from the log");
                    finished
                }
                Command::ProjectToFile => {
                    let args = ["project", "incidents", "--format", "csv", "-o"];
                    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
                    args.push(out.as_os_str());
                    let finished = timed(&mut || run_and_kill(dir, &args, delay));
                    assert_verifies(dir, &ctx);
                    let now = std::fs::read(&out).ok();
                    let current = run_ok(dir, &["project", "incidents", "--format", "csv"], None);
                    assert!(
                        now == written_out || now.as_deref() == Some(current.as_bytes()),
                        "{ctx}: -o holds neither the old file nor the whole new one"
                    );
                    assert!(
                        !finished || now.as_deref() == Some(current.as_bytes()),
                        "{ctx}"
                    );
                    written_out = now;
                    finished
                }
                Command::Export => {
                    let head = entry_count(dir) as u64 - 1;
                    let finished = timed(&mut || export_and_kill(dir, &export, delay));
                    assert_verifies(dir, &ctx);
                    if export.exists() {
                        let seq = whole_export(&export, &ctx);
                        assert!(
                            exported == Some(seq) || seq == head,
                            "{ctx}: export of {seq}"
                        );
                        exported = Some(seq);
                    }
                    assert!(!finished || exported == Some(head), "{ctx}");
                    finished
                }
                Command::Checkpoint => {
                    let args = [
                        "checkpoint".as_ref(),
                        "--key".as_ref(),
                        f.admin_key.as_os_str(),
                        "-o".as_ref(),
                        checkpoint.as_os_str(),
                    ];
                    let finished = timed(&mut || run_and_kill(dir, &args, delay));
                    assert_verifies(dir, &ctx);
                    if checkpoint.exists() {
                        let against = ["verify", "--checkpoint", checkpoint.to_str().unwrap()];
                        run_ok(dir, &against, None);
                    }
                    finished
                }
            };
            if delay.is_none() {
                whole.insert(command, ran);
            }
            let (was_killed, was_finished) = tally.entry(command).or_default();
            if finished {
                *was_finished += 1;
            } else {
                *was_killed += 1;
                killed += 1;
                if killed % 1000 == 0 {
                    eprintln!(
                        "{killed} kills in {round} rounds, {:.0?}",
                        started.elapsed()
                    );
                }
            }
            round += 1;
        }
        assert_derived_state_is_a_rebuild(&f, &format!("seed {seed:#x}, after round {round}"));
    }
    eprintln!(
        "long crash run seed {seed:#x}: {killed} kills landed in {round} rounds on {ledgers} ledgers in {:.0?}",
        started.elapsed()
    );
    for (command, (was_killed, finished)) in &tally {
        eprintln!("  {command:?}: {was_killed} killed while running, {finished} finished first");
    }
}
