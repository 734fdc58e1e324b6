//! Which subtrees RFC 6962 / RFC 9162 (section 2.1) make a tree head and its proofs of: the
//! head of any size, the inclusion path of a leaf and the consistency path between two sizes,
//! each built from the hashes of complete, aligned subtrees that the caller supplies.
//!
//! It knows the shape of the tree and nothing of where hashes are kept; it never verifies a
//! proof ([`super::proof`] does, by the RFC's other algorithm).

use crate::merkle::{node_hash, Hash};
use sha2::{Digest, Sha256};

/// The hash of the complete subtree of height `height` whose leaves start at
/// `index << height`; may fail as its store does.
pub trait Subtrees {
    type Error;
    fn subtree(&self, height: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The head of the empty tree: SHA-256 of nothing (RFC 6962 section 2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two below `n` (`n` > 1): where RFC 6962 splits a tree of `n` leaves.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:hi]) for a range that RFC 6962's recursion reaches: `lo` is a multiple of a power of
/// two at least `hi - lo`, so that every power-of-two range on the way down is one subtree.
pub fn range_hash<S: Subtrees>(lo: u64, hi: u64, s: &S) -> Result<Hash, S::Error> {
    let len = hi - lo;
    if len.is_power_of_two() {
        let height = len.trailing_zeros();
        return s.subtree(height, lo >> height);
    }
    let k = split(len);
    Ok(node_hash(
        &range_hash(lo, lo + k, s)?,
        &range_hash(lo + k, hi, s)?,
    ))
}

/// The head of the tree of the first `size` leaves.
pub fn root<S: Subtrees>(size: u64, s: &S) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, s)
}

/// PATH(index, D[0:size]): the inclusion proof of leaf `index` (< `size`), nearest sibling first.
pub fn inclusion<S: Subtrees>(index: u64, size: u64, s: &S) -> Result<Vec<Hash>, S::Error> {
    let (mut lo, mut hi) = (0, size);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            path.push(range_hash(lo + k, hi, s)?);
            hi = lo + k;
        } else {
            path.push(range_hash(lo, lo + k, s)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// PROOF(from, D[0:to]): the consistency proof from size `from` to size `to`
/// (0 < `from` <= `to`), innermost hash first.
pub fn consistency<S: Subtrees>(from: u64, to: u64, s: &S) -> Result<Vec<Hash>, S::Error> {
    let (mut lo, mut hi) = (0, to);
    // SUBPROOF's flag: whether D[lo:hi]'s left edge is the old tree's, whose head the verifier has.
    let mut known = true;
    let mut path = Vec::new();
    while from != hi {
        let k = split(hi - lo);
        if from <= lo + k {
            path.push(range_hash(lo + k, hi, s)?);
            hi = lo + k;
        } else {
            path.push(range_hash(lo, lo + k, s)?);
            lo += k;
            known = false;
        }
    }
    if !known {
        path.push(range_hash(lo, hi, s)?);
    }
    path.reverse();
    Ok(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::merkle::leaf_hash;
    use std::convert::Infallible;

    /// A tree kept as its leaf hashes in memory; subtrees are hashed by RFC 6962's recursion.
    pub(crate) struct Leaves(pub Vec<Hash>);

    impl Subtrees for Leaves {
        type Error = Infallible;
        fn subtree(&self, height: u32, index: u64) -> Result<Hash, Infallible> {
            let lo = (index << height) as usize;
            Ok(reference(&self.0[lo..lo + (1 << height)]))
        }
    }

    /// MTH by the definition, for any list of leaf hashes.
    pub(crate) fn reference(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference(&leaves[..k]), &reference(&leaves[k..]))
            }
        }
    }

    pub(crate) fn leaves(n: u64) -> Leaves {
        Leaves((0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect())
    }

    #[test]
    fn roots_agree_with_the_definition_and_with_the_batch_tree() {
        for n in 0..=70u64 {
            let l = leaves(n);
            let Ok(root) = root(n, &l);
            assert_eq!(root, reference(&l.0), "n={n}");
            if n > 0 {
                assert_eq!(root, crate::merkle::root_and_proofs(&l.0).0, "n={n}");
            }
        }
    }

    #[test]
    fn inclusion_paths_are_the_batch_trees_audit_paths() {
        for n in 1..=40u64 {
            let l = leaves(n);
            let (_, proofs) = crate::merkle::root_and_proofs(&l.0);
            for i in 0..n {
                let Ok(path) = inclusion(i, n, &l);
                assert_eq!(path, proofs[i as usize], "n={n} i={i}");
            }
        }
    }
}
