//! Append, verify and projection rebuilds on the peers' workload (../shared/peers/pg_chain.sh):
//! incidents with four event types, actors and regions in rotation and 360 bytes of notes each;
//! and the parts of an append and a verify on one verify chunk of those incidents (`parts/`:
//! statement encoding, sealing, entry hashing, schema validation, and a verify of a ledger of one
//! chunk). Whole processes against the peers: benches/compare.sh and benches/scale.sh.
//!
//! `cargo bench --bench ledger` runs N = 10,000 by default; set LEDGER_BENCH_N=100000 for the
//! peers' size. Compare with the peers in the same run and quote ratios of medians: the machine
//! is shared and absolute times drift. LEDGER_BENCH_PEERS=1 runs pg_chain.sh (needs root and
//! PostgreSQL 15) three times at the same N before the benchmarks and prints its timings and
//! their medians beside them.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger::entry::{entry_hash, Entry, ZERO_HASH};
use ledger::event::{EventType, Role};
use ledger::input::EventInput;
use ledger::keys::SecretKey;
use ledger::projection::{self, CacheDir, Refresh, Window};
use ledger::schema::{self, Schemas};
use ledger::statement::{seal_all, Statement};
use ledger::time::Timestamp;
use ledger::Ledger;
use std::time::Duration;

// The allocator the `ledger` binary ships with, so that these figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TYPES: [&str; 4] = [
    "Battles",
    "Violence against civilians",
    "Explosions/Remote violence",
    "Strategic developments",
];
const ACTORS: [&str; 4] = [
    "Islamic State (Sahel)",
    "JNIM",
    "Military Forces of Mali",
    "Wagner Group",
];
const REGIONS: [&str; 4] = ["Menaka", "Gao", "Kidal", "Mopti"];

fn workload(n: usize) -> Vec<EventInput> {
    workload_from(1, n)
}

/// Incidents `MLI{first}` to `MLI{first + n - 1}`.
fn workload_from(first: usize, n: usize) -> Vec<EventInput> {
    let notes = "report text ".repeat(30);
    (first..first + n)
        .map(|g| {
            let day = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new((g % 365) as u64);
            let data = serde_json::json!({
                "incident_id": format!("MLI{g}"), "event_date": day.to_string(), "event_type": TYPES[g % 4],
                "actor1": ACTORS[g % 4], "admin1": REGIONS[g % 4], "fatalities": g % 7, "notes": notes,
            });
            EventInput { line: Some(g), event_type: "incident.reported".into(), payload: serde_json::to_vec(&data).unwrap() }
        })
        .collect()
}

/// A ledger with an enrolled investigator, ready for appends.
fn fresh_ledger(dir: &std::path::Path) -> (Ledger, SecretKey) {
    let admin = SecretKey::from_seed([1; 32], None);
    let investigator = SecretKey::from_seed([2; 32], None);
    let (ledger, _) = Ledger::create(dir, &admin, "admin", "bench/peers").unwrap();
    ledger
        .enroll_key(
            &admin,
            &investigator.public(),
            "investigator",
            Role::Investigator,
        )
        .unwrap();
    (ledger, investigator)
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("LEDGER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    if std::env::var_os("LEDGER_BENCH_PEERS").is_some() {
        run_peer(n);
    }
    let events = workload(n);
    let mut group = c.benchmark_group("ledger");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));

    group.bench_function(format!("append_batch/{n}"), |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (ledger, key) = fresh_ledger(&dir.path().join("l"));
                (dir, ledger, key)
            },
            |(dir, ledger, key)| {
                ledger.append(&key, &events).unwrap();
                (dir, ledger)
            },
            BatchSize::PerIteration,
        );
    });

    let dir = tempfile::tempdir().unwrap();
    let (ledger, key) = fresh_ledger(&dir.path().join("l"));
    ledger.append(&key, &events).unwrap();
    group.bench_function(format!("verify/{n}"), |b| {
        b.iter(|| {
            let report = ledger
                .verify(|p| panic!("benchmark ledger has a problem: {p:?}"))
                .unwrap();
            assert!(report.intact());
        });
    });

    let regions = [projection::by_name("regions").expect("regions is registered")];
    let caches = CacheDir::of(&dir.path().join("l"));
    let project_regions = |refresh| {
        let projected = projection::project(
            &ledger,
            Some(&caches),
            &regions,
            None,
            &Window::default(),
            refresh,
        )
        .unwrap();
        let first = projected.outputs[0].with_rows(|rows| rows().next().is_some());
        assert!(first.unwrap());
    };
    group.bench_function(format!("project_regions_rebuild/{n}"), |b| {
        b.iter(|| project_regions(Refresh::Rebuild));
    });
    // Catch-up after a small append: the cost should follow the 100 new entries, not the log.
    let mut next_id = n + 1;
    group.bench_function(format!("project_regions_catch_up_100/{n}"), |b| {
        b.iter_batched(
            || {
                ledger.append(&key, &workload_from(next_id, 100)).unwrap();
                next_id += 100;
            },
            |()| project_regions(Refresh::Incremental),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// Runs the Postgres peer at `n` three times (it is as noisy as we are) and prints its timing
/// lines and the median of each figure.
fn run_peer(n: usize) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/peers/pg_chain.sh");
    let mut runs: Vec<String> = Vec::new();
    for _ in 0..3 {
        match std::process::Command::new("bash")
            .arg(script)
            .arg(n.to_string())
            .output()
        {
            Ok(out) if out.status.success() => {
                let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
                eprintln!("peer: {line}");
                runs.push(line);
            }
            Ok(out) => {
                return eprintln!(
                    "peer pg_chain.sh failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            }
            Err(e) => return eprintln!("peer pg_chain.sh did not run: {e}"),
        }
    }
    for figure in ["append_s", "verify_s", "project_s"] {
        let mut seconds: Vec<f64> = runs
            .iter()
            .filter_map(|line| {
                let value = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix(figure))?;
                value.trim_start_matches('=').parse().ok()
            })
            .collect();
        seconds.sort_by(f64::total_cmp);
        if let Some(median) = seconds.get(seconds.len() / 2) {
            eprintln!("peer median {figure} = {median:.3} s");
        }
    }
}

/// Entries `verify` reads and checks at a time (its CHUNK).
const CHUNK: usize = 4096;

/// The steps of an append and a verify, each over one chunk of incidents, in-process.
fn parts(c: &mut Criterion) {
    let key = SecretKey::from_seed([2; 32], None);
    let events = workload(CHUNK);
    let version = EventType::IncidentReported.current_schema_version();
    let statements: Vec<Statement> = events
        .iter()
        .map(|event| Statement {
            event_type: event.event_type.clone(),
            schema_version: version,
            author: key.public(),
            claimed_at: Timestamp(1_700_000_000_000_000),
            payload: event.payload.clone(),
        })
        .collect();
    let encoded: Vec<Vec<u8>> = statements.iter().map(Statement::encode).collect();
    let entries: Vec<Vec<u8>> = statements
        .iter()
        .zip(&encoded)
        .zip(seal_all(&key, &encoded))
        .enumerate()
        .map(|(seq, ((statement, bytes), seal))| {
            let recorded_at = Timestamp(1_700_000_000_000_000);
            Entry::new(
                seq as u64,
                recorded_at,
                ZERO_HASH,
                statement.clone(),
                bytes.clone(),
                seal,
            )
            .encode()
        })
        .collect();
    let schemas = Schemas::load().unwrap();
    let payloads: Vec<serde_json::Value> = events
        .iter()
        .map(|event| schema::parse_payload(&event.payload).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (chunk_ledger, chunk_key) = fresh_ledger(&dir.path().join("l"));
    // The genesis and the enrolment are the chunk's first two entries.
    chunk_ledger
        .append(&chunk_key, &workload(CHUNK - 2))
        .unwrap();

    let mut group = c.benchmark_group("parts");
    group
        .sample_size(20)
        .throughput(Throughput::Elements(CHUNK as u64));
    group.bench_function(format!("statement_encode/{CHUNK}"), |b| {
        b.iter(|| statements.iter().map(Statement::encode).collect::<Vec<_>>());
    });
    group.bench_function(format!("seal/{CHUNK}"), |b| {
        b.iter(|| seal_all(&key, &encoded));
    });
    group.bench_function(format!("entry_hash/{CHUNK}"), |b| {
        b.iter(|| entries.iter().map(|e| entry_hash(e)).collect::<Vec<_>>());
    });
    group.bench_function(format!("schema_validate/{CHUNK}"), |b| {
        b.iter(|| {
            for payload in &payloads {
                schemas
                    .validate(EventType::IncidentReported, version, payload)
                    .unwrap();
            }
        });
    });
    group.bench_function(format!("verify_chunk/{CHUNK}"), |b| {
        b.iter(|| {
            let report = chunk_ledger
                .verify(|p| panic!("benchmark ledger has a problem: {p:?}"))
                .unwrap();
            assert_eq!(report.entries, CHUNK as u64);
        });
    });
    group.finish();
}

criterion_group!(benches, bench, parts);
criterion_main!(benches);
