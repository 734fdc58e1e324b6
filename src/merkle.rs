//! RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256: leaf and node hashes, the tree head of a
//! list of leaves, inclusion proofs for every leaf, and root recomputation from a proof.
//!
//! It seals a batch of statements under one signature (docs/FORMAT.md, "Seal"), and its leaf and
//! node hashes and inclusion-proof check are those of the log-wide tree too ([`crate::tree`]). It
//! knows nothing of entries, keys or storage and must never hash anything but the bytes it is
//! given.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`: the hash of one leaf (RFC 6962 section 2.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Walks the tree of `leaf_hashes` from the leaves up and returns its head; at every node that
/// gets a sibling, `sibling(leaves, hash)` is told the range of leaves under the node and the
/// sibling's hash, in the order their audit paths list them (nearest first).
///
/// RFC 6962 splits a tree of n leaves at the largest power of two below n, which is the same as
/// pairing nodes left to right level by level and promoting a lone last node unchanged.
fn walk(leaf_hashes: &[Hash], mut sibling: impl FnMut((usize, usize), &Hash)) -> Hash {
    assert!(
        !leaf_hashes.is_empty(),
        "a Merkle tree needs at least one leaf"
    );
    let mut level: Vec<Hash> = leaf_hashes.to_vec();
    // `spans[i]` is the range of leaves under node i of the current level.
    let mut spans: Vec<(usize, usize)> = (0..leaf_hashes.len()).map(|i| (i, i + 1)).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut next_spans = Vec::with_capacity(next.capacity());
        for pair in 0..level.len() / 2 {
            let (left, right) = (2 * pair, 2 * pair + 1);
            sibling(spans[left], &level[right]);
            sibling(spans[right], &level[left]);
            next.push(node_hash(&level[left], &level[right]));
            next_spans.push((spans[left].0, spans[right].1));
        }
        if level.len() % 2 == 1 {
            next.push(level[level.len() - 1]);
            next_spans.push(spans[level.len() - 1]);
        }
        level = next;
        spans = next_spans;
    }
    level[0]
}

/// The Merkle tree head of `leaf_hashes` and, for each leaf, its inclusion proof (audit path,
/// nearest sibling first). Linear in the number of leaves apart from copying the paths.
///
/// Panics on an empty list: an empty batch is never sealed.
pub fn root_and_proofs(leaf_hashes: &[Hash]) -> (Hash, Vec<Vec<Hash>>) {
    let mut proofs = vec![Vec::new(); leaf_hashes.len()];
    let root = walk(leaf_hashes, |leaves, hash| {
        for proof in &mut proofs[leaves.0..leaves.1] {
            proof.push(*hash);
        }
    });
    (root, proofs)
}

/// The tree head of `leaf_hashes` and, for each leaf, whether `proofs(i)` is exactly its
/// inclusion proof in that tree: for a whole batch, the verdict of
/// [`root_from_inclusion_proof`] for every leaf (a proof gives the tree head if and only if it is
/// the leaf's own audit path), with one hash per node instead of one per step of every proof.
///
/// Panics on an empty list, as [`root_and_proofs`] does.
pub fn root_and_proof_checks<'p>(
    leaf_hashes: &[Hash],
    proofs: impl Fn(usize) -> &'p [Hash],
) -> (Hash, Vec<bool>) {
    let n = leaf_hashes.len();
    let mut fits = vec![true; n];
    // How many hashes of each leaf's proof have been matched so far.
    let mut matched = vec![0usize; n];
    // Where `root_and_proofs` appends a sibling to a proof, this compares.
    let root = walk(leaf_hashes, |leaves, sibling| {
        for leaf in leaves.0..leaves.1 {
            fits[leaf] &= proofs(leaf).get(matched[leaf]) == Some(sibling);
            matched[leaf] += 1;
        }
    });
    for (leaf, fit) in fits.iter_mut().enumerate() {
        *fit &= proofs(leaf).len() == matched[leaf];
    }
    (root, fits)
}

/// Recomputes the tree head from a leaf hash, its index, the tree size and its inclusion proof
/// (RFC 9162 section 2.1.3.2). `None` if the proof has the wrong length for that index and size.
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
) -> Option<Hash> {
    if index >= tree_size {
        return None;
    }
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recursive definition of RFC 6962 section 2.1, as a reference for the iterative code.
    fn reference_root(leaves: &[Hash]) -> Hash {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
    }

    #[test]
    fn every_proof_recomputes_the_reference_root() {
        for n in 1..=70usize {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| leaf_hash(&(i as u32).to_be_bytes()))
                .collect();
            let (root, proofs) = root_and_proofs(&leaves);
            assert_eq!(root, reference_root(&leaves), "n={n}");
            for (i, proof) in proofs.iter().enumerate() {
                let got = root_from_inclusion_proof(&leaves[i], i as u64, n as u64, proof);
                assert_eq!(got, Some(root), "n={n} i={i}");
                if n > 1 {
                    let wrong = root_from_inclusion_proof(
                        &leaves[i],
                        ((i + 1) % n) as u64,
                        n as u64,
                        proof,
                    );
                    assert_ne!(
                        wrong,
                        Some(root),
                        "n={n} i={i} accepted under the wrong index"
                    );
                }
            }
        }
    }

    /// For every leaf, the batch check says what recomputing the root from its proof says: yes
    /// for its own proof, no for a proof with one hash changed, cut short or one too long.
    #[test]
    fn batch_proof_checks_agree_with_recomputing_each_root() {
        for n in 1..=40usize {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| leaf_hash(&(i as u32).to_be_bytes()))
                .collect();
            let (root, proofs) = root_and_proofs(&leaves);
            let (checked_root, fits) = root_and_proof_checks(&leaves, |i| &proofs[i]);
            assert_eq!(checked_root, root);
            assert!(fits.iter().all(|&f| f), "n={n}");
            for bad in 0..n {
                let mut altered = proofs.clone();
                match bad % 3 {
                    0 if !altered[bad].is_empty() => altered[bad][0][0] ^= 1,
                    1 if !altered[bad].is_empty() => {
                        altered[bad].pop();
                    }
                    _ => altered[bad].push([7; 32]),
                }
                let (_, fits) = root_and_proof_checks(&leaves, |i| &altered[i]);
                for (i, fit) in fits.iter().enumerate() {
                    let recomputed =
                        root_from_inclusion_proof(&leaves[i], i as u64, n as u64, &altered[i]);
                    assert_eq!(*fit, recomputed == Some(root), "n={n} bad={bad} i={i}");
                }
            }
        }
    }

    #[test]
    fn empty_tree_leaf_hash_matches_rfc6962_known_answer() {
        // SHA-256 of the single byte 0x00 (the hash of an empty leaf).
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
