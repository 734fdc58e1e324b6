//! The log's Merkle tree through the binary: `prove` and `show --raw` give what an auditor
//! needs to recompute the tree head, `verify` reports a tampered tile with its place, and a
//! statement cut from a sealed batch is caught even when the chain is re-linked around it.
//!
//! The fixture's log (see `common::Fixture::with_incidents`): seq 0 genesis, 1 enrolment,
//! 2-4 one sealed batch of three incidents, 5-6 a batch of two, 7-8 a batch of two.

use crate::common::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ledger::entry::Entry;
use ledger::merkle::{leaf_hash, Hash};
use ledger::tree::proof::{verify_consistency, verify_inclusion, Proof};

/// The tree head that `prove ... -o FILE` names at the end of its line.
fn head_named(line: &str) -> Hash {
    let text = line.trim_end().rsplit(' ').next().unwrap();
    STANDARD.decode(text).unwrap().try_into().unwrap()
}

#[test]
fn an_entrys_raw_bytes_and_its_proof_give_the_tree_head_and_heads_are_consistent() {
    let f = Fixture::with_incidents();
    let entry = f.path("entry.bin");
    let proof = f.path("inclusion.txt");
    let entry_arg = entry.to_str().unwrap();
    let proof_arg = proof.to_str().unwrap();
    f.run_ok(&["show", "4", "--raw", "-o", entry_arg], None);
    let bytes = std::fs::read(&entry).unwrap();
    assert_eq!(bytes, f.entry_bytes(4), "the canonical bytes, exactly");

    let said = f.run_ok(
        &["prove", "inclusion", "4", "--size", "7", "-o", proof_arg],
        None,
    );
    let root7 = head_named(&said);
    let text = std::fs::read_to_string(&proof).unwrap();
    let path = Proof::parse(&text).unwrap();
    verify_inclusion(&leaf_hash(&bytes), 4, 7, &path, &root7).unwrap();
    assert!(verify_inclusion(&leaf_hash(&bytes), 5, 7, &path, &root7).is_err());
    assert!(verify_inclusion(&leaf_hash(&f.entry_bytes(3)), 4, 7, &path, &root7).is_err());
    // Without -o, the same text on standard output; the size defaults to the whole log.
    assert_eq!(
        f.run_ok(&["prove", "inclusion", "4", "--size", "7"], None),
        text
    );
    let whole = f.run_ok(&["prove", "inclusion", "4"], None);
    let said = f.run_ok(&["prove", "inclusion", "4", "-o", proof_arg], None);
    assert!(said.contains("tree of size 9"), "{said}");
    let root9 = head_named(&said);
    verify_inclusion(
        &leaf_hash(&bytes),
        4,
        9,
        &Proof::parse(&whole).unwrap(),
        &root9,
    )
    .unwrap();

    let consistency = f.path("consistency.txt");
    let said = f.run_ok(
        &[
            "prove",
            "consistency",
            "--from",
            "7",
            "-o",
            consistency.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(head_named(&said), root9);
    let path = Proof::parse(&std::fs::read_to_string(&consistency).unwrap()).unwrap();
    verify_consistency(7, 9, &path, &root7, &root9).unwrap();
    assert!(verify_consistency(7, 9, &path, &root9, &root7).is_err());
    let to7 = f.run_ok(&["prove", "consistency", "--from", "3", "--to", "7"], None);
    assert_eq!(to7.lines().count(), Proof::parse(&to7).unwrap().0.len());
}

#[test]
fn prove_and_show_raw_refuse_what_they_cannot_do_with_exit_2() {
    let f = Fixture::with_incidents();
    for args in [
        &["prove", "inclusion", "9"][..],
        &["prove", "inclusion", "3", "--size", "10"],
        &["prove", "inclusion", "3", "--size", "3"],
        &["prove", "consistency", "--from", "0"],
        &["prove", "consistency", "--from", "5", "--to", "4"],
        &["show", "9", "--raw", "-o", "-"],
        &["show", "3", "--raw"],
    ] {
        let out = f.run(args, None);
        assert_eq!(out.status.code(), Some(2), "{}", describe(args, &out));
    }
    // `-o -` writes the bytes to standard output when it is not a terminal.
    let out = f.run(&["show", "3", "--raw", "-o", "-"], None);
    assert_eq!(out.stdout, f.entry_bytes(3));
}

#[test]
fn verify_reports_a_tampered_tile_with_its_place() {
    let f = Fixture::with_incidents();
    f.assert_intact();
    let tiles = f.dir.join("tree").join("level-0.tiles");
    let mut bytes = std::fs::read(&tiles).unwrap();
    assert_eq!(bytes.len(), 9 * 32, "one leaf hash per entry");
    bytes[5 * 32 + 7] ^= 0x40;
    std::fs::write(&tiles, bytes).unwrap();
    let (code, out) = f.verify();
    assert_eq!(code, 1, "{out}");
    let lines = problem_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with(
            "seq 5: the tree's hash of seq 5 (level 0 hash 5, in tile tile/0/000.p/9, byte 160 of "
        ),
        "{out}"
    );
    // The tree is derived: a reindex rebuilds it, and the ledger verifies intact again.
    f.run_ok(&["reindex"], None);
    f.assert_intact();
}

/// Tree files that hold fewer hashes than the log has entries (a build that was stopped, or
/// entries appended by an earlier release) are no damage: verify checks what they hold, and the
/// next writer completes them.
#[test]
fn a_tree_short_of_the_log_is_checked_as_far_as_it_goes_and_a_writer_extends_it() {
    let f = Fixture::with_incidents();
    let tiles = f.dir.join("tree").join("level-0.tiles");
    let mut bytes = std::fs::read(&tiles).unwrap();
    bytes.truncate(100);
    bytes[40] ^= 1; // in seq 1's hash, which the cut file still holds
    std::fs::write(&tiles, &bytes).unwrap();
    let (code, out) = f.verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("seq 1: the tree's hash of seq 1 "), "{out}");
    std::fs::write(&tiles, &std::fs::read(&tiles).unwrap()[..32]).unwrap();
    f.assert_intact();
    f.append_ok(&[incident("t-6", 1)]);
    f.assert_intact();
    assert_eq!(std::fs::read(&tiles).unwrap().len(), 10 * 32);
}

/// Issue 12's case: a statement deleted from the middle of a sealed batch, the later entries
/// renumbered and re-linked so that seqs and the chain are whole, and the derived tree rebuilt
/// (here: removed) so that it does not give the game away. Every remaining entry's own seal
/// proof and signature still verify; only the seal rule sees the batch is not whole.
#[test]
fn a_statement_cut_from_a_sealed_batch_with_the_chain_rebuilt_is_caught_by_plain_verify() {
    let f = Fixture::with_incidents();
    f.edit_log(|log| {
        log.remove(3); // t-2, statement 1 of the batch at seqs 2-4
        let mut prev = ledger::entry::entry_hash(log.entry(2));
        for seq in 3..=log.last_seq() {
            let mut entry = Entry::decode(log.entry(seq)).unwrap();
            entry.seq = seq;
            entry.prev = prev;
            let bytes = entry.encode();
            prev = ledger::entry::entry_hash(&bytes);
            log.put(seq, &bytes);
        }
        log.set_head_to_last();
    });
    std::fs::remove_dir_all(f.dir.join("tree")).unwrap();
    let (code, out) = f.verify();
    assert_eq!(code, 1, "{out}");
    let lines = problem_lines(&out);
    assert!(
        lines.iter().any(|l| l.starts_with("seq 3: this is statement 2 of the sealed batch of 3 that begins at seq 2, but statement 1 should come here")),
        "{out}"
    );
    // Nothing else is wrong with the forged log but the rules the missing statement broke
    // (t-2's retraction now retracts an incident never reported).
    assert!(
        lines
            .iter()
            .all(|l| l.contains("sealed batch") || l.contains("rule")),
        "{out}"
    );
}
