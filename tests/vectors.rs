//! Known-answer vectors for the canonical encodings, hashes and signatures of docs/FORMAT.md.
//! The files in tests/vectors/ are the reference an independent verifier is written against;
//! this test checks that the code reproduces them byte for byte and that they verify.
//! After a deliberate format change, regenerate them with
//! `LEDGER_BLESS_VECTORS=1 cargo test --test integration vectors::`.

use ledger::entry::{entry_hash, Entry, ZERO_HASH};
use ledger::keys::SecretKey;
use ledger::merkle::{leaf_hash, root_and_proofs};
use ledger::statement::{seal_all, seal_message, Statement};
use ledger::time::Timestamp;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The day after the incident the vectors report: no event may be dated after its entry.
const CLAIMED_AT: i64 = 1_700_006_400_000_000; // 2023-11-15T00:00:00Z
const RECORDED_AT: i64 = CLAIMED_AT + 1_000_000;

fn key(seed: u8, name: &str) -> SecretKey {
    SecretKey::from_seed([seed; 32], Some(name.to_string()))
}

fn statement(key: &SecretKey, event_type: &str, payload: &Value) -> Statement {
    Statement {
        event_type: event_type.to_string(),
        schema_version: 1,
        author: key.public(),
        claimed_at: Timestamp(CLAIMED_AT),
        payload: serde_json::to_vec(payload).unwrap(),
    }
}

fn statement_json(s: &Statement, bytes: &[u8]) -> Value {
    json!({
        "event_type": s.event_type, "schema_version": s.schema_version, "author": s.author.to_string(),
        "claimed_at_micros": s.claimed_at.0, "payload_utf8": String::from_utf8(s.payload.clone()).unwrap(),
        "statement_hex": hex::encode(bytes), "leaf_hash": hex::encode(leaf_hash(bytes)),
    })
}

/// Each vector file's name and content.
type VectorFiles = Vec<(&'static str, Value)>;
/// The entries of a log: (seq, canonical bytes).
type Entries = Vec<(u64, Vec<u8>)>;

/// Builds the vector files' contents and the entries they describe.
fn build() -> (VectorFiles, Entries) {
    let admin = key(1, "panel-admin");
    let investigator = key(2, "panel-investigator");
    let auditor = key(3, "partner-auditor");
    let admin_batch = vec![
        statement(
            &admin,
            "ledger.genesis",
            &json!({"origin": "ledger.example.org/mali-panel", "admin_name": "panel-admin", "admin_public_key": admin.public().to_string()}),
        ),
        statement(
            &admin,
            "key.enrolled",
            &json!({"name": "panel-investigator", "role": "investigator", "public_key": investigator.public().to_string()}),
        ),
        statement(
            &admin,
            "key.enrolled",
            &json!({"name": "partner-auditor", "role": "auditor", "public_key": auditor.public().to_string()}),
        ),
    ];
    let incident = statement(
        &investigator,
        "incident.reported",
        &json!({"incident_id": "mali-panel-2023-007", "event_date": "2023-11-14", "event_type": "Battles",
               "sub_event_type": "Government regains territory", "actor1": "Military Forces of Mali",
               "country": "Mali", "admin1": "Kidal", "location": "Kidal", "latitude": 18.44, "longitude": 1.41, "fatalities": 0}),
    );

    let admin_bytes: Vec<Vec<u8>> = admin_batch.iter().map(Statement::encode).collect();
    let incident_bytes = incident.encode();
    let admin_seals = seal_all(&admin, &admin_bytes);
    let incident_seal = seal_all(&investigator, std::slice::from_ref(&incident_bytes)).remove(0);
    let leaves: Vec<_> = admin_bytes.iter().map(|b| leaf_hash(b)).collect();
    let (root, proofs) = root_and_proofs(&leaves);

    let statement_file = json!({
        "description": "One statement (docs/FORMAT.md section 1). Author key from the 32-byte seed given.",
        "author_seed_hex": hex::encode([2u8; 32]),
        "statement": statement_json(&incident, &incident_bytes),
    });
    let seal_file = json!({
        "description": "Three statements by one key sealed as one batch (docs/FORMAT.md section 2).",
        "author_seed_hex": hex::encode([1u8; 32]),
        "statements": admin_batch.iter().zip(&admin_bytes).map(|(s, b)| statement_json(s, b)).collect::<Vec<_>>(),
        "root": hex::encode(root),
        "seal_message_hex": hex::encode(seal_message(3, &root)),
        "signature": hex::encode(admin_seals[0].signature),
        "proofs": proofs.iter().map(|p| p.iter().map(hex::encode).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });

    let mut prev = ZERO_HASH;
    let mut entries = Vec::new();
    let mut chain = Vec::new();
    let sealed = admin_batch
        .into_iter()
        .zip(admin_bytes)
        .zip(admin_seals)
        .chain(std::iter::once(((incident, incident_bytes), incident_seal)));
    for (seq, ((statement, bytes), seal)) in sealed.enumerate() {
        let entry_bytes = Entry::new(
            seq as u64,
            Timestamp(RECORDED_AT),
            prev,
            statement,
            bytes,
            seal,
        )
        .encode();
        let hash = entry_hash(&entry_bytes);
        chain.push(
            json!({"seq": seq, "recorded_at_micros": RECORDED_AT, "prev": hex::encode(prev),
                          "entry_hex": hex::encode(&entry_bytes), "entry_hash": hex::encode(hash)}),
        );
        entries.push((seq as u64, entry_bytes));
        prev = hash;
    }
    let chain_file = json!({
        "description": "A valid four-entry ledger (docs/FORMAT.md section 3). Seeds: admin 0x01 x32, investigator 0x02 x32, auditor 0x03 x32.",
        "entry_hash_context": ledger::entry::ENTRY_HASH_CONTEXT,
        "entries": chain,
    });
    (
        vec![
            ("statement.json", statement_file),
            ("seal.json", seal_file),
            ("chain.json", chain_file),
            ("log.json", log_file(&entries, prev)),
            ("tree.json", tree_file(&entries)),
        ],
        entries,
    )
}

/// The log files of the chain's four entries, written here from docs/FORMAT.md section 6 alone
/// (framing and head file), and checked against the library's own head encoder.
fn log_file(entries: &Entries, last_hash: [u8; 32]) -> Value {
    let mut segment = Vec::new();
    for (_, bytes) in entries {
        segment.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_be_bytes());
        segment.extend_from_slice(bytes);
    }
    let mut head = b"ledger/head\0".to_vec();
    head.push(1);
    head.extend_from_slice(&(entries.len() as u64).to_be_bytes());
    head.extend_from_slice(&last_hash);
    head.extend_from_slice(&RECORDED_AT.to_be_bytes());
    head.extend_from_slice(&(segment.len() as u64).to_be_bytes());
    let check = blake3::hash(&head);
    head.extend_from_slice(check.as_bytes());
    let durable = ledger::log::Durable {
        head: ledger::log::Head {
            seq: entries.len() as u64 - 1,
            hash: last_hash,
            recorded_at: RECORDED_AT,
        },
        segment_end: segment.len() as u64,
    };
    assert_eq!(
        durable.encode(),
        head,
        "the head file as FORMAT.md describes it"
    );
    json!({
        "description": "The files of the chain.json ledger (docs/FORMAT.md section 6): log/0000000000.seg and log/head.",
        "segment_file": "0000000000.seg",
        "segment_hex": hex::encode(&segment),
        "head_hex": hex::encode(&head),
    })
}

/// Complete subtrees of a list of leaf hashes, each hashed as a batch tree (src/merkle.rs).
struct Leaves<'a>(&'a [[u8; 32]]);

impl ledger::tree::shape::Subtrees for Leaves<'_> {
    type Error = std::convert::Infallible;
    fn subtree(&self, height: u32, index: u64) -> Result<[u8; 32], Self::Error> {
        let lo = usize::try_from(index << height).unwrap();
        Ok(root_and_proofs(&self.0[lo..lo + (1 << height)]).0)
    }
}

/// The RFC 6962 tree over the chain's four entries (docs/FORMAT.md, "The log's Merkle tree"):
/// leaf hashes, the head at every size, every inclusion and consistency proof in the text form,
/// and the tree files a writer keeps; then RFC 6962's own reference leaves and heads
/// (certificate-transparency-go's test data), which the same code reproduces.
fn tree_file(entries: &Entries) -> Value {
    use ledger::tree::shape;
    let text = |hashes: Vec<[u8; 32]>| ledger::tree::proof::Proof(hashes).to_text();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|(_, bytes)| leaf_hash(bytes)).collect();
    let n = leaves.len() as u64;
    let tree = Leaves(&leaves);
    let Ok(roots) = (0..=n)
        .map(|size| shape::root(size, &tree))
        .collect::<Result<Vec<_>, _>>();
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for size in 1..=n {
        for index in 0..size {
            let Ok(path) = shape::inclusion(index, size, &tree);
            inclusion.push(json!({"index": index, "size": size, "proof": text(path)}));
        }
        for from in 1..=size {
            let Ok(path) = shape::consistency(from, size, &tree);
            consistency.push(json!({"from": from, "to": size, "proof": text(path)}));
        }
    }

    let reference: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| hex::decode(h).unwrap())
    .collect();
    let reference_leaves: Vec<[u8; 32]> = reference.iter().map(|d| leaf_hash(d)).collect();
    let reference_tree = Leaves(&reference_leaves);
    let Ok(reference_roots) = (0..=8)
        .map(|size| shape::root(size, &reference_tree))
        .collect::<Result<Vec<_>, _>>();
    assert_eq!(
        hex::encode(reference_roots[8]),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "RFC 6962's reference head of its eight test leaves"
    );
    json!({
        "description": "The RFC 6962 tree over the chain.json entries (docs/FORMAT.md section 7): leaf hash = SHA-256(0x00 || entry bytes). Proofs are in the text form: one standard base64 hash per line. tree_files are the tree's files for the whole log. rfc6962_reference: the reference leaves (hex) and heads of sizes 0 to 8 from certificate-transparency-go's test data.",
        "leaf_hashes": leaves.iter().map(hex::encode).collect::<Vec<_>>(),
        "roots": roots.iter().map(hex::encode).collect::<Vec<_>>(),
        "inclusion": inclusion,
        "consistency": consistency,
        "tree_files": {
            "level-0.tiles": hex::encode(leaves.concat()),
        },
        "rfc6962_reference": {
            "leaves": reference.iter().map(hex::encode).collect::<Vec<_>>(),
            "roots": reference_roots.iter().map(hex::encode).collect::<Vec<_>>(),
        },
    })
}

/// The published proofs are what `ledger prove` prints for the published log files, and they
/// verify against the published heads; the published tree files are what a writer keeps.
#[test]
fn the_published_proofs_are_the_ledgers_and_verify() {
    use ledger::tree::proof::{verify_consistency, verify_inclusion, Proof};
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(vector_path(name)).unwrap()).unwrap()
    };
    let (log, tree) = (read("log.json"), read("tree.json"));
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("l");
    std::fs::create_dir_all(ledger_dir.join("log")).unwrap();
    let file = |name: &str| hex::decode(log[name].as_str().unwrap()).unwrap();
    std::fs::write(ledger_dir.join("log/0000000000.seg"), file("segment_hex")).unwrap();
    std::fs::write(ledger_dir.join("log/head"), file("head_hex")).unwrap();
    let hash = |v: &Value| -> [u8; 32] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let roots: Vec<[u8; 32]> = tree["roots"].as_array().unwrap().iter().map(hash).collect();
    let leaves: Vec<[u8; 32]> = tree["leaf_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    // A reader with no tree files computes the tree in memory.
    for case in tree["inclusion"].as_array().unwrap() {
        let (index, size) = (
            case["index"].as_u64().unwrap(),
            case["size"].as_u64().unwrap(),
        );
        let text = case["proof"].as_str().unwrap();
        let args = [
            "prove",
            "inclusion",
            &index.to_string(),
            "--size",
            &size.to_string(),
        ];
        assert_eq!(
            crate::common::run_ok(&ledger_dir, &args, None),
            text,
            "{args:?}"
        );
        let proof = Proof::parse(text).unwrap();
        verify_inclusion(
            &leaves[index as usize],
            index,
            size,
            &proof,
            &roots[size as usize],
        )
        .unwrap();
    }
    for case in tree["consistency"].as_array().unwrap() {
        let (from, to) = (case["from"].as_u64().unwrap(), case["to"].as_u64().unwrap());
        let text = case["proof"].as_str().unwrap();
        let args = [
            "prove",
            "consistency",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ];
        assert_eq!(
            crate::common::run_ok(&ledger_dir, &args, None),
            text,
            "{args:?}"
        );
        let proof = Proof::parse(text).unwrap();
        verify_consistency(from, to, &proof, &roots[from as usize], &roots[to as usize]).unwrap();
    }
    assert!(!ledger_dir.join("tree").exists(), "a reader writes nothing");
    // A writer builds the tree's files: exactly the published ones.
    crate::common::run(&ledger_dir, &["reindex"], None);
    for (name, hex_bytes) in tree["tree_files"].as_object().unwrap() {
        let bytes = std::fs::read(ledger_dir.join("tree").join(name)).unwrap();
        assert_eq!(
            hex::encode(bytes),
            hex_bytes.as_str().unwrap(),
            "tree/{name}"
        );
    }
}

/// The published log files, put in a directory as they are, make a ledger the binary verifies.
#[test]
fn the_published_log_files_are_a_ledger() {
    let log: Value =
        serde_json::from_str(&std::fs::read_to_string(vector_path("log.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("l/log");
    std::fs::create_dir_all(&log_dir).unwrap();
    let file = |name: &str| hex::decode(log[name].as_str().unwrap()).unwrap();
    std::fs::write(log_dir.join("0000000000.seg"), file("segment_hex")).unwrap();
    std::fs::write(log_dir.join("head"), file("head_hex")).unwrap();
    let out = crate::common::run(&dir.path().join("l"), &["verify", "--format", "json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::common::describe(&["verify"], &out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["entries"], json!(4), "{report}");
}

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

#[test]
fn code_reproduces_the_published_vectors() {
    let (files, _) = build();
    for (name, value) in files {
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        if std::env::var_os("LEDGER_BLESS_VECTORS").is_some() {
            std::fs::write(vector_path(name), &text).unwrap();
        }
        let published = std::fs::read_to_string(vector_path(name)).expect("vector file exists");
        assert_eq!(
            text, published,
            "tests/vectors/{name} differs from what the code produces"
        );
    }
}

#[test]
fn published_entries_decode_and_verify_as_a_ledger() {
    let chain: Value =
        serde_json::from_str(&std::fs::read_to_string(vector_path("chain.json")).unwrap()).unwrap();
    let entries: Entries = chain["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                hex::decode(e["entry_hex"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    for (seq, bytes) in &entries {
        let entry = Entry::decode(bytes).unwrap();
        assert_eq!(entry.encode(), *bytes, "decode then encode is the identity");
        assert!(
            entry
                .seal
                .verifies(&entry.statement_bytes, &entry.statement.author),
            "seal of seq {seq}"
        );
    }
    // The entries as the log's files of a ledger, read by the binary.
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("l");
    crate::common::RawLog::of_entries(
        &ledger_dir,
        entries.into_iter().map(|(_, bytes)| bytes).collect(),
    )
    .save();
    let out = crate::common::run(&ledger_dir, &["verify", "--format", "json"], None);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::common::describe(&["verify"], &out)));
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["problem_list"], json!([]), "{report}");
    assert_eq!(
        (
            &report["entries"],
            &report["signatures"],
            &report["keys"],
            &report["incidents"]
        ),
        (&json!(4), &json!(2), &json!(3), &json!(1))
    );
}

/// What `ledger show --format json` prints is enough to check the entry without the ledger:
/// its canonical bytes hash to the hash shown, hold the payload and link shown, and carry a seal
/// whose printed proof and signature verify for the author shown.
#[test]
fn an_entry_printed_as_json_verifies_on_its_own() {
    let f = crate::common::Fixture::with_incidents();
    // Seq 3 is the middle of a three-statement batch, so its seal has a proof.
    let shown: Value = serde_json::from_str(&f.run_ok(&["show", "3", "--format", "json"], None))
        .expect("show prints one JSON document");
    let bytes = hex::decode(shown["entry_hex"].as_str().expect("entry_hex")).unwrap();
    assert_eq!(hex::encode(entry_hash(&bytes)), shown["hash"]);
    let entry = Entry::decode(&bytes).expect("the printed bytes decode as an entry");
    assert_eq!(hex::encode(entry.prev), shown["prev"]);
    assert_eq!(entry.statement.author.to_string(), shown["author"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&entry.statement.payload).unwrap(),
        shown["data"]
    );
    let printed_proof: Vec<String> = entry.seal.proof.iter().map(hex::encode).collect();
    assert_eq!(json!(printed_proof), shown["seal"]["proof"]);
    assert!(!printed_proof.is_empty());
    assert_eq!(
        hex::encode(entry.seal.signature),
        shown["seal"]["signature"]
    );
    assert_eq!(entry.seal.index, shown["seal"]["index"]);
    assert_eq!(entry.seal.batch_size, shown["seal"]["batch_size"]);
    assert!(entry
        .seal
        .verifies(&entry.statement_bytes, &entry.statement.author));
}

/// A ledger written by release 115e6d3 (tests/data/ledger-115e6d3, see its README) kept its
/// entries in sled. Every command refuses it, changing nothing, with advice to run
/// `ledger upgrade`.
#[test]
fn a_ledger_made_by_release_115e6d3_is_refused_with_advice_to_upgrade() {
    use std::os::unix::fs::PermissionsExt;
    let kept = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ledger-115e6d3");
    let copy = tempfile::tempdir().unwrap();
    crate::common::copy_tree(&kept, copy.path());
    for key in ["admin.key", "inv.key"] {
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(copy.path().join(key), private).unwrap();
    }
    let dir = copy.path().join("ledger");

    let files_before = files_under(&dir);
    let admin_key = copy.path().join("admin.key");
    let input = copy.path().join("t-9.ndjson");
    std::fs::write(
        &input,
        crate::common::ndjson(&[crate::common::incident("t-9", 1)]),
    )
    .unwrap();
    for args in [
        &["verify"][..],
        &["log"],
        &["key", "list"],
        &["project", "incidents"],
        &[
            "append",
            "--key",
            admin_key.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
    ] {
        let out = crate::common::run(&dir, args, None);
        crate::common::assert_refused(&out, &["older release", "`ledger upgrade`"]);
    }
    assert!(
        files_before == files_under(&dir),
        "a refused command changed the old ledger"
    );
}

/// Every file under `dir` and its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}
