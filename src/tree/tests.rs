//! The tree against RFC 6962's reference values and against `tlog_tiles`, an independent
//! implementation (Go's tlog, ported): heads, proofs and their verification must agree.

use super::proof::{verify_consistency, verify_inclusion, Proof, ProofError, ProofTextError};
use super::*;
use crate::log::mem::MemFiles;
use tlog_tiles::tlog;

/// A tree on empty log files, written to by pushing leaf hashes directly.
fn tree_on(files: &MemFiles) -> Tree<MemFiles> {
    Tree::open(&Log::open(files.clone()).unwrap(), true).unwrap()
}

fn push_all(tree: &Tree<MemFiles>, leaves: &[Hash]) {
    let mut appender = tree.appender();
    for leaf in leaves {
        appender.push(*leaf).unwrap();
    }
    appender.commit().unwrap();
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// tlog's stored hashes for `leaves`, the way its writer keeps them.
struct Stored(Vec<tlog::Hash>);

impl tlog::HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

impl Stored {
    fn of(leaves: &[Hash]) -> Stored {
        let mut stored = Stored(Vec::new());
        for (n, leaf) in leaves.iter().enumerate() {
            let new =
                tlog::stored_hashes_for_record_hash(n as u64, tlog::Hash(*leaf), &stored).unwrap();
            stored.0.extend(new);
        }
        stored
    }
}

fn theirs(hashes: &[tlog::Hash]) -> Vec<Hash> {
    hashes.iter().map(|h| h.0).collect()
}

fn unhex(text: &str) -> Hash {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// certificate-transparency-go's (and transparency-dev/merkle's) reference leaves and heads.
const REFERENCE_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const REFERENCE_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn heads_and_proofs_match_the_rfc6962_reference_values() {
    let files = MemFiles::new();
    let tree = tree_on(&files);
    let data: Vec<Vec<u8>> = REFERENCE_LEAVES
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect();
    push_all(
        &tree,
        &data.iter().map(|d| leaf_hash(d)).collect::<Vec<_>>(),
    );
    for (size, root) in REFERENCE_ROOTS.iter().enumerate() {
        assert_eq!(
            hex::encode(tree.root(size as u64).unwrap()),
            *root,
            "size {size}"
        );
    }
    let path = |hashes: &[&str]| Proof(hashes.iter().map(|h| unhex(h)).collect());
    let inclusion = [
        (
            0,
            8,
            path(&[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
        (
            5,
            8,
            path(&[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]),
        ),
    ];
    for (index, size, proof) in inclusion {
        assert_eq!(tree.inclusion(index, size).unwrap(), proof);
        let root = unhex(REFERENCE_ROOTS[size as usize]);
        verify_inclusion(
            &leaf_hash(&data[index as usize]),
            index,
            size,
            &proof,
            &root,
        )
        .unwrap();
    }
    let consistency = [
        (
            2,
            5,
            path(&[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]),
        ),
        (
            2,
            8,
            path(&[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]),
        ),
    ];
    for (from, to, proof) in consistency {
        assert_eq!(tree.consistency(from, to).unwrap(), proof);
        let (old, new) = (REFERENCE_ROOTS[from as usize], REFERENCE_ROOTS[to as usize]);
        verify_consistency(from, to, &proof, &unhex(old), &unhex(new)).unwrap();
    }
}

/// Every proof of every tree up to 64 leaves, built by us and by tlog, is the same, and each
/// verifier accepts it; each mutation of it is refused by both.
#[test]
fn every_proof_up_to_64_agrees_with_tlog_and_mutations_are_refused() {
    const N: u64 = 64;
    let all = leaves(N);
    let files = MemFiles::new();
    let tree = tree_on(&files);
    // Pushed in uneven batches, each committed.
    let mut at = 0;
    for batch in [1, 2, 5, 7, 13, 36] {
        push_all(&tree, &all[at..at + batch]);
        at += batch;
    }
    assert_eq!(tree.size(), N);
    let stored = Stored::of(&all);
    let roots: Vec<Hash> = (0..=N).map(|n| tree.root(n).unwrap()).collect();
    for n in 0..=N {
        assert_eq!(
            roots[n as usize],
            tlog::tree_hash(n, &stored).unwrap().0,
            "n={n}"
        );
    }
    for n in 1..=N {
        let root = roots[n as usize];
        for i in 0..n {
            let leaf = all[i as usize];
            let proof = tree.inclusion(i, n).unwrap();
            assert_eq!(
                proof.0,
                theirs(&tlog::prove_record(n, i, &stored).unwrap()),
                "{i} in {n}"
            );
            verify_inclusion(&leaf, i, n, &proof, &root).unwrap();
            let their = proof.0.iter().map(|h| tlog::Hash(*h)).collect();
            tlog::check_record(&their, n, tlog::Hash(root), i, tlog::Hash(leaf)).unwrap();
            for bad in mutations(&proof) {
                assert!(
                    verify_inclusion(&leaf, i, n, &bad, &root).is_err(),
                    "{i} in {n}"
                );
                let their = bad.0.iter().map(|h| tlog::Hash(*h)).collect();
                assert!(
                    tlog::check_record(&their, n, tlog::Hash(root), i, tlog::Hash(leaf)).is_err()
                );
            }
            if n > 1 {
                let other = (i + 1) % n;
                assert!(verify_inclusion(&leaf, other, n, &proof, &root).is_err());
            }
            assert!(verify_inclusion(
                &leaf,
                i,
                n + 1,
                &proof,
                &roots.get(n as usize + 1).copied().unwrap_or(root)
            )
            .is_err());
        }
        assert_eq!(
            verify_inclusion(&all[0], n, n, &Proof::default(), &root),
            Err(ProofError::IndexOutOfRange { index: n, size: n })
        );
        for m in 1..=n {
            let (old, new) = (roots[m as usize], roots[n as usize]);
            let proof = tree.consistency(m, n).unwrap();
            assert_eq!(
                proof.0,
                theirs(&tlog::prove_tree(n, m, &stored).unwrap()),
                "{m} to {n}"
            );
            verify_consistency(m, n, &proof, &old, &new).unwrap();
            let their: Vec<tlog::Hash> = proof.0.iter().map(|h| tlog::Hash(*h)).collect();
            tlog::check_tree(&their, n, tlog::Hash(new), m, tlog::Hash(old)).unwrap();
            for bad in mutations(&proof) {
                assert!(
                    verify_consistency(m, n, &bad, &old, &new).is_err(),
                    "{m} to {n}"
                );
            }
            if m > 1 {
                // The same proof for another old size, with that size's head, does not pass
                // (unless the two sizes' proofs are the same list).
                let wrong = roots[m as usize - 1];
                if tree.consistency(m - 1, n).unwrap() != proof {
                    assert!(verify_consistency(m - 1, n, &proof, &wrong, &new).is_err());
                }
            }
            assert!(verify_consistency(m, n, &proof, &new, &old).is_err() || old == new);
        }
    }
    assert_eq!(
        tree.consistency(0, 3).unwrap_err().to_string(),
        TreeError::SizesOutOfOrder { from: 0, to: 3 }.to_string()
    );
    assert!(matches!(
        tree.root(N + 1),
        Err(TreeError::SizeBeyondLog { .. })
    ));
    assert!(matches!(
        tree.inclusion(N, N),
        Err(TreeError::SeqBeyondSize { .. })
    ));
}

/// A proof with one bit changed in each hash, one hash dropped, one added, two swapped.
fn mutations(proof: &Proof) -> Vec<Proof> {
    let mut out = Vec::new();
    for i in 0..proof.0.len() {
        let mut bad = proof.clone();
        bad.0[i][i % 32] ^= 1;
        out.push(bad);
    }
    if let Some((_, rest)) = proof.0.split_last() {
        out.push(Proof(rest.to_vec()));
    }
    let mut longer = proof.clone();
    longer.0.push([9; 32]);
    out.push(longer);
    if proof.0.len() > 1 && proof.0[0] != proof.0[1] {
        let mut swapped = proof.clone();
        swapped.0.swap(0, 1);
        out.push(swapped);
    }
    out
}

/// Across tile and level boundaries (and the writer's flushes to its files), heads and proofs
/// agree with tlog's, in the writer and in a reader of its files.
#[test]
fn large_trees_agree_with_tlog_across_tiles_and_after_reopening() {
    let n = 70_000u64;
    let all = leaves(n);
    let files = MemFiles::new();
    let tree = tree_on(&files);
    push_all(&tree, &all[..256]);
    push_all(&tree, &all[256..257]);
    push_all(&tree, &all[257..]);
    let stored = Stored::of(&all);
    let reopened = Tree {
        files: files.beside(tiles::TREE_DIR, level_file_name).unwrap(),
        writable: false,
        levels: Mutex::new(Levels::stored(n)),
    };
    for t in [&tree, &reopened] {
        for size in [
            1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 69_999, n,
        ] {
            assert_eq!(
                t.root(size).unwrap(),
                tlog::tree_hash(size, &stored).unwrap().0
            );
            for i in [0, size / 2, size - 1] {
                assert_eq!(
                    t.inclusion(i, size).unwrap().0,
                    theirs(&tlog::prove_record(size, i, &stored).unwrap())
                );
            }
            for from in [1, 256, 65_536, size] {
                if from <= size {
                    assert_eq!(
                        t.consistency(from, size).unwrap().0,
                        theirs(&tlog::prove_tree(size, from, &stored).unwrap())
                    );
                }
            }
        }
    }
    // The files are the tiles: level 1 holds the heads of the full tiles of level 0.
    let level1 = files
        .beside(tiles::TREE_DIR, level_file_name)
        .unwrap()
        .segment(1)
        .unwrap();
    assert_eq!(level1.len() as u64, (n / 256) * HASH_LEN);
    assert_eq!(level1[..32], tree.root(256).unwrap());
}

#[test]
fn an_abandoned_append_leaves_the_tree_as_it_was_and_its_tail_is_cut_at_the_next_commit() {
    let files = MemFiles::new();
    let tree = tree_on(&files);
    let all = leaves(40_000);
    push_all(&tree, &all[..300]);
    let before = tree.root(300).unwrap();
    let mut appender = tree.appender();
    for leaf in &all[300..] {
        appender.push(*leaf).unwrap();
    }
    drop(appender);
    assert_eq!(tree.size(), 300);
    assert_eq!(tree.root(300).unwrap(), before);
    push_all(&tree, &all[300..301]);
    let level0 = files
        .beside(tiles::TREE_DIR, level_file_name)
        .unwrap()
        .segment(0)
        .unwrap();
    assert_eq!(
        level0.len() as u64,
        301 * HASH_LEN,
        "the abandoned tail is cut"
    );
    let stored = Stored::of(&all[..301]);
    assert_eq!(
        tree.root(301).unwrap(),
        tlog::tree_hash(301, &stored).unwrap().0
    );
}

#[test]
fn proof_text_is_one_base64_hash_per_line_and_parses_strictly() {
    let proof = Proof(vec![[0; 32], [0xff; 32]]);
    let text = proof.to_text();
    assert_eq!(
        text,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n//////////////////////////////////////////8=\n"
    );
    assert_eq!(Proof::parse(&text), Ok(proof));
    assert_eq!(Proof::parse(""), Ok(Proof::default()));
    assert_eq!(
        Proof::parse(&text[..text.len() - 1]),
        Err(ProofTextError::NoFinalNewline)
    );
    for bad in [
        text.replace('\n', "\r\n"),
        format!("{text}\n"),
        format!(" {text}"),
        text.replacen("AAAA", "AAA", 1),
        text.replace('=', ""),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".to_string(),
    ] {
        assert!(
            matches!(Proof::parse(&bad), Err(ProofTextError::NotAHash { .. })),
            "{bad:?}"
        );
    }
    // No tree of up to 2^64 leaves has a longer proof than 63 hashes.
    let longest = Proof(vec![[1; 32]; 63]).to_text();
    assert_eq!(Proof::parse(&longest).map(|p| p.0.len()), Ok(63));
    assert_eq!(
        Proof::parse(&format!("{longest}{}", &text[..45])),
        Err(ProofTextError::TooMany)
    );
}

/// The bytes of entry `i` of the test logs: a record that starts with the entry tag (what it
/// holds does not matter to the tree).
fn entry(i: u64) -> Vec<u8> {
    let mut bytes = crate::entry::ENTRY_TAG.to_vec();
    bytes.extend_from_slice(&i.to_be_bytes());
    bytes
}

/// Appends entries `from..to` to `log` directly, as the log's own appender does, with no tree.
fn extend_log(log: &Log<MemFiles>, from: u64, to: u64) {
    let mut appender = log.appender().unwrap();
    for i in from..to {
        appender.push(&entry(i)).unwrap();
    }
    let head = crate::log::Head {
        seq: to - 1,
        hash: [0; 32],
        recorded_at: 0,
    };
    appender.commit(head).unwrap();
}

fn reference_root(n: u64) -> Hash {
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&entry(i))).collect();
    shape::tests::reference(&leaves)
}

fn tree_files(files: &MemFiles) -> MemFiles {
    files.beside(tiles::TREE_DIR, level_file_name).unwrap()
}

#[test]
fn a_reader_computes_what_the_tree_files_lack_and_writes_nothing() {
    let files = MemFiles::new();
    let log = Log::open(files.clone()).unwrap();
    extend_log(&log, 0, 300);
    let reader = Tree::open(&log, false).unwrap();
    assert_eq!(reader.size(), 300);
    assert_eq!(reader.root(300).unwrap(), reference_root(300));
    assert_eq!(
        tree_files(&files).snapshot(),
        (None, Vec::new()),
        "a reader writes nothing"
    );

    // A writer builds the files.
    drop(Tree::open(&log, true).unwrap());
    let built = tree_files(&files).snapshot();
    let lengths = |levels: &[(u64, Vec<u8>)]| -> Vec<usize> {
        levels.iter().map(|(_, bytes)| bytes.len()).collect()
    };
    assert_eq!(lengths(&built.1), [300 * 32, 32], "levels 0 and 1");
    // Entries the files lack (a log appended to by a release without the tree): a reader
    // computes their hashes in memory, a writer extends the files.
    extend_log(&log, 300, 310);
    let reader = Tree::open(&log, false).unwrap();
    assert_eq!(reader.root(310).unwrap(), reference_root(310));
    assert_eq!(reader.root(257).unwrap(), reference_root(257));
    assert_eq!(
        tree_files(&files).snapshot(),
        built,
        "a reader writes nothing"
    );
    let writer = Tree::open(&log, true).unwrap();
    assert_eq!(writer.root(310).unwrap(), reference_root(310));
    assert_eq!(lengths(&tree_files(&files).snapshot().1), [310 * 32, 32]);
}

#[test]
fn hashes_past_the_log_are_not_counted_and_cut_at_the_next_commit_and_short_files_are_extended() {
    let files = MemFiles::new();
    let log = Log::open(files.clone()).unwrap();
    extend_log(&log, 0, 600);
    drop(Tree::open(&log, true).unwrap());
    // The same tree files beside a log of the first 100 of those entries: what an append stopped
    // after it made its tree hashes durable and before it committed the log's head leaves.
    let short = MemFiles::new();
    let short_log = Log::open(short.clone()).unwrap();
    extend_log(&short_log, 0, 100);
    for (level, bytes) in tree_files(&files).snapshot().1 {
        tree_files(&short).set_segment(level, bytes);
    }
    let stored = tree_files(&short).snapshot();
    let reader = Tree::open(&short_log, false).unwrap();
    assert_eq!(reader.size(), 100);
    assert_eq!(reader.root(100).unwrap(), reference_root(100));
    let writer = Tree::open(&short_log, true).unwrap();
    assert_eq!(writer.root(100).unwrap(), reference_root(100));
    assert_eq!(
        tree_files(&short).snapshot(),
        stored,
        "opening cuts nothing"
    );
    let mut appender = writer.appender();
    appender.push(leaf_hash(&entry(100))).unwrap();
    appender.commit().unwrap();
    assert_eq!(writer.root(101).unwrap(), reference_root(101));
    let (_, levels) = tree_files(&short).snapshot();
    assert_eq!(
        levels,
        vec![(
            0,
            tree_files(&files).segment(0).unwrap()[..101 * 32].to_vec()
        )],
        "the next commit cuts what lay past it"
    );

    // A level file cut short: the writer extends it from the log.
    let mut level0 = tree_files(&files).segment(0).unwrap();
    level0.truncate(1000);
    tree_files(&files).set_segment(0, level0);
    let writer = Tree::open(&log, true).unwrap();
    assert_eq!(writer.root(600).unwrap(), reference_root(600));
    assert_eq!(tree_files(&files).segment(0).unwrap().len(), 600 * 32);
}
