//! The witness through the real binary: `ledger key vkey` prints the keys a witness and an auditor
//! hold, and `ledger witness cosign` cosigns a log's checkpoint that extends the last one it
//! cosigned (with a consistency proof), and refuses a fork, a rollback, a missing or wrong proof.
//! The trees and proofs come from tlog_tiles, an implementation independent of the ledger's.

use crate::common::{describe, run};
use ledger::keys::SecretKey;
use ledger::note::checkpoint;
use ledger::note::cosignature;
use ledger::note::signed::Note;
use ledger::note::vkey::{KeyType, VerifierKey};
use std::path::{Path, PathBuf};
use std::process::Output;
use tlog_tiles::{Error as TlogError, HashReader};

const ORIGIN: &str = "ledger.example.org/mali-panel";
const WITNESS: &str = "witness.example.org/w1";

/// An RFC 6962 tree held as tlog_tiles's stored hashes.
struct Tree(Vec<tlog_tiles::Hash>);

impl HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, TlogError> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

impl Tree {
    /// A tree of `size` leaves `{branch} entry {i}`: two branches differ from their first leaf.
    fn new(branch: &str, size: u64) -> Tree {
        let mut tree = Tree(Vec::new());
        for i in 0..size {
            let leaf = format!("{branch} entry {i}");
            let hashes = tlog_tiles::stored_hashes(i, leaf.as_bytes(), &tree).unwrap();
            tree.0.extend(hashes);
        }
        tree
    }

    fn root(&self, size: u64) -> [u8; 32] {
        tlog_tiles::tree_hash(size, self).unwrap().0
    }

    fn consistency(&self, from: u64, to: u64) -> String {
        let proof: Vec<[u8; 32]> = tlog_tiles::prove_tree(to, from, self)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        ledger::tree::proof::Proof(proof).to_text()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    operator: SecretKey,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let operator = SecretKey::from_seed([1; 32], None);
        let setup = Setup { dir, operator };
        let witness = setup.path("witness.key");
        let out = setup.ledger(&[
            "key",
            "generate",
            "--out",
            witness.to_str().unwrap(),
            "--name",
            WITNESS,
        ]);
        assert!(out.status.success(), "{}", describe(&["key"], &out));
        let vkey = setup.vkey(&format!("{}", setup.operator.public()), ORIGIN, false);
        std::fs::write(setup.path("log.vkey"), vkey + "\n").unwrap();
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ledger(&self, args: &[&str]) -> Output {
        run(&self.path("no-ledger"), args, None)
    }

    fn vkey(&self, public: &str, name: &str, witness: bool) -> String {
        let mut args = vec!["key", "vkey", "--public", public, "--name", name];
        if witness {
            args.push("--witness");
        }
        let out = self.ledger(&args);
        assert!(out.status.success(), "{}", describe(&args, &out));
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// Signs a checkpoint of `tree` at `size` and offers it to the witness, with the proof.
    fn cosign(&self, tree: &Tree, size: u64, proof: Option<&str>) -> (Output, Note) {
        let note = checkpoint::sign(ORIGIN, size, tree.root(size), &self.operator).unwrap();
        (self.offer(&note, proof), note)
    }

    /// `ledger witness cosign` of the checkpoint `note`, with the proof if any.
    fn offer(&self, note: &Note, proof: Option<&str>) -> Output {
        let file = self.path("offered");
        std::fs::write(&file, note.to_string()).unwrap();
        let (key, state, vkey) = (
            self.path("witness.key"),
            self.path("state"),
            self.path("log.vkey"),
        );
        let mut args = vec![
            "witness",
            "cosign",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--vkey",
            vkey.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        let proof_file = self.path("proof");
        if let Some(proof) = proof {
            std::fs::write(&proof_file, proof).unwrap();
            args.extend(["--proof", proof_file.to_str().unwrap()]);
        }
        self.ledger(&args)
    }

    fn witness_vkey(&self) -> VerifierKey {
        let key = self.path("witness.key");
        VerifierKey::parse(&self.vkey(key.to_str().unwrap(), WITNESS, true)).unwrap()
    }
}

/// The cosignature line printed verifies on the checkpoint for the witness's verifier key.
fn assert_cosigned(setup: &Setup, (out, note): (Output, Note)) -> u64 {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["witness"], &out)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let cosigned = Note::parse(format!("{note}{line}").as_bytes()).unwrap();
    cosignature::verify(&cosigned, &setup.witness_vkey()).expect("the line verifies")
}

fn assert_refused(out: &Output, status: i32, words: &[&str]) {
    let context = describe(&["witness"], out);
    assert_eq!(out.status.code(), Some(status), "{context}");
    assert!(out.stdout.is_empty(), "{context}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for word in words {
        assert!(
            stderr.contains(word),
            "stderr should say {word:?}: {context}"
        );
    }
}

#[test]
fn the_witness_accepts_consistent_extensions_and_refuses_a_fork_and_a_rollback() {
    let setup = Setup::new();
    let log = Tree::new("main", 40);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let timestamp = assert_cosigned(&setup, setup.cosign(&log, 13, None));
    assert!(timestamp >= before, "the cosignature is timed by the clock");
    assert_cosigned(
        &setup,
        setup.cosign(&log, 21, Some(&log.consistency(13, 21))),
    );

    // Two logs signed with the same key at the same size: the second is a fork.
    let fork = Tree::new("rewritten", 40);
    let (out, _) = setup.cosign(&fork, 21, None);
    assert_refused(&out, 1, &["fork", "size 21", "keep both checkpoints"]);
    // Smaller than what was cosigned: a rollback, even with a valid proof to it.
    let (out, _) = setup.cosign(&log, 20, Some(&log.consistency(13, 20)));
    assert_refused(&out, 1, &["rollback", "size 21", "size 20"]);
    // Larger without a proof, or with a proof from the forked log: refused.
    let (out, _) = setup.cosign(&log, 40, None);
    assert_refused(&out, 2, &["consistency proof from 21", "--proof"]);
    let (out, _) = setup.cosign(&fork, 40, Some(&fork.consistency(21, 40)));
    assert_refused(&out, 1, &["does not verify", "from size 21 to 40"]);
    let (out, _) = setup.cosign(&log, 40, Some(&log.consistency(20, 40)));
    assert_refused(&out, 1, &["does not verify"]);

    // None of that moved the witness: the log's own extension still goes through.
    assert_cosigned(
        &setup,
        setup.cosign(&log, 40, Some(&log.consistency(21, 40))),
    );
    assert_cosigned(&setup, setup.cosign(&log, 40, None));
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let setup = Setup::new();
    let log = Tree::new("main", 4);
    let stranger = SecretKey::from_seed([9; 32], None);
    let note = checkpoint::sign(ORIGIN, 4, log.root(4), &stranger).unwrap();
    assert_refused(
        &setup.offer(&note, None),
        1,
        &["no signature by the key", "--vkey"],
    );
}

#[test]
fn key_vkey_prints_the_verifier_keys_signed_note_and_the_spec_expect() {
    let setup = Setup::new();
    let public = setup.operator.public();
    let printed = setup.vkey(&public.to_string(), ORIGIN, false);
    let expected = signed_note::new_ed25519_verifier_key(ORIGIN, &public.verifying_key().unwrap());
    assert_eq!(printed, expected);
    // From a file holding the public key, and from the secret key file.
    let file = setup.path("operator.pub");
    std::fs::write(&file, format!("{public}\n")).unwrap();
    assert_eq!(setup.vkey(file.to_str().unwrap(), ORIGIN, false), expected);
    let witness = setup.witness_vkey();
    assert_eq!(witness.kind(), KeyType::Cosignature);
    assert_eq!(witness.name(), WITNESS);
    assert!(
        signed_note::StandardVerifier::new(&witness.to_string()).is_err(),
        "signed_note knows only type 0x01, so a witness key is not taken for a log's"
    );
    let out = setup.ledger(&["key", "vkey", "--public", "nothing", "--name", ORIGIN]);
    assert_refused(&out, 2, &["--public", "neither a public key"]);
    let out = setup.ledger(&[
        "key",
        "vkey",
        "--public",
        &public.to_string(),
        "--name",
        "a b",
    ]);
    assert_refused(&out, 2, &["key name"]);
}

/// The witness's files are its own: a state file turned into a symlink is refused.
#[test]
fn the_witness_refuses_a_symlinked_state_file() {
    let setup = Setup::new();
    let log = Tree::new("main", 8);
    assert_cosigned(&setup, setup.cosign(&log, 8, None));
    let state = setup.path("state");
    let stored: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "checkpoint"))
        .collect();
    assert_eq!(stored.len(), 1);
    let elsewhere = setup.path("elsewhere");
    std::fs::rename(&stored[0], &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &stored[0]).unwrap();
    let (out, _) = setup.cosign(&log, 8, None);
    assert_refused(&out, 2, &["symlink"]);
    assert!(Path::new(&elsewhere).exists());
}

/// What an auditor holds, made with the binary: the log's and the witness's verifier keys as
/// `key vkey` prints them, a policy naming them, and a checkpoint with the witness's line
/// appended. The policy accepts it, and refuses it without the witness's line.
#[test]
fn a_checkpoint_cosigned_through_the_binary_meets_a_policy_of_the_printed_keys() {
    use ledger::note::policy::{Policy, QuorumError};
    let setup = Setup::new();
    let log = Tree::new("main", 6);
    let (out, note) = setup.cosign(&log, 6, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["witness"], &out)
    );
    let cosigned = format!("{note}{}", String::from_utf8(out.stdout).unwrap());
    let policy = format!(
        "log {}\nwitness w1 {}\nquorum w1\n",
        std::fs::read_to_string(setup.path("log.vkey"))
            .unwrap()
            .trim(),
        setup.witness_vkey()
    );
    let policy = Policy::parse(policy.as_bytes()).unwrap();
    let log_key = policy.log_for(ORIGIN).unwrap();
    let opened = checkpoint::open(cosigned.as_bytes(), log_key).unwrap();
    assert_eq!(opened.checkpoint.size, 6);
    assert_eq!(policy.check_quorum(&opened.note).unwrap().len(), 1);
    let bare = checkpoint::open(note.to_string().as_bytes(), log_key).unwrap();
    assert_eq!(
        policy.check_quorum(&bare.note),
        Err(QuorumError::NotMet { verified: 0 })
    );
}

/// While another cosign holds the state's lock, a cosign waits (up to --wait) and then gives up,
/// changing nothing.
#[test]
fn a_cosign_does_not_run_while_another_holds_the_state() {
    let setup = Setup::new();
    let log = Tree::new("main", 3);
    assert_cosigned(&setup, setup.cosign(&log, 2, None));
    let held = std::fs::File::open(setup.path("state").join("lock")).unwrap();
    held.lock().unwrap();
    let (out, _) = setup.cosign(&log, 3, Some(&log.consistency(2, 3)));
    assert_refused(&out, 2, &["in use", "--wait"]);
    held.unlock().unwrap();
    assert_cosigned(&setup, setup.cosign(&log, 3, Some(&log.consistency(2, 3))));
}
