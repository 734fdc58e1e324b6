//! Property tests of the library, each case on a fresh ledger in a temporary directory:
//!
//! * any sequence of valid batches (incident reports, corrections and retractions of standing
//!   incidents, accord and mandate events) is accepted, lands at gapless seqs chained to each
//!   other, and verifies intact, also after the ledger is closed and reopened;
//! * changing any single byte of any stored entry (edited in the log's files directly) makes
//!   verify report at least one problem. A change to the last entry's `recorded_at` is only
//!   visible through the log's head file; that is intended, and is in the property;
//! * projections caught up incrementally equal projections rebuilt from scratch, byte for byte,
//!   and a view as of an earlier seq equals what was shown at that seq.
//!
//! Case counts are kept small because every append is fsynced; failures are not persisted to a
//! regressions file (proptest prints the minimal failing input instead).

use crate::common::{
    copy_of_template, copy_tree, project_csv, wait_for_sled_lock_release, EntryFields, RawLog,
};
use ledger::event::Role;
use ledger::input::parse_events;
use ledger::keys::SecretKey;
use ledger::ledger::LedgerError;
use ledger::projection::{self, Refresh};
use ledger::Ledger;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;

const ORIGIN: &str = "test/origin";

fn admin_key() -> SecretKey {
    SecretKey::from_seed([7u8; 32], Some("admin".into()))
}

fn investigator_key() -> SecretKey {
    SecretKey::from_seed([42u8; 32], Some("inv".into()))
}

/// A new ledger with its genesis (seq 0) and an enrolled investigator (seq 1), in its own
/// temporary directory (`ledger` in it): a copy of one made once, since every case needs one.
fn new_ledger() -> (TempDir, PathBuf, Ledger, SecretKey) {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    let tmp = copy_of_template(&TEMPLATE, |root| {
        let dir = root.join("ledger");
        let admin = admin_key();
        let (ledger, genesis) = Ledger::create(&dir, &admin, "admin", ORIGIN).expect("create");
        assert_eq!(genesis.seq, 0);
        let enrolled = ledger
            .enroll_key(
                &admin,
                &investigator_key().public(),
                "inv",
                Role::Investigator,
            )
            .expect("enroll investigator");
        assert_eq!(enrolled.seq, 1);
        drop(ledger);
        wait_for_sled_lock_release(&dir.join("sled"));
    });
    let dir = tmp.path().join("ledger");
    let ledger = reopen(&dir);
    (tmp, dir, ledger, investigator_key())
}

// ACLED event types with some of their sub-event types.
const TYPES: [(&str, &[&str]); 4] = [
    ("Battles", &["Armed clash", "Government regains territory"]),
    (
        "Protests",
        &["Peaceful protest", "Protest with intervention"],
    ),
    ("Riots", &["Mob violence", "Violent demonstration"]),
    (
        "Violence against civilians",
        &["Attack", "Abduction/forced disappearance"],
    ),
];
const ACCORDS: [&str; 3] = ["algiers-2015", "ouaga-2013", "pretoria-2022"];
const STATUSES: [&str; 7] = [
    "negotiating",
    "initialled",
    "signed",
    "in_force",
    "implementation_stalled",
    "suspended",
    "terminated",
];
const MISSIONS: [&str; 3] = ["MINUSMA", "MONUSCO", "UNMISS"];
const ACTIONS: [&str; 5] = [
    "established",
    "renewed",
    "amended",
    "terminated",
    "withdrawal_completed",
];

fn date(n: u32) -> String {
    format!("20{:02}-{:02}-{:02}", 10 + n % 15, 1 + n % 12, 1 + n % 28)
}

/// An abstract operation; [`Model::event`] turns it into a valid event given what came before.
#[derive(Clone, Debug)]
enum Op {
    Report {
        kind: usize,
        sub: Option<usize>,
        n: u32,
    },
    /// Corrects the `pick`-th standing incident (a report if none stands).
    Correct { pick: usize, change: usize, n: u32 },
    /// Retracts the `pick`-th standing incident (a report if none stands).
    Retract { pick: usize },
    Accord {
        accord: usize,
        status: usize,
        n: u32,
    },
    Mandate {
        mission: usize,
        action: usize,
        n: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TYPES.len(), proptest::option::of(0usize..2), 0u32..1000)
            .prop_map(|(kind, sub, n)| Op::Report { kind, sub, n }),
        3 => (any::<usize>(), 0usize..6, 0u32..1000)
            .prop_map(|(pick, change, n)| Op::Correct { pick, change, n }),
        1 => any::<usize>().prop_map(|pick| Op::Retract { pick }),
        1 => (0..ACCORDS.len(), 0..STATUSES.len(), 0u32..1000)
            .prop_map(|(accord, status, n)| Op::Accord { accord, status, n }),
        1 => (0..MISSIONS.len(), 0..ACTIONS.len(), 0u32..1000)
            .prop_map(|(mission, action, n)| Op::Mandate { mission, action, n }),
    ]
}

/// What the generator knows about the incidents so far.
#[derive(Default)]
struct Model {
    next_id: usize,
    /// `(incident_id, index into TYPES, retracted)` in order of report.
    incidents: Vec<(String, usize, bool)>,
}

impl Model {
    fn standing(&self) -> Vec<usize> {
        (0..self.incidents.len())
            .filter(|&i| !self.incidents[i].2)
            .collect()
    }

    fn report(&mut self, kind: usize, sub: Option<usize>, n: u32) -> Value {
        let id = format!("inc-{}", self.next_id);
        self.next_id += 1;
        self.incidents.push((id.clone(), kind, false));
        let mut data = json!({
            "incident_id": id,
            "event_date": date(n),
            "event_type": TYPES[kind].0,
            "actor1": format!("Actor {n}"),
            "fatalities": n % 50,
        });
        if let Some(sub) = sub {
            data["sub_event_type"] = json!(TYPES[kind].1[sub]);
        }
        json!({"type": "incident.reported", "data": data})
    }

    /// The event for `op`: valid given every event generated before it.
    fn event(&mut self, op: &Op) -> Value {
        match *op {
            Op::Report { kind, sub, n } => self.report(kind, sub, n),
            Op::Correct { pick, change, n } => {
                let standing = self.standing();
                if standing.is_empty() {
                    return self.report(pick % TYPES.len(), None, n);
                }
                let i = standing[pick % standing.len()];
                let kind = self.incidents[i].1;
                let changes = match change {
                    0 => json!({"fatalities": n % 90}),
                    1 => json!({"actor1": format!("Revised actor {n}")}),
                    2 => json!({"event_date": date(n), "notes": format!("date revised ({n})")}),
                    3 => {
                        // A new event type needs a sub-event type that belongs to it.
                        let new_kind = (kind + 1 + n as usize) % TYPES.len();
                        self.incidents[i].1 = new_kind;
                        json!({
                            "event_type": TYPES[new_kind].0,
                            "sub_event_type": TYPES[new_kind].1[n as usize % 2],
                        })
                    }
                    4 => json!({"sub_event_type": TYPES[kind].1[n as usize % 2]}),
                    _ => json!({"sub_event_type": null}),
                };
                json!({"type": "incident.corrected", "data": {
                    "incident_id": self.incidents[i].0,
                    "changes": changes,
                    "reason": format!("revised after source {n}"),
                }})
            }
            Op::Retract { pick } => {
                let standing = self.standing();
                if standing.is_empty() {
                    return self.report(pick % TYPES.len(), Some(pick % 2), pick as u32);
                }
                let i = standing[pick % standing.len()];
                self.incidents[i].2 = true;
                json!({"type": "incident.retracted", "data": {
                    "incident_id": self.incidents[i].0,
                    "reason": "duplicate",
                }})
            }
            Op::Accord { accord, status, n } => {
                json!({"type": "accord.status_changed", "data": {
                    "accord": ACCORDS[accord],
                    "status": STATUSES[status],
                    "effective_date": date(n),
                }})
            }
            Op::Mandate { mission, action, n } => {
                json!({"type": "mandate.changed", "data": {
                    "mission": MISSIONS[mission],
                    "resolution": format!("S/RES/{} ({})", 2000 + n, 2000 + n % 25),
                    "action": ACTIONS[action],
                    "adopted_date": date(n),
                }})
            }
        }
    }

    /// NDJSON for a batch of ops.
    fn batch(&mut self, ops: &[Op]) -> String {
        ops.iter()
            .map(|op| self.event(op).to_string() + "\n")
            .collect()
    }
}

/// `cases` unless PROPTEST_CASES asks for more (or fewer), e.g. for a long local run.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Reopens a ledger this process has just dropped. sled can take a moment to release its own
/// lock on a loaded machine (spacejam/sled#1289), so this waits as a user's `--wait 5` would.
fn reopen(dir: &Path) -> Ledger {
    Ledger::open(dir, Duration::from_secs(5)).unwrap_or_else(|e| panic!("reopen: {e}"))
}

fn problems_of(ledger: &Ledger) -> (ledger::verify::Report, Vec<String>) {
    let mut problems = Vec::new();
    let report = ledger
        .verify(|p| {
            problems.push(format!("seq {}: {}", p.seq, p.reason));
            std::ops::ControlFlow::Continue(())
        })
        .expect("verify runs");
    (report, problems)
}

proptest! {
    #![proptest_config(config(28))]

    /// Valid batches are accepted whole, at gapless seqs chained one to the next, and the
    /// ledger verifies intact, before and after it is reopened.
    #[test]
    fn valid_appends_verify_intact_with_gapless_seqs(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..14), 1..6)
    ) {
        let (_tmp, dir, ledger, inv) = new_ledger();
        let mut model = Model::default();
        let mut next_seq = 2u64;
        let mut prev_hash = ledger.entry(1).unwrap().expect("seq 1").1;

        for ops in &batches {
            let text = model.batch(ops);
            let events = parse_events(text.as_bytes()).expect("generated input parses");
            prop_assert_eq!(events.len(), ops.len());
            let appended = match ledger.append(&inv, &events) {
                Ok(appended) => appended,
                Err(e) => return Err(TestCaseError::fail(format!("valid batch refused: {e}\n{text}"))),
            };
            prop_assert_eq!(appended.len(), events.len());
            for (k, (a, event)) in appended.iter().zip(&events).enumerate() {
                prop_assert_eq!(a.seq, next_seq + k as u64, "seqs of a batch are not gapless");
                let (entry, hash) = ledger.entry(a.seq).unwrap().expect("appended entry is stored");
                prop_assert_eq!(hash, a.hash);
                prop_assert_eq!(entry.seq, a.seq);
                prop_assert_eq!(entry.prev, prev_hash, "entry {} does not chain to the one before", a.seq);
                prop_assert_eq!(&entry.statement.event_type, &event.event_type);
                prop_assert_eq!(&entry.statement.payload, &event.payload, "payload bytes were not kept exactly");
                prev_hash = hash;
            }
            next_seq += appended.len() as u64;
            let head = ledger.head().expect("head");
            prop_assert_eq!((head.seq, head.hash), (next_seq - 1, prev_hash));
        }

        let (report, problems) = problems_of(&ledger);
        prop_assert!(report.intact(), "problems: {:?}", problems);
        prop_assert_eq!(report.entries, next_seq);
        prop_assert_eq!(report.last_seq, Some(next_seq - 1));
        prop_assert_eq!(report.last_hash, Some(prev_hash));
        prop_assert_eq!(report.keys, 2);
        prop_assert_eq!(report.incidents, model.incidents.len());
        prop_assert_eq!(report.origin.as_deref(), Some(ORIGIN));

        // A retraction is final: correcting a retracted incident is refused and writes nothing.
        if let Some((id, _, _)) = model.incidents.iter().find(|i| i.2) {
            let text = json!({"type": "incident.corrected", "data": {
                "incident_id": id, "changes": {"fatalities": 1}, "reason": "too late"}}).to_string();
            let refused = ledger.append(&inv, &parse_events(text.as_bytes()).unwrap());
            prop_assert!(matches!(refused, Err(LedgerError::Rejected(_))), "{:?}", refused.map(|_| ()));
            prop_assert_eq!(ledger.head().map(|h| h.seq), Some(next_seq - 1));
        }

        drop(ledger);
        let ledger = reopen(&dir);
        let (report, problems) = problems_of(&ledger);
        prop_assert!(report.intact(), "after reopening: {:?}", problems);
        prop_assert_eq!(report.entries, next_seq);
        prop_assert_eq!(ledger.head().map(|h| (h.seq, h.hash)), Some((next_seq - 1, prev_hash)));
    }
}

/// Where to change a byte: a seq and a byte offset (both reduced modulo what exists), and a
/// non-zero xor mask.
#[derive(Clone, Debug)]
enum Target {
    /// Any byte of any entry.
    Anywhere { seq: usize, offset: usize },
    /// A byte of the last entry (not covered by any later `prev`).
    LastEntry { offset: usize },
    /// A byte of the last entry's `recorded_at`, seen only through the log's head file.
    LastRecordedAt { byte: usize },
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => (any::<usize>(), any::<usize>()).prop_map(|(seq, offset)| Target::Anywhere { seq, offset }),
        2 => any::<usize>().prop_map(|offset| Target::LastEntry { offset }),
        1 => (0usize..8).prop_map(|byte| Target::LastRecordedAt { byte }),
    ]
}

/// The last seq of [`small_ledger`].
const SMALL_LEDGER_LAST_SEQ: u64 = 11;

/// A small ledger: genesis, enrolment, and two batches mixing every incident event type with
/// accord and mandate events (12 entries, seqs 0 to 11), closed. Made once and copied: (its
/// temporary directory, the ledger directory in it).
fn small_ledger() -> (TempDir, PathBuf) {
    static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
    let tmp = copy_of_template(&TEMPLATE, |root| {
        let (built, dir) = build_small_ledger();
        wait_for_sled_lock_release(&dir.join("sled"));
        copy_tree(built.path(), root);
    });
    let dir = tmp.path().join("ledger");
    (tmp, dir)
}

fn build_small_ledger() -> (TempDir, PathBuf) {
    let (tmp, dir, ledger, inv) = new_ledger();
    let mut model = Model::default();
    let first = model.batch(&[
        Op::Report {
            kind: 0,
            sub: Some(0),
            n: 3,
        },
        Op::Report {
            kind: 1,
            sub: None,
            n: 4,
        },
        Op::Accord {
            accord: 0,
            status: 2,
            n: 5,
        },
        Op::Correct {
            pick: 0,
            change: 0,
            n: 6,
        },
        Op::Mandate {
            mission: 0,
            action: 0,
            n: 7,
        },
    ]);
    let second = model.batch(&[
        Op::Report {
            kind: 2,
            sub: Some(1),
            n: 8,
        },
        Op::Correct {
            pick: 2,
            change: 3,
            n: 9,
        },
        Op::Retract { pick: 1 },
        Op::Accord {
            accord: 1,
            status: 3,
            n: 10,
        },
        Op::Mandate {
            mission: 1,
            action: 1,
            n: 11,
        },
    ]);
    for text in [first, second] {
        ledger
            .append(&inv, &parse_events(text.as_bytes()).unwrap())
            .expect("append");
    }
    let (report, problems) = problems_of(&ledger);
    assert!(
        report.intact(),
        "the untampered ledger has problems: {problems:?}"
    );
    assert_eq!(report.last_seq, Some(SMALL_LEDGER_LAST_SEQ));
    (tmp, dir)
}

proptest! {
    #![proptest_config(config(32))]

    /// Any single-byte change of any stored entry is reported by verify.
    #[test]
    fn any_single_byte_change_is_detected(target in target(), mask in 1u8..=255) {
        let (_tmp, dir) = small_ledger();
        let last_seq = SMALL_LEDGER_LAST_SEQ;

        // Edit the stored entry in the log's files directly (the ledger is closed).
        let mut log = RawLog::load(&dir);
        let value_len = |seq: u64| log.entry(seq).len();
        let (seq, offset) = match target {
            Target::Anywhere { seq, offset } => {
                let seq = (seq % (last_seq as usize + 1)) as u64;
                (seq, offset % value_len(seq))
            }
            Target::LastEntry { offset } => (last_seq, offset % value_len(last_seq)),
            Target::LastRecordedAt { byte } => {
                (last_seq, EntryFields::of(log.entry(last_seq)).recorded_at.start + byte)
            }
        };
        let mut value = log.entry(seq).to_vec();
        let before = value[offset];
        value[offset] ^= mask;
        log.put(seq, &value);
        log.save();

        let ledger = reopen(&dir);
        let (report, problems) = problems_of(&ledger);
        prop_assert!(
            !report.intact() && !problems.is_empty(),
            "changing byte {} of entry {} (of 0..={}) from {:#04x} to {:#04x} went unnoticed; report {:?}",
            offset, seq, last_seq, before, before ^ mask, report
        );
        prop_assert_eq!(report.problems, problems.len() as u64);
    }
}

/// Every projection as CSV bytes, built incrementally or from scratch, up to `as_of`, with the
/// caches of the ledger in `dir`.
fn all_csv(
    ledger: &Ledger,
    dir: &Path,
    as_of: Option<u64>,
    refresh: Refresh,
) -> Vec<(String, Vec<u8>)> {
    project_csv(ledger, Some(dir), projection::REGISTRY, as_of, refresh)
}

proptest! {
    #![proptest_config(config(24))]

    /// Projections caught up batch by batch from their stored state equal projections rebuilt
    /// from seq 0, byte for byte; and a view `--as-of` the end of any earlier batch, built
    /// later, equals what the incremental view showed at that time.
    #[test]
    fn incremental_projections_equal_rebuilt_ones(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..10), 1..6)
    ) {
        let (_tmp, dir, ledger, inv) = new_ledger();
        let mut model = Model::default();
        let mut seen_then = vec![(1, all_csv(&ledger, &dir, None, Refresh::Incremental))];
        for ops in &batches {
            let events = parse_events(model.batch(ops).as_bytes()).expect("generated input parses");
            let last = ledger.append(&inv, &events).expect("valid batch").last().unwrap().seq;
            seen_then.push((last, all_csv(&ledger, &dir, None, Refresh::Incremental)));
        }
        let (head, incremental) = seen_then.last().unwrap();
        prop_assert_eq!(incremental, &all_csv(&ledger, &dir, None, Refresh::Rebuild));
        for (seq, then) in &seen_then {
            prop_assert_eq!(then, &all_csv(&ledger, &dir, Some(*seq), Refresh::Incremental), "as of seq {}", seq);
        }
        // Stored states survive a reopen and still agree.
        drop(ledger);
        let ledger = reopen(&dir);
        prop_assert_eq!(&all_csv(&ledger, &dir, Some(*head), Refresh::Incremental), incremental);
    }
}
