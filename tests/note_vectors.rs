//! Known-answer vectors for the transparency formats (docs/FORMAT.md, "Notes, checkpoints,
//! witnesses and receipts"): a checkpoint of the four entries of tests/vectors/chain.json signed
//! with the vectors' admin key, the verifier keys, a witness's cosignature with a fixed timestamp, a policy, and the receipt of
//! seq 3. The test checks that the code reproduces tests/vectors/transparency.json byte for byte
//! and that independent implementations accept it: signed_note (the signature), tlog_tiles (the
//! checkpoint text, the tree root and the inclusion path) and ed25519-dalek on a cosigned message
//! spelled out here from the spec. Regenerate with
//! `LEDGER_BLESS_VECTORS=1 cargo test --test integration note_vectors::`.

use base64::prelude::{Engine, BASE64_STANDARD};
use ledger::keys::SecretKey;
use ledger::merkle::{leaf_hash, root_and_proofs};
use ledger::note::receipt::Receipt;
use ledger::note::signed::Note;
use ledger::note::vkey::{KeyType, VerifierKey};
use ledger::note::{checkpoint, cosignature, policy::Policy};
use serde_json::{json, Value};
use std::path::PathBuf;

const ORIGIN: &str = "ledger.example.org/mali-panel";
const WITNESS: &str = "witness.example.org/w1";
/// 2023-11-15T00:01:00Z, a minute after the chain's entries were recorded.
const TIMESTAMP: u64 = 1_700_006_460;
const RECEIPT_SEQ: usize = 3;

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

fn read_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(vector_path(name)).unwrap()).unwrap()
}

/// The canonical bytes of the entries of chain.json, in seq order.
fn chain_entries() -> Vec<Vec<u8>> {
    read_json("chain.json")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex::decode(e["entry_hex"].as_str().unwrap()).unwrap())
        .collect()
}

fn build() -> Value {
    let operator = SecretKey::from_seed([1; 32], None);
    let witness = SecretKey::from_seed([4; 32], None);
    let log_vkey = VerifierKey::new(ORIGIN, KeyType::Ed25519, operator.public()).unwrap();
    let witness_vkey = VerifierKey::new(WITNESS, KeyType::Cosignature, witness.public()).unwrap();
    let entries = chain_entries();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    let (root, paths) = root_and_proofs(&leaves);
    let size = entries.len() as u64;
    let signed = checkpoint::sign(ORIGIN, size, root, &operator).unwrap();
    let mut cosigned = signed.clone();
    let line = cosignature::cosign(&cosigned, WITNESS, &witness, TIMESTAMP).unwrap();
    cosigned.add(line.clone()).unwrap();
    let receipt = Receipt {
        entry: entries[RECEIPT_SEQ].clone(),
        index: RECEIPT_SEQ as u64,
        path: paths[RECEIPT_SEQ].clone(),
        checkpoint: cosigned.to_string(),
    };
    json!({
        "description": "The transparency formats (docs/FORMAT.md, \"Notes, checkpoints, witnesses and receipts\") over the four entries of chain.json. Operator key: the admin's, seed 0x01 x32; witness key: seed 0x04 x32.",
        "operator_seed_hex": hex::encode([1u8; 32]),
        "witness_seed_hex": hex::encode([4u8; 32]),
        "tree_size": size,
        "leaf_hashes": leaves.iter().map(hex::encode).collect::<Vec<_>>(),
        "root_base64": BASE64_STANDARD.encode(root),
        "log_vkey": log_vkey.to_string(),
        "checkpoint": signed.to_string(),
        "witness_vkey": witness_vkey.to_string(),
        "cosignature_timestamp": TIMESTAMP,
        "cosigned_message": cosignature::message(signed.text(), TIMESTAMP),
        "cosignature_line": line.to_string(),
        "cosigned_checkpoint": cosigned.to_string(),
        "policy": format!("log {log_vkey}\nwitness w1 {witness_vkey}\nquorum w1\n"),
        "receipt_seq": RECEIPT_SEQ,
        "receipt": receipt.to_text(),
    })
}

#[test]
fn code_reproduces_the_published_transparency_vectors() {
    let text = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::var_os("LEDGER_BLESS_VECTORS").is_some() {
        std::fs::write(vector_path("transparency.json"), &text).unwrap();
    }
    let published = std::fs::read_to_string(vector_path("transparency.json")).unwrap();
    assert_eq!(
        text, published,
        "tests/vectors/transparency.json differs from what the code produces"
    );
}

fn published(field: &str) -> String {
    read_json("transparency.json")[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in transparency.json"))
        .to_string()
}

#[test]
fn signed_note_and_tlog_tiles_accept_the_published_checkpoint() {
    let verifier = signed_note::StandardVerifier::new(&published("log_vkey")).unwrap();
    let verifiers = signed_note::VerifierList::new(vec![Box::new(verifier)]);
    for field in ["checkpoint", "cosigned_checkpoint"] {
        let note = signed_note::Note::from_bytes(published(field).as_bytes()).unwrap();
        let (verified, unknown) = note.verify(&verifiers).unwrap();
        assert_eq!(verified.len(), 1, "{field}");
        assert_eq!(unknown.len(), usize::from(field == "cosigned_checkpoint"));
        let parsed = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
        assert_eq!(parsed.origin(), ORIGIN);
        assert_eq!(parsed.size(), 4);
        assert_eq!(parsed.hash().to_string(), published("root_base64"));
    }
    // The root is RFC 6962's over the entries' bytes, as tlog_tiles computes it.
    struct Stored(Vec<tlog_tiles::Hash>);
    impl tlog_tiles::HashReader for Stored {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
        }
    }
    let mut stored = Stored(Vec::new());
    let entries = chain_entries();
    for (i, entry) in entries.iter().enumerate() {
        let hashes = tlog_tiles::stored_hashes(i as u64, entry, &stored).unwrap();
        stored.0.extend(hashes);
    }
    let root = tlog_tiles::tree_hash(4, &stored).unwrap();
    assert_eq!(root.to_string(), published("root_base64"));
    // The receipt's path proves its entry in that root.
    let receipt = Receipt::parse(published("receipt").as_bytes()).unwrap();
    assert_eq!(receipt.entry, entries[RECEIPT_SEQ]);
    let path: Vec<_> = receipt.path.iter().copied().map(tlog_tiles::Hash).collect();
    tlog_tiles::check_record(
        &path,
        4,
        root,
        receipt.index,
        tlog_tiles::record_hash(&receipt.entry),
    )
    .unwrap();
    assert_eq!(receipt.checkpoint, published("cosigned_checkpoint"));
}

/// The cosignature checked from the spec's words alone: the key from the vkey's base64 after
/// its type byte 0x04, the timestamp from the first 8 bytes after the key ID, the message
/// `cosignature/v1\ntime <t>\n` and the checkpoint text.
#[test]
fn the_published_cosignature_verifies_as_the_spec_spells_it() {
    let vkey = published("witness_vkey");
    let key_bytes = BASE64_STANDARD
        .decode(vkey.rsplit('+').next().unwrap())
        .unwrap();
    assert_eq!(key_bytes[0], 0x04);
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes[1..].try_into().unwrap()).unwrap();
    let line = published("cosignature_line");
    let encoded = line.strip_prefix(&format!("— {WITNESS} ")).unwrap();
    let bytes = BASE64_STANDARD.decode(encoded).unwrap();
    assert_eq!(bytes.len(), 4 + 8 + 64);
    let timestamp = u64::from_be_bytes(bytes[4..12].try_into().unwrap());
    assert_eq!(timestamp, TIMESTAMP);
    let text = published("checkpoint");
    let body = text.split("\n\n").next().unwrap();
    let message = format!("cosignature/v1\ntime {timestamp}\n{body}\n");
    assert_eq!(message, published("cosigned_message"));
    let signature = ed25519_dalek::Signature::from_bytes(&bytes[12..].try_into().unwrap());
    key.verify_strict(message.as_bytes(), &signature).unwrap();
    // And the library agrees, through the policy's quorum.
    let policy = Policy::parse(published("policy").as_bytes()).unwrap();
    let note = Note::parse(published("cosigned_checkpoint").as_bytes()).unwrap();
    let log = policy.log_for(ORIGIN).unwrap();
    checkpoint::open(published("cosigned_checkpoint").as_bytes(), log).unwrap();
    let cosigned = policy.check_quorum(&note).unwrap();
    assert_eq!(cosigned[0].timestamp, TIMESTAMP);
}
